"""Process-wide counters of the export pipeline, read by ``autolog.stats()``.

Counting happens on hot paths (every enqueued trace), so a counter is a plain dict
update under one lock; reading returns a copy.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from typing import Any

_COUNTERS = ("queued", "exported", "spooled", "replayed", "dropped", "quarantined", "internal_errors",
             "export_retries", "unattached_assessments")


# Counters each destination keeps for itself (``stats()["destinations"][name]``).
DESTINATION_COUNTERS = ("exported", "spooled", "replayed", "dropped", "quarantined", "retries", "rejected_spans")
# A destination's counter that also moves the process-wide one, for the primary destination only...
_TOP_LEVEL_NAME = {"exported": "exported", "spooled": "spooled", "replayed": "replayed", "retries": "export_retries",
                   "dropped": "dropped", "quarantined": "quarantined"}
# ...except losses: a trace lost for any destination is counted where everyone looks.
_ALWAYS_TOP_LEVEL = {"dropped", "quarantined"}


class DestinationCounters:
    """One destination's counters; ``primary``: also the process-wide ones (their meaning is unchanged). Thread-safe."""

    def __init__(self, stats: _Stats, name: str, primary: bool) -> None:
        self.stats = stats
        self.name = name
        self.primary = primary
        self.values = dict.fromkeys(DESTINATION_COUNTERS, 0)
        self.users = 0  # pipelines exporting there that are not shut down: stats() lists it while any is

    def incr(self, counter: str, amount: int = 1) -> None:
        self.stats.incr_destination(self, counter, amount)


class _Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(_COUNTERS, 0)
        # Held by their pipelines: a destination configured away leaves stats() with its pipeline.
        self._destinations: weakref.WeakValueDictionary[str, DestinationCounters] = weakref.WeakValueDictionary()
        self._new_queued_counter()

    def destination(self, name: str, primary: bool) -> DestinationCounters:
        """The counters of destination ``name`` (created on first use; a re-configured one keeps counting)."""
        with self._lock:
            counters = self._destinations.get(name)
            if counters is None:
                counters = self._destinations[name] = DestinationCounters(self, name, primary)
            counters.primary = primary
            counters.users += 1
            return counters

    def release(self, counters: DestinationCounters) -> None:
        """A pipeline of that destination shut down (configure() replaced it): listed while another one runs."""
        with self._lock:
            counters.users = max(0, counters.users - 1)

    def incr_destination(self, counters: DestinationCounters, counter: str, amount: int) -> None:
        with self._lock:
            counters.values[counter] += amount
            if counters.primary or counter in _ALWAYS_TOP_LEVEL:
                top = _TOP_LEVEL_NAME.get(counter)
                if top is not None:
                    self._values[top] += amount

    def destinations(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: dict(c.values) for name, c in list(self._destinations.items()) if c.users}

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
            for counters in list(self._destinations.values()):
                counters.values = dict.fromkeys(DESTINATION_COUNTERS, 0)
            self._new_queued_counter()

    def after_fork(self) -> None:
        # A lock held by another thread at fork time would stay locked forever in the child;
        # and the child's pipeline starts empty, so its counters start at zero.
        self._lock = threading.Lock()
        self._values = dict.fromkeys(_COUNTERS, 0)
        for counters in list(self._destinations.values()):
            counters.values = dict.fromkeys(DESTINATION_COUNTERS, 0)
        self._new_queued_counter()


STATS = _Stats()


def stats() -> dict[str, Any]:
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

    ``destinations`` maps each destination (the store's URI, an OTLP endpoint, an MLflow
    server) to its own ``exported``, ``spooled``, ``replayed``, ``dropped``, ``quarantined``,
    ``retries`` and ``rejected_spans`` (spans an OTLP receiver said it refused in a partial
    success). The top-level ``exported``, ``spooled``, ``replayed`` and ``export_retries`` are
    those of the primary destination (the local store, else the first one); ``dropped`` and
    ``quarantined`` count losses at every destination.

    Thread-safe; never blocks on I/O.
    """
    values: dict[str, Any] = dict(STATS.snapshot())
    values["destinations"] = STATS.destinations()
    return values
