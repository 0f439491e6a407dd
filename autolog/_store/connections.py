"""The store's connections: one per thread, opened lazily, safe across ``fork``, errors as ``StoreError``.

Every use of the database is a ``session``: a read, or a write inside ``BEGIN IMMEDIATE``.
Sessions do three things for the store:

* A failure of SQLite (or of the file system under it) leaves as a ``StoreError`` that
  names the store and the cause; a write lock held too long by another process leaves as
  a ``StoreBusyError``, the one kind worth retrying.
* The schema is checked on first use with a plain read, and created or migrated under the
  write lock only when it needs to be: a read never waits for another process's writes,
  and a store on a read-only file or mount can be searched.
* ``os.fork()`` waits until no session is running (at most ``_FORK_WAIT_SECONDS``). SQLite
  keeps the lock state of an open file in process memory, shared by all the connections of
  the process, and a child inherits it: a child forked during a write would see its own
  connections locked out for good. After the fork the child closes every connection it
  inherited (idle, thanks to the wait) before it opens its own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autolog._store.dialect import SQLITE
from autolog._store.schema import migrate, schema_is_current
from autolog._store.sqlite_io import connect, rollback_quietly, store_error

__all__ = ["Connections"]

# A session is short (a batch write waits at most the busy timeout, 2 s): waiting longer
# than this means a thread is stuck, and the fork goes ahead rather than hang the caller.
_FORK_WAIT_SECONDS = 10.0


class _Held:
    """A thread's connection; weakly listed so that a child can close the connections of its parent's threads."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


class Connections:
    """Connections of one process to the SQLite file at ``path``. Thread-safe."""

    dialect = SQLITE

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._held: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._pid = os.getpid()
        self._schema_checked = False
        self._init_locks()
        _ALL.add(self)

    def _init_locks(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._active = 0
        self._forking = False
        self._schema_lock = threading.Lock()

    @contextmanager
    def session(self, action: str, write: bool = False) -> Iterator[sqlite3.Connection]:
        """This thread's connection for one read, or one transaction if ``write``; ``action`` names it in errors.

        Not re-entrant: a session never opens another one (a fork waiting for the outer one
        would wait for ever for the inner one).
        """
        with self._cond:
            while self._forking:
                self._cond.wait()
            self._active += 1
        try:
            conn = self._conn()
            if not write:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                rollback_quietly(conn)
                raise
        except sqlite3.Error as exc:
            raise store_error(self.path, exc, action) from exc
        except OSError as exc:
            raise store_error(self.path, exc, action) from exc
        finally:
            with self._cond:
                self._active -= 1
                if self._forking and not self._active:
                    self._cond.notify_all()

    def _conn(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # forked without the fork hooks (a C extension's fork())
            self._local = threading.local()
            self._held = weakref.WeakSet()
            self._pid = os.getpid()
        held: _Held | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _Held(connect(self.path))
            self._held.add(held)
        if not self._schema_checked:
            # Checked lazily (on the export worker or the first read), so that configuring
            # autolog never touches the disk on the caller's thread.
            with self._schema_lock:
                if not self._schema_checked:
                    if not schema_is_current(held.conn, self.path):
                        migrate(held.conn, self.path)
                    self._schema_checked = True
        return held.conn

    def close(self) -> None:
        """Close this thread's connection (the next session opens a new one)."""
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None:
            self._local.held = None
            held.conn.close()

    # -- fork --------------------------------------------------------------------------------------
    def _before_fork(self) -> None:
        with self._cond:
            self._forking = True
            self._cond.wait_for(lambda: not self._active, timeout=_FORK_WAIT_SECONDS)

    def _after_fork_in_parent(self) -> None:
        with self._cond:
            self._forking = False
            self._cond.notify_all()

    def _after_fork_in_child(self) -> None:
        inherited = list(self._held)
        clean = not self._active
        self._init_locks()
        self._local = threading.local()
        self._held = weakref.WeakSet()
        self._pid = os.getpid()
        if not clean:
            # A session of another thread outlived the wait: its connection may be inside
            # SQLite, holding a mutex that no thread of this process will release. Leave
            # them all alone (this process's writes may then wait for the lock).
            return
        for held in inherited:
            try:
                held.conn.close()
            except sqlite3.Error:  # it is dropped all the same
                pass


_ALL: weakref.WeakSet[Connections] = weakref.WeakSet()


def _before_fork() -> None:
    for connections in list(_ALL):
        connections._before_fork()


def _after_fork_in_parent() -> None:
    for connections in list(_ALL):
        connections._after_fork_in_parent()


def _after_fork_in_child() -> None:
    for connections in list(_ALL):
        connections._after_fork_in_child()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)
