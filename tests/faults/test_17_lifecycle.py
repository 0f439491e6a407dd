"""Item 17: shutdown is for good, a trace straddling configure() is kept, and options are checked.

A trace that began before ``configure()`` and ended after it restarted the old exporter's
worker, which then never stopped (two exporter threads); ``max_batch_size=0`` killed the
worker with a ``ValueError`` from ``range()``. Now nothing restarts a worker after shutdown:
a late trace goes to the client that replaced it, or to the spool; shutdown joins the
worker; bad options are refused where they are given, before any store is created.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import autolog
from tests.faults.spools import spool_lines, stored_ids


def _exporter_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "autolog-exporter" and t.is_alive())


def _exporters() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "autolog-exporter" and t.is_alive()}


def test_a_trace_straddling_configure_goes_to_the_new_client(tmp_path: Path) -> None:
    old_db, new_db = tmp_path / "old.db", tmp_path / "new.db"
    others = _exporters()  # workers of clients other tests left open: not this test's concern
    old = autolog.configure(f"sqlite:///{old_db}")
    with autolog.start_span("before"):
        pass
    with autolog.start_span("straddling"):
        new = autolog.configure(f"sqlite:///{new_db}")
    assert new.flush(10) and not old._pipeline._worker.is_alive()  # type: ignore[union-attr]
    assert [t.info.tags["mlflow.traceName"] for t in new.search_traces()] == ["straddling"]
    assert _exporters() - others == {new._pipeline._worker}, "configure() leaves one worker: the new client's"
    assert len(stored_ids(old_db)) == 1, "no partial copy of the straddling trace in the old store"


def test_after_shutdown_nothing_restarts_and_late_traces_are_spooled_for_the_next_reader(tmp_path: Path) -> None:
    db = tmp_path / "late.db"
    client = autolog.Client(f"sqlite:///{db}")
    root = client.start_trace("early")
    client.end_trace(root.trace_id)
    assert client.flush(10)
    threads = _exporter_threads()
    client.shutdown(5)
    assert _exporter_threads() == threads - 1, "shutdown joins the worker"
    late = client.start_trace("late")  # after shutdown: no worker restarts, the trace goes to the spool
    client.end_trace(late.trace_id)
    assert _exporter_threads() == threads - 1
    assert spool_lines(Path(str(db) + ".spool")) == 1
    reader = autolog.Client(f"sqlite:///{db}")  # the spool is unlocked: the next reader replays it
    assert sorted(t.info.tags["mlflow.traceName"] for t in reader.search_traces()) == ["early", "late"]
    reader.shutdown(5)


@pytest.mark.parametrize(("option", "value"), [("max_batch_size", 0), ("max_queue_size", -1),
                                               ("schedule_delay_seconds", float("nan")), ("max_content_chars", 0),
                                               ("max_batch_size", 2.5)])
def test_bad_options_are_refused_before_anything_is_created(tmp_path: Path, option: str, value: object) -> None:
    db = tmp_path / "opts.db"
    with pytest.raises(autolog.InvalidArgumentError, match=option):
        autolog.configure(f"sqlite:///{db}", **{option: value})  # type: ignore[arg-type]
    assert not db.exists()
