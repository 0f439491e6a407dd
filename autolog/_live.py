"""A trace while it is being recorded, and the registry of traces still open.

When the root span ends the trace is handed to its exporter. A span that ends after
that (a thread or generator that outlived its parent) hands the trace over again: the
store's writes are idempotent by trace id, so the stored trace simply gains the span.
Nothing that was recorded is left behind.

Once a trace is encoded with no span open, it lets go of its span objects and keeps
their encoded rows instead (``release``). Spans point to their trace and the trace to
its spans: without that release every trace would be a reference cycle that only the
garbage collector can free, and each one left for it makes collections come sooner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from autolog._span import LiveSpan, new_span_id
from autolog._store._codec import SPANS_FIELD, Record

__all__ = ["LiveTrace", "OpenTraces"]


class LiveTrace:
    """The spans and trace-level fields of one trace being recorded."""

    # No __slots__: fields most traces never set are class-level defaults, so creating a
    # trace (once per traced call) stores only what every trace has.
    client_request_id: str | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    state: str | None = None  # set by update_current_trace(state=...); else derived from the root
    root: LiveSpan | None = None
    root_ended = False
    request_time_ms = 0  # set from the root span's start
    stored_spans: tuple[tuple[Any, ...], ...] = ()  # rows of the spans released after an encoding
    # True from a hand-over until the trace is encoded: a span that ends after the
    # encoding hands the trace over again, exactly once.
    queued = False

    def __init__(self, trace_id: str, experiment_id: str, metadata: dict[str, str],
                 sink: Callable[[LiveTrace], None], registry: OpenTraces | None) -> None:
        self.trace_id = trace_id
        self.experiment_id = experiment_id
        self.metadata = metadata  # per-trace keys; process metadata is merged on export
        self.tags: dict[str, str] = {}
        self.spans: list[LiveSpan] = []
        self._open = 0
        self._lock = threading.Lock()
        self._sink = sink
        self._registry = registry

    def start_root(self, name: str, span_type: str, start_time_ns: int | None = None, inputs: Any = None,
                   attributes: dict[str, Any] | None = None) -> LiveSpan:
        """Open the root span of this new trace, then make the trace findable by id (no lock: not shared yet)."""
        root = LiveSpan(self, new_span_id(), None, name, span_type, start_time_ns, inputs, attributes)
        self._open = 1
        self.spans.append(root)
        self.root = root
        self.request_time_ms = root._start_time_ns // 1_000_000
        if self._registry is not None:
            self._registry.add(self)
        return root

    def new_span(self, span_id: str, parent_id: str | None, name: str, span_type: str,
                 start_time_ns: int | None = None, inputs: Any = None,
                 attributes: dict[str, Any] | None = None) -> LiveSpan:
        span = LiveSpan(self, span_id, parent_id, name, span_type, start_time_ns, inputs, attributes)
        with self._lock:
            self._open += 1
            self.spans.append(span)
        return span

    def span_ended(self, span: LiveSpan) -> None:
        with self._lock:
            self._open -= 1
            is_root = span is self.root
            if is_root:
                self.root_ended = True
            hand_over = self.root_ended and not self.queued
            if hand_over:
                self.queued = True
        if hand_over:
            if is_root and self._registry is not None:
                self._registry.remove(self.trace_id)
            self._sink(self)

    def encode(self, encoder: Callable[[LiveTrace], Record], only_if_cheap: bool = False,
               then: Callable[[Record], None] | None = None, lock_wait: float = -1) -> Record | None:
        """The trace as a store record (``encoder`` makes it), made under the trace's lock.

        A span that ends after this hands the trace over again. If no span is open, the
        span objects are released (see the module docstring).

        Args:
            only_if_cheap: encode only a trace whose spans have all ended and whose content is
                JSON already or an SDK response (what integrations record): cheap enough for
                the application's thread. Returns None for any other trace.
            then: called with the record under the same lock, so that two hand-overs of one
                trace reach the export queue in the order they were encoded.
            lock_wait: seconds to wait for the trace's lock (-1: as long as it takes); None is
                returned if another thread still holds it then (the worker, encoding it).
        """
        if not self._lock.acquire(timeout=lock_wait):
            return None
        try:
            if only_if_cheap and (self._open or not all(s.is_cheap_to_encode() for s in self.spans)):
                return None
            self.queued = False
            record = encoder(self)
            if not self._open:
                self.release(record[SPANS_FIELD])
            if then is not None:
                then(record)
        finally:
            self._lock.release()
        return record

    def release(self, rows: tuple[tuple[Any, ...], ...]) -> None:
        """Drop the (ended) span objects, keeping their encoded rows for a later re-send."""
        self.stored_spans = rows
        self.spans = []
        self.root = None

    def export_now(self) -> None:
        """Hand over the trace as it is (used at exit for traces whose root never ended)."""
        with self._lock:
            if self.queued:
                return
            self.queued = True
        self._sink(self)

    @property
    def open_spans(self) -> int:
        return self._open

    def find_span(self, span_id: str) -> LiveSpan | None:
        for span in self.spans:
            if span.span_id == span_id:
                return span
        return None

    def set_tag(self, key: str, value: Any) -> None:
        self.tags[key] = str(value)


class OpenTraces:
    """Traces whose root span has not ended yet, by id (for the explicit-parent Client API).

    Every trace passes through here, so it uses single dict operations, which are atomic
    (under the GIL, and per-object locked on free-threaded builds), instead of a lock.
    """

    def __init__(self) -> None:
        self._traces: dict[str, LiveTrace] = {}

    def add(self, trace: LiveTrace) -> None:
        self._traces[trace.trace_id] = trace

    def remove(self, trace_id: str) -> None:
        self._traces.pop(trace_id, None)

    def get(self, trace_id: str) -> LiveTrace | None:
        return self._traces.get(trace_id)

    def drain(self) -> list[LiveTrace]:
        traces, self._traces = self._traces, {}
        return list(traces.values())

    def __len__(self) -> int:
        return len(self._traces)

    def _after_fork(self) -> None:
        # The child has none of the parent's threads; their open traces are not its own.
        self._traces = {}
