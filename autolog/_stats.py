"""Process-wide counters of the export pipeline, read by ``autolog.stats()``.

Counting happens on hot paths (every enqueued trace), so a counter is a plain dict
update under one lock; reading returns a copy.
"""

from __future__ import annotations

import itertools
import threading

_COUNTERS = ("queued", "exported", "spooled", "replayed", "dropped", "quarantined", "internal_errors",
             "export_retries", "unattached_assessments")


class _Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(_COUNTERS, 0)
        self._new_queued_counter()

    def _new_queued_counter(self) -> None:
        # "queued" moves once per traced call: a counter whose next() is atomic (one C call
        # under the GIL) instead of a lock. Reading it takes a number too, so the reader keeps
        # the number the next read would get if nothing had been counted.
        self.count_queued = itertools.count().__next__
        self._queued_base = 0

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            taken = self.count_queued()
            self._values["queued"] += taken - self._queued_base
            self._queued_base = taken + 1
            return dict(self._values)

    def reset(self) -> None:
        with self._lock:
            self._values = dict.fromkeys(_COUNTERS, 0)
            self._new_queued_counter()

    def after_fork(self) -> None:
        # A lock held by another thread at fork time would stay locked forever in the child;
        # and the child's pipeline starts empty, so its counters start at zero.
        self._lock = threading.Lock()
        self._values = dict.fromkeys(_COUNTERS, 0)
        self._new_queued_counter()


STATS = _Stats()


def stats() -> dict[str, int]:
    """Return the export pipeline's counters since start-up (or since the last fork).

    Keys: ``queued`` (finished traces handed to the exporter), ``exported`` (written to
    the store), ``spooled`` (written to the disk spool because the queue was full or the
    process was exiting), ``replayed`` (read back from a spool and stored), ``dropped``
    (lost because even the spool failed, or a trace could not be serialized at all: should
    always be 0), ``quarantined`` (records the store refused and spool lines that could not
    be read back, kept in ``<db>.spool/quarantine/`` for a person to look at),
    ``internal_errors`` (failures of autolog's own code, each also logged),
    ``export_retries`` (transient store errors retried), ``unattached_assessments``
    (evaluation feedback not stored because its trace never reached the store: should be 0).

    Thread-safe; never blocks on I/O.
    """
    return STATS.snapshot()
