"""A trace while it is being recorded, and the registry of traces still open.

When the root span ends the trace is handed to its exporter. A span that ends after
that (a thread or generator that outlived its parent) hands the trace over again: the
store's writes are idempotent by trace id, so the stored trace simply gains the span.
Nothing that was recorded is left behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from autolog._span import LiveSpan

__all__ = ["LiveTrace", "OpenTraces"]


class LiveTrace:
    """The spans and trace-level fields of one trace being recorded."""

    __slots__ = ("_lock", "_open", "_registry", "_sink", "client_request_id", "experiment_id", "metadata",
                 "queued", "request_preview", "request_time_ms", "response_preview", "root", "spans", "state",
                 "tags", "trace_id")

    def __init__(self, trace_id: str, experiment_id: str, metadata: dict[str, str],
                 sink: Callable[[LiveTrace], None], registry: OpenTraces | None) -> None:
        self.trace_id = trace_id
        self.experiment_id = experiment_id
        self.metadata = metadata  # per-trace keys; process metadata is merged on export
        self.tags: dict[str, str] = {}
        self.spans: list[LiveSpan] = []
        self.root: LiveSpan | None = None
        self.client_request_id: str | None = None
        self.request_preview: str | None = None
        self.response_preview: str | None = None
        self.state: str | None = None  # set by update_current_trace(state=...); else derived from the root
        self.request_time_ms = 0  # set from the root span's start
        # True while this trace sits in the export queue; the worker clears it before it
        # serializes, so a late span end re-queues exactly once.
        self.queued = False
        self._open = 0
        self._lock = threading.Lock()
        self._sink = sink
        self._registry = registry
        if registry is not None:
            registry.add(self)

    def new_span(self, span_id: str, parent_id: str | None, name: str, span_type: str,
                 start_time_ns: int | None = None) -> LiveSpan:
        span = LiveSpan(self, span_id, parent_id, name, span_type, start_time_ns)
        with self._lock:
            self._open += 1
            self.spans.append(span)
            if parent_id is None and self.root is None:
                self.root = span
                self.request_time_ms = span.start_time_ns // 1_000_000
        return span

    def span_ended(self, span: LiveSpan) -> None:
        with self._lock:
            self._open -= 1
            root = self.root
            hand_over = root is not None and root.end_time_ns is not None and not self.queued
            if hand_over:
                self.queued = True
        if hand_over:
            if span is root and self._registry is not None:
                self._registry.remove(self.trace_id)
            self._sink(self)

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
