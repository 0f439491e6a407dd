"""PostgreSQL may run a query in parallel workers on a big table; autolog's SQL functions must allow that plan."""

from __future__ import annotations

import psycopg
import pytest

import autolog
from autolog.entities import Feedback


def test_a_feedback_filter_works_in_a_parallel_plan(pg_uri: str) -> None:
    client = autolog.Client(pg_uri)
    root = client.start_trace("judged")
    client.end_trace(root.trace_id, outputs="ok")
    assert client.flush()
    client.log_assessment(root.trace_id, Feedback(name="helpful", value=True))
    # The same statement as a filter's, with parallel workers forced (a small table is never planned in parallel
    # by itself): a function marked PARALLEL SAFE that starts a subtransaction fails here.
    with psycopg.connect(pg_uri.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("SET force_parallel_mode = on")
        conn.execute("SET parallel_setup_cost = 0")
        conn.execute("SET parallel_tuple_cost = 0")
        conn.execute("SET min_parallel_table_scan_size = 0")
        rows = conn.execute("SELECT trace_id FROM assessments WHERE autolog_jsonb(value) IS NOT NULL").fetchall()
    assert rows == [(root.trace_id,)]
    found = client.search_traces(filter_string="feedback.helpful = 'true'")
    assert [t.info.trace_id for t in found] == [root.trace_id]
    client.shutdown()


@pytest.mark.parametrize("function", ["autolog_jsonb", "autolog_num"])
def test_functions_declare_what_parallel_workers_may_do(pg_uri: str, function: str) -> None:
    client = autolog.Client(pg_uri)
    client.end_trace(client.start_trace("t").trace_id)
    assert client.flush()  # the first write creates the schema and its functions
    client.shutdown()
    with psycopg.connect(pg_uri.replace("postgresql+psycopg://", "postgresql://")) as conn:
        (mark,) = conn.execute("SELECT proparallel FROM pg_proc WHERE proname = %s", (function,)).fetchone() or ("",)
    # a plpgsql EXCEPTION block is a subtransaction: unsafe in a worker; a plain SQL expression is safe
    assert mark == ("u" if function == "autolog_jsonb" else "s")
