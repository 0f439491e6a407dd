"""SQLite plumbing of the store: URIs, connections, and statements sized for the GIL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from autolog._errors import InvalidArgumentError, StoreError

__all__ = ["chunks", "connect", "insert_rows", "marks", "path_from_uri"]

# Short on purpose: the export worker retries with backoff (tenacity) around it, and
# reads in WAL mode never wait for writers.
_BUSY_TIMEOUT_MS = 2_000
_IN_CHUNK = 500  # stay far below SQLite's bound-parameter limit
# By default SQLite checkpoints the WAL into the database inside the commit that makes it
# pass 1,000 pages, with an fsync of both files: that commit (and a flush() waiting on it)
# took twice as long. The export worker checkpoints between its writes instead (see
# ``SqliteStore.checkpoint``); this larger bound only catches a WAL that grows while it cannot.
_AUTOCHECKPOINT_PAGES = 8_000


def path_from_uri(uri: str) -> Path:
    """``sqlite:///relative.db`` → ``relative.db``; ``sqlite:////abs/x.db`` → ``/abs/x.db``; a bare path as-is."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):])
    if uri.startswith("sqlite://"):
        raise InvalidArgumentError(f"tracking URI {uri!r}: use sqlite:///<relative path> or sqlite:////<absolute path>")
    if "://" in uri:
        raise InvalidArgumentError(f"tracking URI {uri!r}: only sqlite:/// URIs or file paths are supported")
    return Path(uri)


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i:i + _IN_CHUNK]


def marks(n: int) -> str:
    return ",".join("?" * n)


# Rows per multi-row INSERT: powers of two, so a batch of any size takes at most ten
# statement shapes (each compiled once, then cached by the connection).
_ROW_CHUNKS = (512, 256, 128, 64, 32, 16, 8, 4, 2, 1)


def insert_rows(conn: sqlite3.Connection, statement: str, width: int, rows: list[tuple[Any, ...]]) -> None:
    """``<statement> VALUES (...),(...)`` for ``rows`` of ``width`` values, a few statements per batch.

    Python's sqlite3 releases the GIL around every step, and ``executemany`` steps once per row.
    When the application's thread never releases the GIL (a CPU-bound loop), a thread waiting
    for it gets it back only every switch interval (5 ms): the export worker would store
    200 rows a second. One statement per chunk of rows needs one step, so a batch is written
    in a handful of hand-offs instead of one per row.
    """
    placeholder = "(" + marks(width) + ")"
    start = 0
    while start < len(rows):
        size = next(n for n in _ROW_CHUNKS if n <= len(rows) - start)
        chunk = rows[start:start + size]
        conn.execute(f"{statement} VALUES {','.join([placeholder] * size)}", [v for row in chunk for v in row])
        start += size


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode (a no-op once it is), waiting as long as the busy timeout while it is locked.

    SQLite answers "database is locked" at once, without calling the busy handler, when this
    connection must upgrade its lock to switch the mode while another one writes: what
    happens when two clients or processes open a new store together (one creating and
    migrating it while the other's first read arrives).
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "database is locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.005)




def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with a busy timeout."""
    try:
        conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        _switch_to_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
    except sqlite3.Error:
        conn.close()  # locked by another process: the caller retries with a fresh connection
        raise
    return conn
