"""A tag, metadata or assessment clause has two plans (``trace_filter``'s ``many``): its matches collected through
the value's index, or checked per trace along the order's index. A search picks one by counting the matches up
to a bound; both must find the same traces, on both backends, for common and rare values alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from autolog._store.records import RECORD_FIELDS
from autolog._store.stores import open_store
from autolog._store.trace_filter import compile_trace_filter
from autolog.entities.assessment import Assessment

TRACES = 2_400  # above the bound of a 100-trace page (1,000 matches), so 'common' values take the per-trace plan
RARE = (5, 777, 2_001)


def _record(i: int) -> tuple[Any, ...]:
    values: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    tags = [("env", "prod" if i % 2 else "dev")] + ([("release", "canary")] if i in RARE else [])
    metadata = [("tenant", "acme" if i % 2 else f"t{i}")] + ([("flag", "on")] if i in RARE else [])
    values.update(trace_id=f"tr-{i:05d}", experiment_id="0", name="agent", request_time=10_000 + i,
                  execution_duration=i, state="ERROR" if i % 7 == 0 else "OK", tags=tuple(tags),
                  metadata=tuple(metadata), spans=(("s0", None, "agent", "AGENT", "OK", 1, 2, "{}"),))
    return tuple(values[f] for f in RECORD_FIELDS)


def _feedback(i: int) -> list[Assessment]:
    out = [Assessment("helpful", i % 3 != 0, trace_id=f"tr-{i:05d}")]  # true on 2 of 3 traces
    if i in RARE:
        out.append(Assessment("rating", "bad", trace_id=f"tr-{i:05d}"))
    if i % 400 == 1:
        out.append(Assessment("rating", "true", trace_id=f"tr-{i:05d}"))  # the string, not the boolean
        out.append(Assessment("score", 0.5, trace_id=f"tr-{i:05d}"))
        out.append(Assessment("shape", [1, 2], trace_id=f"tr-{i:05d}"))
        out.append(Assessment("tiny", 1e-05, trace_id=f"tr-{i:05d}"))
    if i % 400 == 2:
        out.append(Assessment("shape", "flat", trace_id=f"tr-{i:05d}"))
        out.append(Assessment("tiny", None, trace_id=f"tr-{i:05d}"))  # a JSON null: no text, neither = nor !=
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One filled store per backend for the module (writing 2,400 traces and their feedback takes seconds)."""
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path_factory.mktemp('plans') / 'plans.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        uri = server.uri(server.create_database())
    store = open_store(uri)
    store.write_records([_record(i) for i in range(TRACES)])
    with store.connections.session("logging feedback", write=True) as conn:
        for i in range(TRACES):
            for a in _feedback(i):
                store.insert_assessment(conn, a)
    yield store
    store.close()


def _ids(pred: Any) -> set[str]:
    return {f"tr-{i:05d}" for i in range(TRACES) if pred(i)}


