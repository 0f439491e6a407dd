"""The PostgreSQL store: the SQLite store's methods over a PostgreSQL database (psycopg 3, pooled connections).

``AUTOLOG_TRACKING_URI=postgresql://user:password@host:5432/database`` (also ``postgresql+psycopg://``).
The tables, indexes and migrations are SQLite's (``schema.MIGRATIONS``, rendered by
``PostgresDialect.ddl``), and so is every query: the table mixins are the same classes, their SQL
rendered for PostgreSQL by the connections' dialect. Trace batches are upserts keyed by trace id
(``INSERT ... ON CONFLICT (trace_id) DO UPDATE``), so a batch written twice (a retry, a spool
replay) leaves one copy; several processes write side by side. Failures are ``StoreError`` naming
the database (without its password); ``transient_errors`` are the ones worth retrying.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from autolog._errors import StoreBusyError, StoreError
from autolog._store.datasets import DatasetTables
from autolog._store.labeling import LabelingTables
from autolog._store.logged_models import LoggedModelTables
from autolog._store.pg_connections import PgConnections
from autolog._store.pg_copy import COPY_TARGETS, copy_rows, stage
from autolog._store.pg_io import StoreUnavailableError, conninfo_from_uri, redacted
from autolog._store.pg_schema import set_text_index
from autolog._store.records import Record
from autolog._store.rows import TableRows, record_rows
from autolog._store.runs import RunTables
from autolog._store.traces import TRACE_WRITES, TraceTables

__all__ = ["PostgresStore"]

# Rows per INSERT: a few statement shapes per batch (each prepared once per connection), and far below
# PostgreSQL's 65,535 bound parameters (512 spans x 9 columns).
_ROW_CHUNKS = (512, 64, 8, 1)
_INT64 = range(-(2**63), 2**63)
# The first key of merge_lock's advisory locks (b"aumg"): two-key locks are a key space apart from the
# single-key ones of writes and migrations.
MERGE_LOCK_SPACE = 0x61756D67
MERGE_LOCK_WAIT = "30s"  # another server's merge of the same trace takes milliseconds; longer means it is stuck
# Batches of at least this many traces are written by COPY through staging tables (``pg_copy``): faster per row,
# but with a fixed cost per transaction (a round trip per table's COPY; PostgreSQL empties the five staging tables
# at commit, ~2 ms) that small batches do not earn back. Measured (10-span traces, one writer): 1 trace 1.6-2.5 ms
# by INSERT, 3.6-6 ms by COPY; even at 32; COPY ahead from about 48, by 35 % at 512.
COPY_AT_TRACES = 64


def _bindable(values: list[Any]) -> list[Any]:
    """The values as PostgreSQL takes them, checked before the server sees them.

    PostgreSQL's text cannot hold NUL (SQLite's can): it becomes U+FFFD, as a decoder shows a bad byte.
    An integer past 64 bits is an OverflowError, as SQLite's binding raises: the export worker then knows
    the record, not the store, is at fault and sets it apart, where a server error would hold the batch.
    """
    for i, v in enumerate(values):
        if type(v) is str:
            if "\x00" in v:
                values[i] = v.replace("\x00", "\ufffd")
        elif type(v) is int and v not in _INT64:
            raise OverflowError(f"{v} does not fit a 64-bit integer column")
    return values


class PostgresStore(TraceTables, LoggedModelTables, RunTables, DatasetTables, LabelingTables):
    """Thread-safe, multi-process store in a PostgreSQL database. Every method may block on the network."""

    # Worth retrying: the server cannot be reached or restarts (StoreUnavailableError), a transaction lost
    # a race (StoreBusyError). A wrong password, a missing or foreign database are not.
    transient_errors: tuple[type[BaseException], ...] = (StoreUnavailableError, StoreBusyError)
    connections: PgConnections

    def __init__(self, uri: str) -> None:
        self.uri = redacted(uri)  # what errors, stats and the UI show
        self.connections = PgConnections(conninfo_from_uri(uri), self.uri)

    def close(self) -> None:
        """Close the pool (the next call opens a new one)."""
        self.connections.close()

    @contextmanager
    def merge_lock(self, trace_ids: Sequence[str]) -> Iterator[None]:
        """Hold off every other process (on any machine) merging any of these traces into this database until
        the block ends. OTLP ingest reads what the store holds of a trace, then writes it whole; two ingest servers
        given parts of one trace at once would each write it without the other's part.

        A transaction-scoped advisory lock per trace id (a 32-bit hash, in autolog's own key space), taken in one
        order so that two merges of overlapping traces never deadlock, on a connection whose transaction stays
        open for the block: the locks end with it, whatever the block raises, and a pooler in transaction mode
        (PgBouncer) keeps the transaction on one server session. Waiting longer than ``MERGE_LOCK_WAIT`` is a
        ``StoreBusyError`` (ingest answers 503, and the sender retries)."""
        keys = sorted({int.from_bytes(hashlib.blake2b(t.encode(), digest_size=4).digest(), "big", signed=True)
                       for t in trace_ids})
        with self.connections.session(f"locking {len(keys)} traces to merge", write=True, serial=False) as conn:
            raw = conn.conn
            raw.execute(f"SET LOCAL lock_timeout = '{MERGE_LOCK_WAIT}'")
            # unnest yields the (sorted) array in order, so the locks are taken in that order.
            raw.execute("SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::integer[]) AS k", (MERGE_LOCK_SPACE, keys))
            yield

    def set_text_index(self, present: bool = True) -> bool:
        """Create (or drop) the trigram index ``trace.text`` searches use; whether anything changed
        (``autolog db text-index``; why it is not in the schema: ``pg_schema.TEXT_INDEX``)."""
        with self.connections.session("creating the text index" if present else "dropping the text index") as conn:
            return set_text_index(conn.conn, self.uri, present)

    def write_records(self, records: Iterable[Record], metadata_sets: dict[str, dict[str, str]] | None = None) -> int:
        """Upsert a batch of trace records (see ``records.RECORD_FIELDS``) in one transaction.

        Not under the serial write lock: trace upserts of several processes commute (the last write
        of a trace id wins, and every write of one id carries the same trace).
        """
        tables = record_rows(records, metadata_sets, unique=True)
        try:
            self._write(tables, checked=False)
        except StoreError as exc:
            import psycopg

            if not isinstance(exc.__cause__, psycopg.DataError):
                raise
            # A value PostgreSQL cannot take (NUL in text, an integer past 64 bits): checked and written again,
            # at a cost paid by such batches only.
            self._write(tables, checked=True)
        return len(tables[1])

    def _write(self, tables: TableRows, checked: bool) -> None:
        convert = _bindable if checked else None
        with self.connections.session(f"writing {len(tables[1])} traces", write=True, serial=False) as conn:
            if len(tables[1]) >= COPY_AT_TRACES:
                stage(conn)
                copy_rows(conn, tables, convert)
            else:
                _insert_rows(conn, tables, convert)

    def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL checkpoints its WAL itself (the export worker calls this between writes)."""


def _insert_rows(conn: Any, tables: TableRows, convert: Callable[[list[Any]], list[Any]] | None) -> None:
    """Multi-row upserts (``INSERT ... VALUES ... ON CONFLICT``), in chunks of ``_ROW_CHUNKS`` rows.

    Rows in key order, as ``copy_rows`` upserts them (Python's order of str is the "C" collation's, code points):
    writers of overlapping batches lock the same rows in the same order, so they wait rather than deadlock.
    """
    for (statement, width), target, given in zip(TRACE_WRITES, COPY_TARGETS, tables, strict=True):
        keyed = len(target.key)
        rows = sorted(given, key=lambda row: row[:keyed]) if len(given) > 1 else given
        start = 0
        while start < len(rows):
            size = next(n for n in _ROW_CHUNKS if n <= len(rows) - start)
            chunk = rows[start:start + size]
            places = ",".join(["(" + ",".join("?" * width) + ")"] * size)
            values = [v for row in chunk for v in row]
            conn.execute(f"{statement} VALUES {places}", convert(values) if convert else values)
            start += size
