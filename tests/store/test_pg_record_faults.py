"""A record PostgreSQL refuses (a constraint) is the record's fault: the exporter says ``rejected`` (the
pipeline bisects and quarantines it), as it does for SQLite, not "down" (which would spool it for ever)."""

from __future__ import annotations

from typing import Any

import pytest

from autolog._export.exporter import StoreExporter
from autolog._store.records import RECORD_FIELDS
from autolog._store.stores import open_store


def _record(trace_id: str, state: str | None) -> tuple[Any, ...]:
    values: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    values.update(trace_id=trace_id, experiment_id="0", name="r", request_time=1, execution_duration=2, state=state,
                  tags=(), metadata=(), spans=(("s1", None, "r", "CHAIN", "OK", 1, 2, '{"inputs": 1}'),))
    return tuple(values[f] for f in RECORD_FIELDS)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_constraint_violation_is_rejected_not_down(kind: str, request: pytest.FixtureRequest, tmp_path: Any) -> None:
    uri = request.getfixturevalue("pg_uri") if kind == "postgres" else f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(uri)
    exporter = StoreExporter(store)
    assert exporter.export([_record("tr-good", "OK")], {}).ok
    result = exporter.export([_record("tr-bad", None)], {})  # traces.state is NOT NULL
    assert not result.ok and result.rejected and not result.retryable, result
    assert store.count_traces() == 1
    store.close()
