"""A store of real traces, versions and evaluation runs (made through the public API), and a test client of the app.

The root conftest's ``store`` fixture gives each test a fresh store as the default client; the data
here is recorded into it, and the app reads it through its own ``Client`` of the same URI.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

import autolog
from autolog._server.app import create_app
from autolog.genai.scorers import ExactMatch, scorer

SCRIPT = "<script>alert(1)</script>"
QUESTIONS = ["red?", "green?", "blue?", SCRIPT, "cyan?", "magenta?"]


@dataclass
class Recorded:
    """What the fixture recorded: ids to check the API's answers against."""

    experiment_id: str
    v1: str
    v2: str
    trace_ids: list[str] = field(default_factory=list)  # in recording order (oldest first)
    error_trace_id: str = ""
    script_trace_id: str = ""
    runs: dict[str, str] = field(default_factory=dict)  # "v1"/"v2" -> evaluation run id


@autolog.trace(span_type="RETRIEVER")
def retrieve(question: str) -> list[str]:
    return [f"doc about {question}", "another doc"]


@autolog.trace
def answer(question: str, i: int) -> str:
    docs = retrieve(question)
    with autolog.start_span("llm", span_type="CHAT_MODEL") as llm:
        llm.set_inputs({"messages": [{"role": "user", "content": question}], "docs": docs})
        usage = {"input_tokens": 10 * (i + 1), "output_tokens": 5 + i, "total_tokens": 10 * (i + 1) + 5 + i}
        llm.set_attributes({"mlflow.chat.tokenUsage": usage, "mlflow.llm.model": "gpt-4o-mini"})
        llm.set_outputs(question.upper())
    autolog.update_current_trace(tags={"env": "prod" if i % 2 else "staging", "team": "search"},
                                 session_id=f"session-{i % 2}", user="ann")
    if question == "fail":
        raise ValueError("the model is down")
    return question.upper()


@scorer
def shouts(outputs: Any) -> bool:
    return isinstance(outputs, str) and outputs.isupper()


@pytest.fixture
def recorded(store: autolog.Client) -> Recorded:
    experiment_id = autolog.set_experiment("shop").experiment_id
    v1 = autolog.create_external_model(name="bot-v1").model_id
    v2 = autolog.create_external_model(name="bot-v2").model_id
    rec = Recorded(experiment_id, v1, v2)
    for i, question in enumerate(QUESTIONS):
        with autolog.set_active_model(model_id=v1 if i % 2 == 0 else v2):
            answer(question, i)
        trace_id = autolog.get_last_active_trace_id()
        assert trace_id is not None
        rec.trace_ids.append(trace_id)
        if question == SCRIPT:
            rec.script_trace_id = trace_id
    with autolog.set_active_model(model_id=v2), pytest.raises(ValueError):
        answer("fail", len(QUESTIONS))
    rec.error_trace_id = autolog.get_last_active_trace_id() or ""
    rec.trace_ids.append(rec.error_trace_id)
    assert autolog.flush()
    autolog.log_feedback(trace_id=rec.trace_ids[0], name="helpful", value=False)
    autolog.log_feedback(trace_id=rec.trace_ids[0], name="helpful", value=True, rationale="second look")
    autolog.log_feedback(trace_id=rec.trace_ids[1], name="stars", value=4)
    assert autolog.flush()
    return rec


@pytest.fixture
def evaluated(recorded: Recorded) -> Recorded:
    """``recorded`` plus one evaluation run per version, of the same questions (v2 gets two wrong)."""
    data = [{"inputs": {"question": f"q{i}"}, "expectations": {"expected_response": f"Q{i}"}} for i in range(8)]

    def app_of(wrong: set[int]) -> Any:
        def app(question: str) -> str:
            return "nope" if int(question[1:]) in wrong else question.upper()
        return app

    for key, model_id, wrong in (("v1", recorded.v1, set()), ("v2", recorded.v2, {2, 5})):
        with autolog.set_active_model(model_id=model_id):
            result = autolog.genai.evaluate(data, [ExactMatch(name="exact"), shouts], predict_fn=app_of(wrong))
        recorded.runs[key] = result.run_id
    assert autolog.flush()
    return recorded


@pytest.fixture
def api(store: autolog.Client) -> Iterator[TestClient]:
    with TestClient(create_app(store.tracking_uri)) as client:
        yield client
