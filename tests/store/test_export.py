"""The export pipeline loses nothing: bursts, spills, fork, exit, a killed process, many writers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog._export import pipeline as _export
from autolog._export.spool import SpoolFile
from autolog._stats import STATS
from autolog._store.records import content_chars
from autolog._store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[2]


# Enough traces to wake the worker, too few for the caller to start encoding them itself.
WAKING = (_export._WAKE_AT_QUEUED + _export._ENCODE_ON_CALLER_AT) // 2


class SlowToSerialize:
    """A user object whose serialization waits for ``release``: a huge document, or one that does I/O."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def to_dict(self) -> dict[str, bool]:
        self.release.wait(30)
        return {"slow": True}


def _db(client: autolog.Client) -> Path:
    return Path(client.tracking_uri.removeprefix("sqlite:///"))


def _run_child(code: str, *args: str, wait: bool = True) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", textwrap.dedent(code), *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True)


def _make_traces(n: int, spans: int = 1) -> None:
    for i in range(n):
        with autolog.start_span("root") as root:
            root.set_inputs({"i": i})
            for _ in range(spans - 1):
                with autolog.start_span("child"):
                    pass


def _make_large_traces(n: int) -> None:
    """Traces of one span with 100,000-character inputs and outputs (the default cap per value)."""
    big = "x" * 100_000
    for _ in range(n):
        with autolog.start_span("large") as span:
            span.set_inputs(big)
            span.set_outputs(big)


def test_burst_of_20000_traces_loses_none_even_when_the_queue_overflows(store: autolog.Client) -> None:
    client = autolog.configure(store.tracking_uri, max_queue_size=2000, schedule_delay_millis=20)
    _make_traces(20_000)
    assert client.flush(120)
    stats = autolog.stats()
    assert stats["dropped"] == 0 and stats["internal_errors"] == 0
    assert stats["queued"] == 20_000
    assert stats["spooled"] > 0, "the burst was meant to overflow the queue"
    assert stats["exported"] + stats["replayed"] == 20_000
    assert SqliteStore(client.tracking_uri).count_traces() == 20_000
    assert not any(Path(str(_db(client)) + ".spool").glob("*.jsonl")), "spool files left behind"


def test_writes_are_idempotent_by_trace_id(store: autolog.Client) -> None:
    with autolog.start_span("once") as span:
        span.set_inputs(1)
    assert store.flush()
    trace_id = autolog.get_last_active_trace_id()
    assert trace_id is not None
    live = span._trace  # type: ignore[union-attr]
    store._pipeline.enqueue(live)  # the same trace sent twice, as a retry or replay would
    assert store.flush()
    assert store._store.count_traces() == 1
    assert len(store.get_trace(trace_id).data.spans) == 1


def test_store_write_failure_spools_then_replays(store: autolog.Client) -> None:
    db = _db(store)
    assert store.flush()
    blocker = sqlite3.connect(db, timeout=1, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock for a long time
    store._pipeline.retry_timeout_seconds = 3.0  # one busy wait (2 s), then a retry
    try:
        _make_traces(50)
        deadline = time.monotonic() + 30
        while autolog.stats()["spooled"] < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert autolog.stats()["spooled"] == 50
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.flush(60)
    assert store._store.count_traces() == 50
    assert autolog.stats()["dropped"] == 0
    assert autolog.stats()["export_retries"] > 0


def test_fork_child_exports_its_own_traces(store: autolog.Client) -> None:
    _make_traces(3)
    assert store.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+ warns)
        pid = os.fork()
    if pid == 0:  # child: the worker thread did not survive fork; a new one must start
        code = 1
        try:
            _make_traces(7)
            code = 0 if autolog.flush(30) and autolog.stats()["queued"] == 7 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    _make_traces(2)
    assert store.flush()
    assert store._store.count_traces() == 12


