"""Item 10: ids never come from the ``random`` module's state, which the application controls.

With ids from ``random``, an app that calls ``random.seed(N)`` got the same model and
assessment ids on every run (the second ``autolog demo`` in a folder crashed on a UNIQUE
constraint; two seeded processes overwrote each other's feedback), and the span-id counter
started from the same value in every process seeded before importing autolog.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, random
    random.seed(7)  # before autolog is imported, as an app seeding at start-up does
    from autolog._tracing.ids import new_span_id
    from autolog.entities.ids import new_assessment_id, new_model_id
    random.seed(7)
    print(json.dumps([new_model_id(), new_assessment_id(), new_span_id()]))
""")


def _ids_of_a_seeded_process() -> list[str]:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60,
                         check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_processes_seeding_random_alike_get_different_ids() -> None:
    first, second = _ids_of_a_seeded_process(), _ids_of_a_seeded_process()
    assert all(a != b for a, b in zip(first, second, strict=True)), (first, second)


def test_a_seeded_app_logs_distinct_models_and_feedback(store: object) -> None:
    import random

    import autolog

    random.seed(3)
    first = autolog.create_external_model(name="app")
    random.seed(3)
    second = autolog.create_external_model(name="app")
    assert first.model_id != second.model_id
    with autolog.start_span("s") as span:
        pass
    assert autolog.flush(5) is True
    random.seed(3)
    autolog.log_feedback(span.trace_id, "a", 1)
    random.seed(3)
    autolog.log_feedback(span.trace_id, "b", 2)
    assert sorted(a.name for a in autolog.get_trace(span.trace_id).info.assessments) == ["a", "b"]
