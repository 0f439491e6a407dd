"""The export pipeline: bounded queue → worker thread → exporter, with a disk spool for overflow.

The application's thread appends a finished trace to a deque; a daemon worker, woken by
an Event when a few traces wait or after a short delay, encodes the traces into store
records (immutable tuples of text, also the spool's format) at once, and sends them to
its exporter in one batch (for the SQL store: one transaction with a few multi-row
statements, see ``sqlite_io.insert_rows``) once ``max_batch_size`` of them (or 4 M characters of content) are ready,
the oldest has waited ``schedule_delay_millis``, or ``flush()``/shutdown asks: a commit costs as much as
tens of traces, so the worker makes few of them. Encoding is the worker's job (or, with
``snapshots``, the exporter's writer process's: ``writer_link``): on the application's thread, once per call,
it runs with cold caches and costs several times what it costs in the worker's warm loop.

Backpressure: a thread that holds the GIL in a CPU-bound loop can starve the worker for
hundreds of ms (measured here: CPython re-arms a waiting thread's switch request whenever
the running thread releases the GIL briefly), and every live object still queued when a
collection runs is promoted, until full collections of the whole heap (100 ms here) come
every few thousand calls. So once ``_ENCODE_ON_CALLER_AT`` traces wait, a trace whose
content is JSON already or an SDK response (what integrations record) is encoded on the
application's thread at hand-over (a few µs): the queue then holds only tuples of text,
which the garbage collector stops scanning after one pass. Nothing is dropped silently:

* queue full            → the trace is serialized and appended to this process's spool file;
* export fails          → retried (tenacity, exponential backoff, jitter) while retryable, then spooled;
* store refuses records → the batch is bisected: the good ones stored, the others quarantined;
* spool write fails     → the trace is dropped and counted in ``stats()["dropped"]``.

(``keeper``). The worker replays spools (``replay``): its own when the queue is idle, dead
processes' when it starts (the first ``flush()``, so every read, waits for that) and every
30 s. At exit, everything still queued is flushed with a deadline, and what the deadline
leaves is spooled for the next process. After shutdown nothing restarts the worker: a
trace that ends later goes to the pipeline that replaced this one (``successor``, set by
``configure``) or to the spool.
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import threading
import time
from pathlib import Path
from typing import TypeVar

from autolog._export.encode import encode_for_store, metadata_sets_of
from autolog._export.exporter import Exporter
from autolog._export.keeper import Keeper
from autolog._export.lifecycle import register
from autolog._export.options import check_export_options
from autolog._export.quarantine import Quarantine
from autolog._export.replay import Replayer
from autolog._export.snapshot import snapshot_chars, snapshot_of
from autolog._export.spool import Spool
from autolog._export.writer_link import records_of
from autolog._stats import STATS, DestinationCounters
from autolog._store.records import Record, content_chars
from autolog._tracing.context import SUPPRESSED
from autolog._tracing.guard import handle_internal_errors, report_internal_error
from autolog._tracing.live import LiveTrace, OpenTraces

__all__ = ["ExportPipeline"]

_logger = logging.getLogger("autolog")
_WAKE_AT_QUEUED = 64
_ENCODE_ON_CALLER_AT = 128  # queued traces: past this, the worker is not keeping up
# Characters of span content the worker holds before it writes, whatever the batch size:
# large traces (retrieved documents, long chats) are written before they add up to much memory.
_WRITE_AT_CHARS = 4_000_000
# Characters of span content exported between two calls of the exporter's maintain() (for
# the SQLite store, a checkpoint of its WAL every ~1,000 pages), run when no flush() waits.
_MAINTAIN_AT_CHARS = 4_000_000

_Batch = TypeVar("_Batch", list[LiveTrace | Record], collections.deque[LiveTrace | Record])


class ExportPipeline:
    """Owns the queue, the worker thread and the spool for one exporter. Thread-safe."""

    def __init__(self, exporter: Exporter, spool_dir: Path, open_traces: OpenTraces, *, max_queue_size: int = 8192,
                 max_batch_size: int = 512, schedule_delay_seconds: float = 0.2, max_content_chars: int | None = None,
                 retry_timeout_seconds: float = 10.0, counters: DestinationCounters | None = None,
                 snapshots: bool = False) -> None:
        check_export_options(max_queue_size=max_queue_size, max_batch_size=max_batch_size,
                             schedule_delay_seconds=schedule_delay_seconds, max_content_chars=max_content_chars,
                             retry_timeout_seconds=retry_timeout_seconds)
        self.exporter = exporter
        self.open_traces = open_traces
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        # The worker is woken once this many traces wait (or after schedule_delay_millis). Not at once: until the
        # worker gets the GIL each of a never-waiting caller's brief GIL releases signals it (~40 µs of the caller's
        # kernel time, see BENCHMARKS.md). Not late: a queued trace keeps its objects alive for the collector to
        # scan. 64 instead of 16 took the OpenAI scenario from 14.0 to 12.1 % (medians of 7 and 5 runs).
        self._wake_at = min(_WAKE_AT_QUEUED, max_batch_size)
        self.schedule_delay_seconds = schedule_delay_seconds
        self.max_content_chars = max_content_chars
        self._encode = functools.partial(snapshot_of if snapshots else encode_for_store, max_chars=max_content_chars)
        self._chars_of = snapshot_chars if snapshots else content_chars
        self._snapshots = snapshots  # then written as soon as taken: the writer process works while the app does
        self.retry_timeout_seconds = retry_timeout_seconds
        self.spool = Spool(spool_dir)
        self._keeper = Keeper(exporter, self.spool, Quarantine(spool_dir / "quarantine"), retry_timeout_seconds,
                              self._add_lost, counters, records_of if snapshots else None)
        self._counts_queued = self._keeper.counters.primary  # "queued": once per trace, by the primary only
        self._replayer = Replayer(self.spool, self._keeper, max_batch_size, _WRITE_AT_CHARS, self._notify)
        # Where traces that end after shutdown go: the pipeline configure() put in this one's place.
        self.successor: ExportPipeline | None = None
        self._closed = False  # shut down: for good, nothing restarts the worker
        self._init_state()
        register(self)  # flushed at exit, restarted after fork

    def _init_state(self) -> None:
        self._queue: collections.deque[LiveTrace | Record] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._submitted = 0  # traces put in the queue
        self._handled = 0  # traces the worker took care of (stored, spooled or dropped)
        self._lost = 0  # traces submitted here that will never be stored (dropped or quarantined)
        self._flushing = 0  # flush() calls waiting
        # Records the worker has encoded and not stored yet (it writes them once a batch is
        # full, the delay passed, or a flush asks). Replaced, never emptied in place, once written.
        self._held: list[Record] = []
        # Items the worker took from the queue and has not encoded yet (see _encode_into_held).
        self._unencoded: collections.deque[LiveTrace | Record] = collections.deque()
        self._worker: threading.Thread | None = None
        self._worker_pid = -1
        self._stopping = False
        self._replayer.after_fork()

    # -- application side --------------------------------------------------------------------------
    def enqueue(self, trace: LiveTrace) -> None:
        """Hand a finished trace over. Never blocks on I/O unless the queue is full (then: spool)."""
        if self._worker is None or self._stopping:  # first use, after fork, or after shutdown
            if self._closed:
                self._late(trace)
                return
            self._start_worker()  # if it cannot start, the trace waits: flush() and exit export on their thread
        if len(self._queue) >= _ENCODE_ON_CALLER_AT:
            with handle_internal_errors("export.encode"):  # on failure the worker encodes it (and counts a loss)
                if trace.encode(self._encode, only_if_cheap=True, then=self._put) is not None:
                    return
        self._put(trace)

    def _put(self, item: LiveTrace | Record) -> None:
        with self._cond:
            full = len(self._queue) >= self.max_queue_size
            if not full:
                self._queue.append(item)
                self._submitted += 1
                size = len(self._queue)
        if self._counts_queued:  # STATS.count_queued looked up per call: fork replaces it
            STATS.count_queued()
        if full:
            self._spill([item])
        elif size == self._wake_at:  # wake once per burst, not on every trace above it
            self._wake.set()

    def _late(self, trace: LiveTrace) -> None:
        """A trace that ended after shutdown: to the successor, else to the spool (then unlocked for replay)."""
        successor = self.successor
        if successor is not None:
            successor.enqueue(trace)
            return
        with handle_internal_errors("export.late"):
            self._spill([trace])
            self.spool.close()  # any live process (or the next one) replays it

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _add_lost(self, n: int) -> None:
        with self._cond:
            self._lost += n

    def _records_of(self, items: list[LiveTrace | Record]) -> list[Record]:
        """Records of queue items, encoding the live traces among them (a failure is a counted loss)."""
        return [record for item in items if (record := self._record_of(item)) is not None]

    def _record_of(self, item: LiveTrace | Record, lock_wait: float = -1) -> Record | None:
        """The record of one queue item; None (a counted loss) if it cannot be encoded."""
        if not isinstance(item, LiveTrace):  # a record, or a snapshot
            return item
        try:  # not a `with` guard: this runs once per trace
            record: Record | None = item.encode(self._encode, lock_wait=lock_wait)
        except Exception as exc:
            self._keeper.count_lost("dropped", 1)
            if report_internal_error("export.serialize", exc):
                return None
            raise
        if record is None:  # only a bounded lock_wait declines: the worker is stuck encoding this trace
            self._keeper.count_lost("dropped", 1)
            _logger.error("autolog dropped trace %s: it was still being serialized when the exit deadline passed",
                          item.trace_id)
        return record

    def _encode_into_held(self, max_chars: int) -> tuple[int, int]:
        """Encode items the worker took (``self._unencoded``) into ``self._held``, until a write is due.

        Stops once the held records reach ``max_batch_size`` or ``max_chars`` more characters
        of span content (after one item at least), so a take of large traces is written in
        parts rather than held whole; the rest waits in ``self._unencoded`` for the next turn.
        Returns (items taken care of, characters added).

        An item stays in ``self._unencoded`` until its record is held, so a shutdown whose
        deadline passes meanwhile (a huge trace, a user object slow to serialize) finds every
        item taken from the queue in one place or the other, and spools it. Each live trace
        is freed as soon as its record is made.
        """
        unencoded = self._unencoded
        items = chars = 0
        while unencoded and (items == 0 or (chars < max_chars and len(self._held) < self.max_batch_size)):
            record = self._record_of(unencoded[0])
            if record is not None:
                self._held.append(record)
                chars += self._chars_of(record)
            unencoded.popleft()
            items += 1
        return items, chars

    def _spill(self, items: list[LiveTrace | Record]) -> None:
        self._spool_records(self._records_of(items))

    def _spool_records(self, records: list[Record], sets: dict[str, dict[str, str]] | None = None) -> None:
        self._keeper.spool_records(records, sets)
        self._wake.set()

    def flush(self, timeout_seconds: float | None = 30.0) -> bool:
        """Block until everything queued before the call (and this process's spool) is stored.

        Also waits for the replay of dead processes' spools that opening the store started,
        so a read right after start-up sees them. Returns True only if all of that is stored:
        False if ``timeout_seconds`` passed first (None: no limit), or if a trace submitted
        here was dropped or quarantined meanwhile (see ``autolog.stats()``).
        """
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        if self._closed:
            successor = self.successor
            if successor is not None:
                return successor.flush(timeout_seconds)
            return self._handled >= self._submitted and not self.spool.pending
        if (self._worker is None or self._stopping) and not self._start_worker():
            self._export_on_this_thread(time.monotonic() + (10.0 if deadline is None else timeout_seconds or 0.0))
        with self._cond:
            target, lost = self._submitted, self._lost
            self._flushing += 1  # the worker writes what it holds instead of waiting for a full batch
            try:
                while (self._handled < target or self.spool.pending or self._replayer.busy):
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._wake.set()
                    self._cond.wait(remaining if remaining is None else min(remaining, 0.05))
            finally:
                self._flushing -= 1
            return self._lost == lost

    # -- worker side -------------------------------------------------------------------------------
    def _start_worker(self) -> bool:
        """Start the worker unless it runs (first use, after fork); False if it cannot (counted, never raised)."""
        with self._cond:
            if self._closed:
                return False
            if self._worker_pid == os.getpid() and self._worker is not None and self._worker.is_alive():
                return True
            worker = threading.Thread(target=self._run, name="autolog-exporter", daemon=True)
            try:
                worker.start()
            except Exception as exc:  # at interpreter shutdown (3.12+), at a thread limit: flush() exports instead
                if report_internal_error("export.start_worker", exc):
                    return False
                raise
            self._worker, self._worker_pid = worker, os.getpid()
            return True

    def _run(self) -> None:
        SUPPRESSED.set(True)  # nothing the worker does is traced
        self._replayer.replay(orphans=True)
        delay = self.schedule_delay_seconds
        pending_items = 0  # the queue items self._held came from (flush() counts items)
        held_chars = 0  # span content in self._held
        unchecked_chars = 0  # span content written since the exporter's last maintain()
        oldest = 0.0  # when the oldest held record was taken from the queue
        while True:
            self._wake.wait(max(0.0, oldest + delay - time.monotonic()) if pending_items else delay)
            self._wake.clear()
            # Traces are encoded as soon as the worker wakes (that frees their objects), but
            # written in big transactions: a commit costs as much as tens of traces (the last
            # page of every B-tree is rewritten to the WAL each time), so records wait until a
            # full batch, the schedule delay, a flush() or shutdown asks for them.
            while True:
                if not self._unencoded:
                    # Taken straight into the deque shutdown looks at: no item is ever only in a local.
                    self._take_into(self._unencoded)
                took, chars = self._encode_into_held(_WRITE_AT_CHARS - held_chars)
                if took:
                    if not pending_items:
                        oldest = time.monotonic()
                    pending_items += took
                    held_chars += chars
                full = self._snapshots or len(self._held) >= self.max_batch_size or held_chars >= _WRITE_AT_CHARS
                asked = not took and (self._flushing or self._stopping or time.monotonic() - oldest >= delay)
                if pending_items and (full or asked):
                    self._store(self._held, pending_items)
                    unchecked_chars += held_chars
                    self._held, pending_items, held_chars = [], 0, 0
                if not took:
                    break
            if unchecked_chars >= _MAINTAIN_AT_CHARS and not self._flushing:
                # After the writes, so no flush() waits for it: a WAL checkpoint's copy and fsyncs
                # run while the application works (SQLite releases the GIL meanwhile).
                unchecked_chars = 0
                with handle_internal_errors("export.maintain"):  # the next one catches up
                    self.exporter.maintain()
            self._replayer.replay_due()
            with self._cond:
                self._cond.notify_all()
                # Not while records are pending: stopping may have been asked since the check
                # above, and the next turn writes them (shutdown sets the wake event).
                if self._stopping and not self._queue and not pending_items:
                    return

    def _take_into(self, batch: _Batch) -> _Batch:
        """Move up to ``max_batch_size`` queued items into ``batch``; returns it."""
        # deque.popleft is atomic: taking items needs no lock, so application threads
        # appending under the lock never wait for the worker.
        popleft = self._queue.popleft
        try:
            while len(batch) < self.max_batch_size:
                batch.append(popleft())
        except IndexError:
            pass
        return batch

    def _store(self, records: list[Record], handled: int) -> None:
        """Export records in one batch (spool what the store did not take); ``handled`` queue items are then done."""
        sets = metadata_sets_of(records)
        delivery = self._keeper.write(records, sets)
        self._keeper.counters.incr("exported", delivery.stored)
        if delivery.unsent:  # keep the data: spool it for a later replay
            self._spool_records(delivery.unsent, sets)
        else:
            self._replayer.store_works()
        with self._cond:
            self._handled += handled
            self._cond.notify_all()

    # -- shutdown and fork -------------------------------------------------------------------------
    def shutdown(self, timeout_seconds: float = 10.0, keep_open_traces: bool = False) -> None:
        """Flush with a deadline and spool what is left, for good; open traces are stored as IN_PROGRESS,
        unless ``keep_open_traces`` (configure(): they end later and go to the successor)."""
        if not keep_open_traces:
            for trace in self.open_traces.drain():  # root never ended: store what there is, as IN_PROGRESS
                trace.export_now()  # after a first shutdown: to the successor or the spool
        if self._closed:
            return
        deadline = time.monotonic() + timeout_seconds
        if self._handled < self._submitted or self.spool.pending:  # queued, or held by the worker
            self.flush(timeout_seconds)
        stuck = self._handled < self._submitted
        leftover: list[LiveTrace | Record] = []
        while batch := self._take_into([]):  # atomic pops: a trace the worker takes meanwhile is not taken twice
            leftover.extend(batch)
        if stuck:
            # The worker is stuck (a locked store, a trace slow to serialize): spool what it has yet
            # to encode and what it holds, read in that order (an item moves from the first to the
            # second). If its write succeeds after all, the copy is written again later, harmlessly.
            unencoded, held = list(self._unencoded), list(self._held)
            self._spool_records(held)
            self._spool_records([record for item in unencoded
                                 if (record := self._record_of(item, lock_wait=0.1)) is not None])
        with self._cond:
            self._handled += len(leftover)
            self._stopping = self._closed = True
        if leftover:
            self._spill(leftover)
        self._wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread() and worker.ident is not None:
            worker.join(max(0.0, deadline - time.monotonic()))
        if worker is None or not worker.is_alive():
            self.spool.close()  # what is left in it is for any live process (or the next one) to replay
        with handle_internal_errors("export.shutdown"):
            self.exporter.shutdown(timeout_seconds)

    def _export_on_this_thread(self, deadline: float) -> None:
        if self._replayer.orphans_due:
            self._replayer.replay(orphans=True)
        while self._queue and time.monotonic() < deadline:
            batch = self._take_into([])
            self._store(self._records_of(batch), len(batch))
        if self.spool.pending and time.monotonic() < deadline:
            self._replayer.replay(orphans=False)

    def after_fork_in_child(self) -> None:
        """Start afresh in a forked child: the parent's queue, worker, spool file and open traces stay its own."""
        self._init_state()
        self._keeper.after_fork()
        self.open_traces.after_fork()
