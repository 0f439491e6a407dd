"""Pooled connections of one process to a PostgreSQL store (psycopg_pool), as sessions like SQLite's.

* A session borrows a pooled connection (autocommit) for one read, or for one transaction if
  ``write``. Writes other than trace batches (``serial``) also take one transaction-scoped
  advisory lock: experiments, versions, datasets and labeling queues number their rows with
  ``MAX(...) + 1`` as SQLite's single writer allows, and the lock gives PostgreSQL the same
  one-at-a-time order for them. Trace batches are idempotent upserts and run side by side.
* Before the pool is first used, one direct connection checks the server: a wrong password or
  a missing database is reported at once, as what it is, not after the pool's wait. The same
  check explains a pool that gave no connection in time (the server went away).
* The schema is checked on first use, and migrated if it must be (``pg_schema``).
* After ``os.fork()`` the child must not use or close its parent's connections (closing sends
  the server a Terminate for the parent's session): their sockets are pointed at /dev/null,
  then they are closed, and the child opens a pool of its own.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from autolog._store.dialect import Dialect
from autolog._store.pg_io import CONNECT_TIMEOUT_SECONDS, PgConnection, pg_store_error
from autolog._store.pg_schema import POSTGRES, pg_migrate, pg_schema_is_current

__all__ = ["PgConnections"]

POOL_MAX = 8  # threads of one process reading at once; the export worker writes on one
POOL_WAIT_SECONDS = 5.0  # a caller waits this long for a connection (the server down: the export retries)
WRITE_LOCK = 0x6175746F6C6F6701  # advisory lock of serial writes (b"autolog\x01")


class PgConnections:
    """Connections of one process to the PostgreSQL database at ``conninfo``. Thread-safe."""

    dialect: Dialect = POSTGRES

    def __init__(self, conninfo: str, target: str) -> None:
        self.conninfo = conninfo
        self.target = target  # the redacted URI, for errors
        self._lock = threading.Lock()
        self._pool: Any = None
        self._pid = os.getpid()
        self._schema_checked = False
        self._opened: weakref.WeakSet[Any] = weakref.WeakSet()
        _ALL.add(self)

    @contextmanager
    def session(self, action: str, write: bool = False, serial: bool = True) -> Iterator[PgConnection]:
        """A pooled connection for one read, or one transaction if ``write`` (``serial``: under the write lock)."""
        import psycopg
        import psycopg_pool

        try:
            pool = self._ready()
            with pool.connection() as raw:
                conn = PgConnection(raw, self.dialect)
                if not write:
                    yield conn
                    return
                with raw.transaction():
                    if serial:
                        raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                    yield conn
        except psycopg_pool.PoolTimeout as exc:
            cause = self._probe() or exc  # why no connection could be made, if the server says
            raise pg_store_error(self.target, cause, action) from cause
        except psycopg.Error as exc:
            raise pg_store_error(self.target, exc, action) from exc

    def _ready(self) -> Any:
        """The process's pool, opened (and the schema checked) on first use."""
        if self._pid != os.getpid():  # forked without the fork hooks (a C extension's fork())
            self._after_fork_in_child()
        pool = self._pool
        if pool is not None and self._schema_checked:
            return pool
        with self._lock:
            if self._pool is None:
                problem = self._probe()
                if problem is not None:
                    raise problem
                self._pool = self._new_pool()
            if not self._schema_checked:
                with self._pool.connection() as raw:
                    if not pg_schema_is_current(PgConnection(raw, self.dialect), self.target):
                        pg_migrate(raw, self.target)
                self._schema_checked = True
            return self._pool

    def _new_pool(self) -> Any:
        import psycopg_pool

        return psycopg_pool.ConnectionPool(
            self.conninfo, min_size=1, max_size=POOL_MAX, timeout=POOL_WAIT_SECONDS, open=True,
            # TCP keepalives: a server that vanishes mid-statement (a network cut) fails the statement in about a
            # minute, a retryable error, instead of hanging the export worker.
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS, "keepalives": 1,
                    "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3},
            configure=self._configure, check=psycopg_pool.ConnectionPool.check_connection,
            name=f"autolog {self.target}")

    def _configure(self, conn: Any) -> None:
        from psycopg.types.numeric import FloatLoader

        # SUM over BIGINT is NUMERIC in PostgreSQL: read it as the float SQLite's REAL sums are.
        conn.adapters.register_loader("numeric", FloatLoader)
        # No JIT compilation: the store's statements are short (a page, a batch), and a plan whose estimate
        # passes jit_above_cost spent 100-300 ms compiling (bench_team's feedback search: 0.66 s with it, 0.45 s
        # without, before that search's fix) where the query itself runs in milliseconds.
        conn.execute("SET jit = off")
        self._opened.add(conn)

    def _probe(self) -> Exception | None:
        """Connect once, directly: None if the server takes a connection, else what it said (psycopg's error)."""
        import psycopg

        try:
            psycopg.connect(self.conninfo, connect_timeout=CONNECT_TIMEOUT_SECONDS).close()
        except psycopg.Error as exc:
            return exc
        return None

    def close(self) -> None:
        """Close the pool and its connections (the next session opens a new one)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _after_fork_in_child(self) -> None:
        import psycopg

        inherited = list(self._opened)
        self._lock = threading.Lock()
        self._opened = weakref.WeakSet()
        self._pid = os.getpid()
        if self._pool is not None:
            _ABANDONED.append(self._pool)  # its worker threads did not survive the fork; never closed here
            self._pool = None
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            for conn in inherited:
                try:
                    os.dup2(devnull, conn.pgconn.socket)  # the parent's socket stays open in the parent
                except (psycopg.Error, OSError):  # a closed connection has no socket: nothing to detach
                    continue
                conn.close()
        finally:
            os.close(devnull)


_ALL: weakref.WeakSet[PgConnections] = weakref.WeakSet()
_ABANDONED: list[Any] = []


def _after_fork_in_child() -> None:
    for connections in list(_ALL):
        connections._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
