"""Replay of spool files: this process's own (when the queue is idle) and dead processes' (at start, every 30 s).

Files are claimed under the spool's own lock and read outside any lock the application
needs, one bounded chunk at a time (``Keeper.replay_file``). While the store keeps failing,
replays of the own spool back off (0.5 s, doubling up to 30 s) instead of hammering it;
one successful write of the queue resets that. A file whose replay stopped is kept as it
is, never copied (``Spool.give_back``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from autolog._export.keeper import Keeper
from autolog._export.spool import Spool, SpoolFile
from autolog._tracing.guard import handle_internal_errors

__all__ = ["Replayer"]

_ORPHAN_SCAN_INTERVAL_SECONDS = 30.0
_BACKOFF_SECONDS = (0.5, 30.0)  # first and longest wait before replaying again after the store failed


class Replayer:
    """Replays the spool for one pipeline, from its worker (or, when no worker can run, from flush/exit)."""

    def __init__(self, spool: Spool, keeper: Keeper, max_records: int, max_chars: int,
                 notify: Callable[[], None]) -> None:
        self.spool = spool
        self.keeper = keeper
        self.max_records = max_records
        self.max_chars = max_chars
        self.notify = notify  # wakes flush() waiters once a replay ends
        self.after_fork()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self.running = 0  # replays under way: their files are neither pending in the spool nor deleted yet
        self.orphans_due = True  # the first scan for dead processes' files has not finished
        self._last_orphan_scan = 0.0
        self._own_after = 0.0  # monotonic time before which the own spool is not replayed
        self._backoff = _BACKOFF_SECONDS[0]

    @property
    def busy(self) -> bool:
        """Whether flush() must still wait for the replayer: a replay runs, or the start-up scan is due."""
        return bool(self.running or self.orphans_due)

    def replay_due(self) -> None:
        """Replay what is due now: the own spool (unless backing off), else dead processes' files every 30 s."""
        now = time.monotonic()
        if self.spool.pending and now >= self._own_after:
            self.replay(orphans=False)
        elif self.orphans_due or now - self._last_orphan_scan > _ORPHAN_SCAN_INTERVAL_SECONDS:
            self.replay(orphans=True)

    def store_works(self) -> None:
        """The store took a batch: replay the own spool at once, without waiting out the backoff."""
        self._own_after, self._backoff = 0.0, _BACKOFF_SECONDS[0]

    def replay(self, orphans: bool) -> None:
        with self._lock:
            self.running += 1  # before the claim: flush() sees the records pending or being replayed, always
        files: list[SpoolFile] = []
        try:
            with handle_internal_errors("export.replay"):
                files = self.spool.claim_orphans() if orphans else self.spool.claim_own()
                while files and self.keeper.replay_file(files[0], self.max_records, self.max_chars):
                    files.pop(0)
                if files:  # the store failed: try again later, each file kept as it is
                    self._own_after = time.monotonic() + self._backoff
                    self._backoff = min(self._backoff * 2, _BACKOFF_SECONDS[1])
        finally:
            if files:
                self.spool.give_back(files)
            with self._lock:
                self.running -= 1
                if orphans:
                    self.orphans_due = False
                    self._last_orphan_scan = time.monotonic()
            self.notify()
