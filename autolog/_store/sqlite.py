"""The embedded store: one SQLite file in WAL mode, shared safely by threads and processes.

Each thread (and each process after ``fork``) gets its own connection (see
``connections``). Writers take SQLite's write lock with ``BEGIN IMMEDIATE`` and wait up to
the busy timeout for other processes; readers never take it. Trace writes are upserts
keyed by trace id, so a batch that is written twice (a retry, a spool replay) leaves
exactly one copy. Every failure leaves as a ``StoreError`` naming the store and the cause.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from autolog._errors import StoreBusyError
from autolog._store.connections import Connections
from autolog._store.datasets import DatasetTables
from autolog._store.labeling import LabelingTables
from autolog._store.logged_models import LoggedModelTables
from autolog._store.records import Record
from autolog._store.rows import record_rows
from autolog._store.runs import RunTables
from autolog._store.schema import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME
from autolog._store.sqlite_io import insert_rows, path_from_uri, store_error
from autolog._store.traces import TRACE_WRITES, TraceTables

__all__ = ["ANALYZE_EVERY_SECONDS", "DEFAULT_EXPERIMENT_ID", "DEFAULT_EXPERIMENT_NAME", "MERGE_LOCK_WAIT_SECONDS",
           "SqliteStore"]

MERGE_LOCK_WAIT_SECONDS = 30.0
ANALYZE_EVERY_SECONDS = 600.0


class SqliteStore(TraceTables, LoggedModelTables, RunTables, DatasetTables, LabelingTables):
    """Thread-safe, multi-process store. Every method may block on disk I/O."""

    # The errors after which a write is worth retrying: another process held the write lock
    # past the busy timeout. A full disk, a read-only or damaged store are not.
    transient_errors: tuple[type[BaseException], ...] = (StoreBusyError,)
    connections: Connections

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.path = path_from_uri(uri)
        if self.path.parent != Path(""):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise store_error(self.path, exc, f"creating its directory {self.path.parent}") from exc
        self.connections = Connections(self.path)
        self._analyzed_at = float("-inf")  # the first checkpoint gathers statistics

    def close(self) -> None:
        """Close this thread's connection."""
        self.connections.close()

    # -- traces: writes ----------------------------------------------------------------------------
    def write_records(self, records: Iterable[Record], metadata_sets: dict[str, dict[str, str]] | None = None) -> int:
        """Upsert a batch of trace records (see ``records.RECORD_FIELDS``) in one transaction.

        ``metadata_sets`` holds the content of the shared metadata sets the records name.
        """
        tables = record_rows(records, metadata_sets)
        with self.connections.session(f"writing {len(tables[1])} traces", write=True) as conn:
            for (statement, width), rows in zip(TRACE_WRITES, tables, strict=True):
                insert_rows(conn, statement, width, rows)
        return len(tables[1])

    @contextmanager
    def merge_lock(self, trace_ids: Sequence[str]) -> Iterator[None]:
        """Hold off other processes merging traces into this store (OTLP ingest reads what the store holds of
        a trace, then writes it whole) until the block ends: an exclusive ``flock`` of ``<db>.merge-lock``, waited
        for up to ``MERGE_LOCK_WAIT_SECONDS`` (then ``StoreBusyError``: ingest answers 503, the sender retries).
        Coarser than the trace ids (SQLite has one writer anyway). Where ``fcntl`` is missing (Windows) only
        the caller's own lock holds."""
        try:
            import fcntl
        except ImportError:
            yield
            return
        path = self.path.with_name(self.path.name + ".merge-lock")
        try:
            handle = open(path, "a+b")  # noqa: SIM115 - held for the block, closed below
        except OSError as exc:
            raise store_error(self.path, exc, f"opening the merge lock {path}") from exc
        try:
            deadline = time.monotonic() + MERGE_LOCK_WAIT_SECONDS
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:  # another process's merge takes milliseconds: it is stuck
                        raise StoreBusyError(f"the store at {self.path}: another process held {path} for over "
                                             f"{MERGE_LOCK_WAIT_SECONDS:g} s", self.path, "merge lock held") from None
                    time.sleep(0.005)
            yield
        finally:
            handle.close()  # releases the lock

    def checkpoint(self) -> None:
        """The export worker's upkeep between writes: copy the WAL's pages into the database file without waiting
        for readers (PASSIVE), and every ``ANALYZE_EVERY_SECONDS`` refresh the planner's statistics.

        Without statistics SQLite's planner picks an index by how many of the WHERE's columns it matches, not
        by how many rows it reads: over 1,000,000 traces ``feedback.helpful IS NULL`` took 6.2 s and a feedback
        value 38 ms instead of 1.3 and 3 ms. ``analysis_limit`` samples each index (6 ms at that size), and the
        statistics then follow the store as it grows."""
        with self.connections.session("checkpointing the WAL") as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        now = time.monotonic()
        if now - self._analyzed_at >= ANALYZE_EVERY_SECONDS:
            try:
                with self.connections.session("refreshing the planner's statistics", write=True) as conn:
                    conn.execute("PRAGMA analysis_limit = 400")
                    conn.execute("ANALYZE")
            except StoreBusyError:  # another process writes: the next checkpoint tries again
                return
            self._analyzed_at = now


