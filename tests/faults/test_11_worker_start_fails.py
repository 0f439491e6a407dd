"""Item 11, the export side: a worker thread that cannot start never fails the user's call.

``enqueue`` started the worker unguarded: with ``Thread.start`` failing (Python refuses new
threads during interpreter shutdown; a process can hit its thread limit), a traced function
raised ``RuntimeError`` after computing its result. Now the failure is counted, the trace
waits in the queue, and ``flush()`` stores it on the caller's thread. The fault is real:
``threading.Thread.start`` raises, as it does at interpreter exit.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import autolog


def _cannot_start(self: threading.Thread) -> None:
    raise RuntimeError("can't create new thread at interpreter shutdown")


def test_traced_calls_return_and_flush_stores_them_on_the_callers_thread(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOLOG_RAISE_INTERNAL_ERRORS")  # as in production: swallowed and counted
    client = autolog.configure(f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setattr(threading.Thread, "start", _cannot_start)

    @autolog.trace
    def f(x: int) -> int:
        return x * 2

    before = autolog.stats()["internal_errors"]
    assert [f(i) for i in range(5)] == [0, 2, 4, 6, 8]
    assert autolog.stats()["internal_errors"] > before
    assert client.flush(10)
    monkeypatch.undo()
    traces = client.search_traces(max_results=10)
    assert sorted(t.data.spans[0].outputs for t in traces) == [0, 2, 4, 6, 8]
