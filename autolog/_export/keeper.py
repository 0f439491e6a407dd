"""Where a batch of records ends up: the store, the spool, the quarantine, or a counted loss.

The pipeline decides *when* records are written; the keeper decides *where* each one goes
so that none is lost silently: stored if the store takes it; back in the spool if the
store failed (a replay tries again later); in the quarantine if the store refused that
record itself (after bisection, see ``delivery``); dropped and counted only if even the
spool or the quarantine cannot be written. Losses of traces this process submitted are
reported to the pipeline (``on_lost``), so its ``flush()`` can say they are not stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from autolog._export.delivery import Delivery, deliver
from autolog._export.encode import metadata_sets_of
from autolog._export.exporter import Exporter
from autolog._export.quarantine import Quarantine
from autolog._export.spool import Spool, SpoolFile, iter_chunks
from autolog._stats import STATS, DestinationCounters
from autolog._store.records import SET_FIELD, Record, record_to_json
from autolog._tracing.guard import log_rate_limited

__all__ = ["Keeper"]


class Keeper:
    """Writes batches and keeps what the store did not take; called from the pipeline's threads."""

    def __init__(self, exporter: Exporter, spool: Spool, quarantine: Quarantine, retry_timeout_seconds: float,
                 on_lost: Callable[[int], None], counters: DestinationCounters | None = None,
                 as_records: Callable[[list[Any]], list[Record]] | None = None) -> None:
        self.exporter = exporter
        # Per destination; the primary one (the default: a single store) also moves the process-wide counters.
        self.counters = counters or STATS.destination(exporter.destination, primary=True)
        self.spool = spool
        self.quarantine = quarantine
        self.retry_timeout_seconds = retry_timeout_seconds
        self.on_lost = on_lost
        # Records of the items a write was given, for the spool and the quarantine (snapshots are encoded here).
        self.as_records = as_records

    def count_lost(self, counter: str, n: int, own: bool = True) -> None:
        """Count ``n`` traces that will never be stored; ``own``: submitted in this process."""
        self.counters.incr(counter, n)
        if own:
            self.on_lost(n)

    def write(self, records: list[Record], sets: dict[str, dict[str, str]], own: bool = True) -> Delivery:
        """Write records (bisecting if the store refuses some: those are quarantined); says what did not go in."""
        delivery = deliver(self.exporter, records, sets, self.retry_timeout_seconds, self.counters)
        if delivery.rejected:
            rejected = []
            for item, why in delivery.rejected:
                try:
                    rejected.append((self._records([item])[0], why))
                except Exception:  # noqa: BLE001 - a snapshot that cannot be encoded here either: a counted loss
                    self.count_lost("dropped", 1, own)
            sets = {**sets, **metadata_sets_of([r for r, _ in rejected])}
            if rejected:
                self.put_in_quarantine([{"reason": why, "record": record_to_json(r, sets.get(r[SET_FIELD]))}
                                        for r, why in rejected], own)
        if delivery.unsent:
            log_rate_limited("export.write", logging.WARNING, "autolog could not write %d traces to %s (%r); they"
                             " wait in the spool", len(delivery.unsent), self.exporter.destination, delivery.error)
        return delivery

    def spool_records(self, records: list[Record], sets: dict[str, dict[str, str]] | None = None) -> None:
        """Append records to this process's spool; if even that fails, they are dropped and counted."""
        if not records:
            return
        try:
            if self.as_records is not None:
                records, sets = self._records(records), None
            if sets is None:
                sets = metadata_sets_of(records)
            self.spool.append([record_to_json(r, sets.get(r[SET_FIELD])) for r in records])
            self.counters.incr("spooled", len(records))
        except Exception as exc:  # noqa: BLE001 - the last line of defence: count every loss
            self.count_lost("dropped", len(records))
            # Maybe on the application's thread (queue full), maybe for every trace (disk full): rate-limited.
            log_rate_limited("export.spool", logging.ERROR, "autolog dropped %d traces: the spool in %s failed: %r",
                             len(records), self.spool.directory, exc)

    def _records(self, items: list[Any]) -> list[Record]:
        return items if self.as_records is None else self.as_records(items)

    def put_in_quarantine(self, entries: list[dict[str, Any]], own: bool) -> None:
        try:
            self.quarantine.add(entries)
        except Exception as exc:  # noqa: BLE001 - counted as lost instead
            self.count_lost("dropped", len(entries), own)
            log_rate_limited("export.quarantine", logging.ERROR, "autolog dropped %d records: the quarantine in %s"
                             " failed: %r", len(entries), self.quarantine.directory, exc)
            return
        self.count_lost("quarantined", len(entries), own)
        log_rate_limited("export.quarantined", logging.ERROR, "autolog quarantined %d records in %s (%s)",
                         len(entries), self.quarantine.directory, entries[0]["reason"])

    def replay_file(self, f: SpoolFile, max_records: int, max_chars: int) -> bool:
        """Store one spool file's records, chunk by chunk, and delete it; False (the file kept) if the store failed."""
        for chunk in iter_chunks(f, max_records, max_chars):
            delivery = self.write(chunk.records, chunk.sets, own=f.own)
            self.counters.incr("replayed", delivery.stored)
            if delivery.unsent:
                return False
            if chunk.unreadable:  # after the write: a chunk written again later would quarantine them twice
                self.put_in_quarantine([{"reason": why, "line": text, "file": f.path.name}
                                        for text, why in chunk.unreadable], own=f.own)
            f.offset = chunk.end
            f.records = max(0, f.records - chunk.lines)
        self.spool.release(f)
        return True

    def after_fork(self) -> None:
        self.spool.after_fork()
        self.quarantine = Quarantine(self.quarantine.directory)
