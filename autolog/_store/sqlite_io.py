"""SQLite plumbing of the store: URIs, connections, errors, and statements sized for the GIL."""

from __future__ import annotations

import functools
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from autolog._errors import InvalidArgumentError, StoreBusyError, StoreError

__all__ = ["READONLY", "chunks", "connect", "error_code", "insert_rows", "marks", "path_from_uri", "rollback_quietly",
           "store_error"]

# Short on purpose: the export worker retries with backoff (tenacity) around it, and
# reads in WAL mode never wait for writers.
BUSY_TIMEOUT_MS = 2_000
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


# SQLite's primary result codes (https://sqlite.org/rescode.html), stable across versions.
_PERM, _BUSY, _LOCKED, READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _PROTOCOL, _NOTADB = (
    3, 5, 6, 8, 10, 11, 13, 14, 15, 26)


# Python 3.10's sqlite3 errors carry only SQLite's message (sqlite3_errstr), not the code.
_CODE_OF_MESSAGE = (("database is locked", _BUSY), ("is locked", _LOCKED), ("locking protocol", _PROTOCOL),
                    ("database or disk is full", _FULL), ("readonly database", READONLY),
                    ("file is not a database", _NOTADB), ("malformed", _CORRUPT),
                    ("unable to open database file", _CANTOPEN), ("disk I/O error", _IOERR),
                    ("access permission denied", _PERM))


def error_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code of ``exc`` (``SQLITE_BUSY``...), -1 when it carries none."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF
    message = str(exc)
    return next((c for text, c in _CODE_OF_MESSAGE if text in message), -1)


_BUSY_CODES = frozenset((_BUSY, _LOCKED, _PROTOCOL))
_EXPLANATIONS = {
    _FULL: "is full: the disk (or the database's size limit) leaves no room to write",
    READONLY: "is read-only: it can be searched, not written",
    _NOTADB: "is not an autolog store, or it is damaged",
    _CORRUPT: "is damaged (corrupt)",
    _CANTOPEN: "cannot be opened: check that it is a file and that its directory exists and is readable",
    _PERM: "cannot be opened: permission denied",
    _IOERR: "failed with a disk I/O error (a full disk, a file-size limit or a failing device)",
}


def store_error(path: Path, exc: BaseException, action: str) -> StoreError:
    """The ``StoreError`` for ``exc`` raised while ``action`` ("searching traces"): it names the store and the cause.

    A store locked past the busy timeout gives a ``StoreBusyError``, the one kind worth retrying.
    """
    cause = str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.Error):
        code = error_code(exc)
        if code in _BUSY_CODES:
            return StoreBusyError(f"the store at {path} is locked: another connection held its write lock for more"
                                  f" than {BUSY_TIMEOUT_MS / 1000:g} s (while {action}; SQLite: {cause})", path, cause)
        explanation = _EXPLANATIONS.get(code, "failed")
        return StoreError(f"the store at {path} {explanation} (while {action}; SQLite: {cause})", path, cause)
    return StoreError(f"the store at {path} failed (while {action}: {cause})", path, cause)


def rollback_quietly(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite did not already (it does on SQLITE_FULL, SQLITE_IOERR...).

    A failure here would hide the error that ended the transaction, the one to report.
    """
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode (a no-op once it is), waiting as long as the busy timeout while it is locked.

    SQLite answers "database is locked" at once, without calling the busy handler, when this
    connection must upgrade its lock to switch the mode while another one writes: what
    happens when two clients or processes open a new store together (one creating and
    migrating it while the other's first read arrives).
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if error_code(exc) not in _BUSY_CODES or time.monotonic() >= deadline:
                raise
        time.sleep(0.005)


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str | None, value: object) -> bool | None:
    """SQLite's ``value REGEXP pattern`` (the filter grammar's RLIKE): ``re.search``, NULL for a NULL value.

    Patterns are checked when the filter is compiled, so one that does not compile never gets here.
    """
    if pattern is None or value is None:
        return None
    return _compiled(pattern).search(value if isinstance(value, str) else str(value)) is not None


def _open(target: str | Path, uri: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False,
                           uri=uri)
    conn.create_function("regexp", 2, _regexp, deterministic=True)
    return conn


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with a busy timeout.

    A store in a directory this process may not write, whose WAL files are gone (it was
    closed cleanly), cannot be opened in WAL mode at all: SQLite must create the WAL files
    first. Nobody can write it there either, so it is opened as immutable, read-only.
    Raises ``sqlite3.Error``; the caller turns it into a ``StoreError``.
    """
    conn = _open(path, uri=False)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _switch_to_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
    except sqlite3.Error as exc:
        conn.close()  # locked by another process: the caller retries with a fresh connection
        if error_code(exc) != READONLY or not path.is_file():
            raise
        conn = _open(f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro&immutable=1", uri=True)
    return conn
