"""``autolog db text-index``: the opt-in trigram index of span contents on a PostgreSQL store (trace.text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

import autolog
from autolog import cli
from autolog._store.pg_schema import TEXT_INDEX
from autolog._store.records import RECORD_FIELDS
from autolog._store.stores import open_store


def _record(i: int) -> tuple[Any, ...]:
    values: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    content = json.dumps({"inputs": {"question": f"customer {i} asks about {'a refund' if i == 7 else 'shipping'}"}})
    values.update(trace_id=f"tr-{i:05d}", experiment_id="0", name="agent", request_time=1_000 + i, state="OK",
                  tags=(), metadata=(), spans=(("s0", None, "agent", "AGENT", "OK", 1, 2, content),))
    return tuple(values[f] for f in RECORD_FIELDS)


def _index(uri: str) -> tuple[bool, str] | None:
    with psycopg.connect(uri) as conn:
        row = conn.execute("SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c"
                           " ON c.oid = i.indexrelid WHERE c.relname = %s", (TEXT_INDEX,)).fetchone()
    return None if row is None else (bool(row[0]), str(row[1]))


def test_text_index_is_made_used_and_dropped(pg_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(pg_uri)
    store.write_records([_record(i) for i in range(300)])
    store.close()
    assert _index(pg_uri) is None  # not part of the schema: writers do not pay for it unasked

    assert cli.main(["db", "text-index", "--tracking-uri", pg_uri]) == 0
    assert capsys.readouterr().out.strip() == "text index created"
    valid, definition = _index(pg_uri) or (False, "")
    assert valid and "gin (content gin_trgm_ops)" in definition
    assert cli.main(["db", "text-index", "--tracking-uri", pg_uri]) == 0
    assert capsys.readouterr().out.strip() == "text index already there"

    client = autolog.Client(pg_uri)
    for f in ("trace.text LIKE '%a refund%'", "trace.text ILIKE '%A REFUND%'", "trace.text RLIKE 'refun+d'"):
        assert [t.info.trace_id for t in client.search_traces(filter_string=f)] == ["tr-00007"], f
    with psycopg.connect(pg_uri) as conn:  # the planner can read it (small tables prefer a scan unless told)
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN SELECT 1 FROM spans WHERE content LIKE '%a refund%'"))
    assert TEXT_INDEX in plan

    assert cli.main(["db", "text-index", "--drop", "--tracking-uri", pg_uri]) == 0
    assert capsys.readouterr().out.strip() == "text index dropped"
    assert _index(pg_uri) is None
    assert [t.info.trace_id for t in client.search_traces(filter_string="trace.text LIKE '%a refund%'")] == [
        "tr-00007"]
    client.shutdown()


def test_text_index_on_sqlite_says_why_not(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"sqlite:///{tmp_path / 'a.db'}"
    maker = autolog.Client(uri)
    maker.count_traces()
    maker.shutdown()
    assert cli.main(["db", "text-index", "--tracking-uri", uri]) == 2
    assert "works on a PostgreSQL store" in capsys.readouterr().err
