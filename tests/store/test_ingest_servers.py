"""Two ingest servers (two processes, each with its own store object) given parts of the same traces at the same
moment: every trace ends whole, its summary row made from all its spans (``store.merge_lock``), on both backends."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

import autolog
from autolog._server.otlp_ingest import ingest
from autolog._store.stores import open_store
from tests.server.test_otlp_ingest import T0, request, span

TRACES = 120


def _trace(i: int) -> bytes:
    return (i + 1).to_bytes(16, "big")  # an all-zero id is invalid in OTLP


def _ingest_part(uri: str, part: str, barrier: Any) -> None:
    """One server: for each trace, wait for the other, then ingest its part (the root, or the child)."""
    store = open_store(uri)
    root, child = bytes.fromhex("aa00000000000001"), bytes.fromhex("bb00000000000002")
    for i in range(TRACES):
        if part == "root":
            message = request(span("agent", root, trace=_trace(i), end=T0 + 9_000_000))
        else:
            message = request(span("llm", child, root, trace=_trace(i), start=T0 + 1_000_000,
                                   openinference__span__kind="LLM"))
        barrier.wait(60)
        ingest(store, message, "0")
    store.close()


def test_two_servers_merge_the_parts_of_one_trace(backend_uri: str) -> None:
    maker = autolog.Client(backend_uri)
    maker.count_traces()  # the schema made once, before both servers open it
    maker.shutdown()  # no client left behind: stats()["destinations"] lists live ones
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    servers = [context.Process(target=_ingest_part, args=(backend_uri, part, barrier)) for part in ("root", "child")]
    for p in servers:
        p.start()
    for p in servers:
        p.join(200)
    assert [p.exitcode for p in servers] == [0, 0]
    client = autolog.Client(backend_uri)
    traces = client.search_traces(max_results=1_000)
    assert len(traces) == TRACES
    summaries = {(t.info.state, t.info.tags.get("mlflow.traceName"), t.info.execution_duration) for t in traces}
    assert summaries == {("OK", "agent", 9)}  # no trace's row was written from one part alone
    assert {len(t.data.spans) for t in traces} == {2}
    client.shutdown()


def test_a_merge_lock_held_too_long_is_a_busy_store(backend_uri: str, monkeypatch: Any) -> None:
    """Another process stuck inside its merge: this one gives up after the wait (ingest then answers 503)."""
    from autolog._errors import StoreBusyError
    from autolog._store import postgres, sqlite

    monkeypatch.setattr(sqlite, "MERGE_LOCK_WAIT_SECONDS", 0.2)
    monkeypatch.setattr(postgres, "MERGE_LOCK_WAIT", "200ms")
    holder, waiter = open_store(backend_uri), open_store(backend_uri)
    with holder.merge_lock(["tr-1", "tr-2"]):
        with pytest.raises(StoreBusyError), waiter.merge_lock(["tr-2", "tr-3"]):
            pass
        if backend_uri.startswith("postgresql"):  # other traces are not held up (SQLite's lock is the store's)
            with waiter.merge_lock(["tr-4"]):
                pass
    with waiter.merge_lock(["tr-2"]):  # released when the holder's block ended
        pass
    holder.close()
    waiter.close()