CASES = [
    ("tags.env = 'prod'", _ids(lambda i: i % 2 == 1)),
    ("tags.release = 'canary'", _ids(lambda i: i in RARE)),
    ("tags.env IN ('dev', 'nope')", _ids(lambda i: i % 2 == 0)),
    ("tags.env = 'prod' AND status = 'ERROR'", _ids(lambda i: i % 2 == 1 and i % 7 == 0)),
    ("tags.env IS NOT NULL", _ids(lambda i: True)),
    ("tags.release IS NULL", _ids(lambda i: i not in RARE)),
    ("metadata.tenant = 'acme'", _ids(lambda i: i % 2 == 1)),
    ("metadata.flag = 'on'", _ids(lambda i: i in RARE)),
    ("feedback.helpful = 'true'", _ids(lambda i: i % 3 != 0)),
    ("feedback.helpful = 'false'", _ids(lambda i: i % 3 == 0)),
    ("feedback.helpful != 'true'", _ids(lambda i: i % 3 == 0)),
    ("feedback.rating = 'bad'", _ids(lambda i: i in RARE)),
    ("feedback.rating = 'true'", set()),  # a boolean match: the string "true" is not one
    ("feedback.rating IN ('true', 'bad')", _ids(lambda i: i in RARE or i % 400 == 1)),
    ("feedback.score = '0.5'", _ids(lambda i: i % 400 == 1)),  # a number, by its text
    ("feedback.score > 0.25", _ids(lambda i: i % 400 == 1)),
    ("feedback.rating IS NULL", _ids(lambda i: i not in RARE and i % 400 != 1)),
    ("feedback.helpful = 'nope'", set()),
    # = and != are complements among values with a text, whatever spelling the filter uses for the value.
    ("feedback.shape = '[1,2]'", _ids(lambda i: i % 400 == 1)),
    ("feedback.shape != '[1,2]'", _ids(lambda i: i % 400 == 2)),
    ("feedback.shape NOT IN ('[1, 2]', 'x')", _ids(lambda i: i % 400 == 2)),
    ("feedback.tiny = '0.00001'", _ids(lambda i: i % 400 == 1)),
    ("feedback.tiny != '0.00001'", set()),
    ("feedback.tiny IS NOT NULL", _ids(lambda i: i % 400 in (1, 2))),
    ("feedback.score = '0.50'", _ids(lambda i: i % 400 == 1)),
]


@pytest.mark.parametrize(("filter_string", "expected"), CASES, ids=[c[0] for c in CASES])
def test_both_plans_find_the_same_traces(db: Any, filter_string: str, expected: set[str]) -> None:
    newest = sorted(expected, reverse=True)  # ids follow request_time here
    assert db.search_trace_ids(None, filter_string, None, 100) == newest[:100]
    assert db.count_traces(None, filter_string) == len(expected)
    d = db.connections.dialect
    for per_row in (False, True):
        asked: list[str] = []

        def many(sql: str, params: list[object], per_row: bool = per_row, asked: list[str] = asked) -> bool:
            asked.append(sql)
            return per_row

        where, params = compile_trace_filter(filter_string, d=d, many=many)
        with db.connections.session("testing a plan") as conn:
            found = {r[0] for r in conn.execute(f"SELECT t.trace_id FROM traces AS t WHERE {where}", params)}
        assert found == expected, (per_row, where)
        # Every tag, metadata and assessment clause but IS NULL asks; the per-trace form is then an EXISTS.
        kinds = ("tags.", "metadata.", "feedback.")
        if any(k in filter_string for k in kinds) and "IS NULL" not in filter_string:
            assert asked and ("EXISTS" in where) == per_row


def test_a_common_value_is_checked_per_trace_and_a_rare_one_collected(db: Any) -> None:
    """What the store's own count decides, seen in the SQL it runs (the speed is bench_team's to show)."""
    sent: list[str] = []
    connections = db.connections
    original = connections.session

    class Recording:
        def __init__(self, conn: Any) -> None:
            self.conn = conn

        def execute(self, sql: str, parameters: Any = None) -> Any:
            sent.append(sql)
            return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)

    from contextlib import contextmanager

    @contextmanager
    def session(action: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with original(action, *args, **kwargs) as conn:
            yield Recording(conn)

    connections.session = session
    try:
        for filter_string, per_row in (("tags.env = 'prod'", True), ("tags.release = 'canary'", False),
                                       ("feedback.helpful = 'true'", True), ("feedback.rating = 'bad'", False)):
            sent.clear()
            db.search_trace_ids(None, filter_string, None, 100)
            search = next(s for s in sent if s.startswith("SELECT t.trace_id"))
            assert ("EXISTS" in search) == per_row, (filter_string, search)
    finally:
        del connections.session
    assert json.dumps(db.search_trace_ids(None, "tags.env = 'prod'", None, 2)) == '["tr-02399", "tr-02397"]'


def test_a_value_nested_past_the_json_parser_is_a_plain_string(db: Any) -> None:
    assert db.search_trace_ids(None, "feedback.shape = '" + "[" * 1_000 + "'", None, 10) == []