def test_exit_flushes_everything_queued(store: autolog.Client) -> None:
    _run_child("""
        import sys, autolog
        autolog.configure(sys.argv[1], schedule_delay_millis=5000)  # the worker would not wake on its own
        for i in range(3000):
            with autolog.start_span("s") as span:
                span.set_inputs(i)
    """, store.tracking_uri)
    assert store._store.count_traces() == 3000


def test_killed_process_loses_nothing_it_had_spooled(store: autolog.Client) -> None:
    db = _db(store)
    assert store.flush()
    blocker = sqlite3.connect(db, timeout=1, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # exports stall, so the child's queue overflows to its spool
    child = _run_child("""
        import sys, json, time, autolog
        autolog.configure(sys.argv[1], max_queue_size=20)
        for i in range(500):
            with autolog.start_span("s") as span:
                span.set_inputs(i)
        print(json.dumps(autolog.stats()), flush=True)
        time.sleep(600)
    """, store.tracking_uri, wait=False)
    assert isinstance(child, subprocess.Popen) and child.stdout is not None
    stats = json.loads(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    child.stdout.close()
    blocker.execute("ROLLBACK")
    blocker.close()
    assert stats["spooled"] >= 400  # the rest sat in the queue or in the stalled worker
    assert list(Path(str(db) + ".spool").glob("*.jsonl")), "the dead process's spool file should remain"
    # A new process (here: a new client) replays spools whose owner died.
    survivor = autolog.Client(store.tracking_uri)
    assert survivor.flush(60)
    deadline = time.monotonic() + 60
    while survivor._store.count_traces() < stats["spooled"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivor._store.count_traces() >= stats["spooled"]
    assert not list(Path(str(db) + ".spool").glob("*.jsonl"))
    survivor.shutdown()


def test_traces_are_written_within_the_schedule_delay_without_a_flush(store: autolog.Client) -> None:
    client = autolog.configure(store.tracking_uri, schedule_delay_millis=100)
    _make_traces(5)  # far below max_batch_size: only the delay writes them
    deadline = time.monotonic() + 10
    while client._store.count_traces() < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client._store.count_traces() == 5
    assert autolog.stats()["exported"] == 5


def test_a_full_batch_is_written_without_waiting_for_the_delay(store: autolog.Client) -> None:
    client = autolog.configure(store.tracking_uri, max_batch_size=50, schedule_delay_millis=60_000)
    _make_traces(120)
    deadline = time.monotonic() + 10
    while client._store.count_traces() < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client._store.count_traces() >= 50  # at least one full batch, long before the delay
    assert client.flush(30)
    assert client._store.count_traces() == 120


def test_large_traces_are_written_before_a_full_batch(store: autolog.Client) -> None:
    client = autolog.configure(store.tracking_uri, schedule_delay_millis=60_000)  # max_batch_size: 512
    _make_large_traces(WAKING)  # about 200,000 characters of content each: the worker's 4 M bound comes first
    deadline = time.monotonic() + 10
    while client._store.count_traces() < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client._store.count_traces() >= 20
    assert client.flush(30)
    assert client._store.count_traces() == WAKING


def test_traces_taken_at_once_are_written_in_parts_within_the_content_bound(
        store: autolog.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    client = autolog.Client(store.tracking_uri, schedule_delay_millis=60_000)
    assert client.flush()
    written: list[int] = []  # characters of span content in each write
    write_records = client._store.write_records

    def counting_write(records: Any, metadata_sets: Any = None) -> int:
        written.append(sum(content_chars(record) for record in records))
        return write_records(records, metadata_sets)

    monkeypatch.setattr(client._store, "write_records", counting_write)  # observed, then written as ever
    client.start_trace("stuck", inputs=SlowToSerialize(release)).end()  # holds the worker while large traces queue
    for i in range(_export._WAKE_AT_QUEUED - 1):
        client.start_trace("small", inputs=i).end(outputs=i)
    time.sleep(0.3)  # the worker woke, took them, and is stuck serializing the first one
    big = "x" * 100_000
    try:
        for _ in range(100):  # fewer than the caller's encoding threshold: the worker takes them all at once
            client.start_trace("large", inputs=big).end(outputs=big)
    finally:
        release.set()
    assert client.flush(60)
    one_trace = 2 * 100_100
    assert sum(written) > 100 * one_trace * 0.99
    assert max(written) < _export._WRITE_AT_CHARS + one_trace, f"a write held {max(written):,} characters"
    assert client._store.count_traces() == _export._WAKE_AT_QUEUED + 100
    client.shutdown()


def test_the_worker_checkpoints_the_wal_between_writes(store: autolog.Client) -> None:
    # SQLite's own checkpoint waits for 8,000 pages (32 MB) of WAL; the worker's comes after
    # 4 M characters written, outside any write.
    client = autolog.configure(store.tracking_uri)
    _make_large_traces(60)  # about 12 M characters
    assert client.flush(30)
    db = _db(client)
    deadline = time.monotonic() + 10
    while db.stat().st_size < 8_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert db.stat().st_size >= 8_000_000, "the written pages should have been copied from the WAL into the database"
    # ... and gathers the planner's statistics (a store nobody ANALYZEd plans feedback filters badly).
    deadline = time.monotonic() + 10
    with sqlite3.connect(db) as conn:
        while time.monotonic() < deadline and not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            time.sleep(0.05)
        stats = dict(conn.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'spans'").fetchall())
    assert stats and all(int(v.split()[0]) > 0 for v in stats.values()), stats


def test_shutdown_writes_the_records_the_worker_holds(store: autolog.Client) -> None:
    client = autolog.Client(store.tracking_uri, schedule_delay_millis=60_000)  # no write on its own for a minute
    for i in range(WAKING):
        client.start_trace("held", inputs=i).end(outputs=i)
    time.sleep(0.2)  # the worker wakes and encodes: its records wait for a full batch
    assert client._pipeline._held, "the worker should hold records"
    client.shutdown()
    assert store._store.count_traces() == WAKING


def test_shutdown_with_the_store_locked_spools_what_the_worker_holds(store: autolog.Client) -> None:
    client = autolog.Client(store.tracking_uri, schedule_delay_millis=60_000)
    assert client.flush()  # the store exists before it is locked
    for i in range(WAKING):
        client.start_trace("held", inputs=i).end(outputs=i)
    time.sleep(0.2)
    assert client._pipeline._held, "the worker should hold records"
    blocker = sqlite3.connect(_db(store), timeout=1, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        client.shutdown(timeout=1)  # the worker's write waits for the lock: the deadline passes
        spooled = [json.loads(line)["trace_id"] for f in Path(str(_db(store)) + ".spool").glob("*.jsonl")
                   for line in f.read_text().splitlines()]
        assert len(set(spooled)) == WAKING, "every trace the worker held must be on disk before shutdown returns"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    deadline = time.monotonic() + 30  # the stuck write retries, then the spool is replayed
    while store._store.count_traces() < WAKING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store._store.count_traces() == WAKING


def test_shutdown_spools_the_traces_the_worker_took_and_has_not_encoded_yet(store: autolog.Client) -> None:
    release = threading.Event()

    client = autolog.Client(store.tracking_uri, schedule_delay_millis=60_000)
    assert client.flush()
    stuck = client.start_trace("stuck", inputs=SlowToSerialize(release))
    stuck.end()
    taken = []
    for i in range(WAKING):
        span = client.start_trace("taken", inputs=i)
        span.end(outputs=i)
        taken.append(span.trace_id)
    time.sleep(0.3)  # the worker woke, took them, and serializes the first one
    try:
        assert len(client._pipeline._unencoded) > 1, "the worker should be stuck with traces it took waiting"
        client.shutdown(timeout=0.5)
        spooled = {json.loads(line)["trace_id"] for f in Path(str(_db(store)) + ".spool").glob("*.jsonl")
                   for line in f.read_text().splitlines()}
        assert spooled == set(taken), "every trace taken from the queue must be on disk when shutdown returns"
        assert STATS.snapshot()["dropped"] == 1, "the one trace still being serialized is counted as lost"
    finally:
        release.set()
    STATS.reset()  # that loss was the point of this test
    worker = client._pipeline._worker
    assert worker is not None
    worker.join(10)  # unstuck, the worker writes what it held and replays the spool (idempotently)
    assert not worker.is_alive()
    with sqlite3.connect(_db(store)) as conn:
        stored = {row[0] for row in conn.execute("SELECT trace_id FROM traces")}
    assert set(taken) <= stored


def test_a_spool_file_being_replayed_stays_on_disk_and_claimed_until_released(tmp_path: Path) -> None:
    from autolog._export.spool import Spool

    def ids(files: list[SpoolFile]) -> list[str]:
        return [json.loads(line)["trace_id"] for f in files for line in f.path.read_text().splitlines()]

    owner, other = Spool(tmp_path / "spool"), Spool(tmp_path / "spool")
    owner.append([{"trace_id": "tr-1"}, {"trace_id": "tr-2"}])
    claims = owner.claim_own()
    assert ids(claims) == ["tr-1", "tr-2"]
    files = list((tmp_path / "spool").glob("*.jsonl"))
    assert len(files) == 1, "a claimed file is deleted only once its records are stored"
    assert other.claim_orphans() == [], "a claimed file must not be replayed by anyone else meanwhile"
    owner.append([{"trace_id": "tr-3"}])  # appends after the claim go to a new file
    assert len(list((tmp_path / "spool").glob("*.jsonl"))) == 2
    owner.release(claims[0])
    assert not files[0].exists()
    assert owner.pending == 1
    claims = owner.claim_own()
    assert ids(claims) == ["tr-3"]
    owner.give_back(claims)  # the store failed: the file is kept once, still this process's
    assert owner.pending == 1 and other.claim_orphans() == []
    claims = owner.claim_own()
    owner.release(claims[0])
    assert owner.pending == 0
    assert not list((tmp_path / "spool").glob("*.jsonl"))


def test_several_processes_write_the_same_store(store: autolog.Client) -> None:
    code = """
        import sys, autolog
        autolog.configure(sys.argv[1])
        for i in range(400):
            with autolog.start_span("s") as span:
                with autolog.start_span("child"):
                    pass
        assert autolog.flush(60)
    """
    children = [_run_child(code, store.tracking_uri, wait=False) for _ in range(4)]
    for child in children:
        assert isinstance(child, subprocess.Popen)
        assert child.wait(120) == 0
        assert child.stdout is not None
        child.stdout.close()
    assert store._store.count_traces() == 1600


def test_store_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SqliteStore(f"sqlite:///{path}").count_traces()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 999")
    conn.commit()
    conn.close()
    with pytest.raises(autolog.StoreError, match="schema version 999"):
        SqliteStore(f"sqlite:///{path}").count_traces()


def test_bad_tracking_uri_is_a_clear_error() -> None:
    with pytest.raises(autolog.InvalidArgumentError, match=r"'mysql://host/db'.*not supported"):
        autolog.Client("mysql://host/db")
    with pytest.raises(autolog.InvalidArgumentError, match=r"'postgresql://u:\*\*\*@host:5432': name the database"):
        autolog.Client("postgresql://u:secret@host:5432")  # the password never shows
    with pytest.raises(autolog.InvalidArgumentError, match=r"name the server"):
        autolog.Client("postgresql:///db")


def test_a_postgresql_uri_without_psycopg_says_what_to_install() -> None:
    code = ("import sys; sys.modules['psycopg'] = None\nimport autolog\ntry:\n"
            "    autolog.Client('postgresql://u:pw@h/db')\nexcept autolog.InvalidArgumentError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}).stdout
    assert "'postgresql://u:***@h/db' needs psycopg 3" in out and "autolog-genai[postgres]" in out, out
