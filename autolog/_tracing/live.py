"""Spans and traces while they are being recorded, and the registry of traces still open.

Everything here runs on the application's thread for every traced call: classes use
``__slots__`` where they are made per span, setters store references, and nothing is
serialized here (inputs and outputs are turned into JSON on the export worker).

When the root span ends, the trace is handed to its sink (the export pipeline of the
client that made it). A span that ends after that (a thread or generator that outlived its
parent) hands the trace over again: the store's writes are idempotent by trace id, so the
stored trace simply gains the span. Nothing that was recorded is left behind.

Once a trace is encoded with no span open, it lets go of its span objects and keeps
their encoded rows instead (``release``). Spans point to their trace and the trace to
its spans: without that release every trace would be a reference cycle that only the
garbage collector can free, and each one left for it makes collections come sooner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog._serialize import JsonText, safe_str
from autolog._tracing.coerce import check_time_ns
from autolog._tracing.ids import new_span_id
from autolog._tracing.open_traces import OpenTraces
from autolog.entities.span import OK_STATUS, UNSET_STATUS, Span, SpanEvent, SpanStatus, SpanStatusCode, SpanType

__all__ = ["DeferredOutputs", "LiveSpan", "LiveTrace", "NoOpSpan", "OpenTraces"]

_time_ns = time.time_ns
_event_time = attrgetter("timestamp_ns")
# Inputs/outputs whose JSON is known without walking an object graph.
_JSON_READY = frozenset((type(None), JsonText, str, int, float, bool))


class DeferredOutputs:
    """Outputs an integration leaves to be converted when the span is encoded.

    An integration ends a span with ``outputs=<subclass>(raw result)``; when the trace is
    encoded (``autolog._export.encode``), ``resolve()`` gives the outputs and attributes to
    record. The conversion (an SDK response to JSON, its usage) then runs once, with the
    rest of the encoding, and never if tracing of the call is abandoned. Only for results the caller
    does not change afterwards (an SDK's response objects).
    """

    __slots__ = ()
    # False for outputs whose conversion walks the user's objects: the trace is then never encoded on the
    # application's thread (see ``LiveTrace.encode``'s ``only_if_cheap``).
    cheap_to_encode = True

    def resolve(self) -> tuple[Any, dict[str, Any] | None]:
        raise NotImplementedError

    def events(self) -> list[SpanEvent]:
        """Events to add to the span when it is encoded (merged with its own in time order)."""
        return []

    def previews(self) -> tuple[str | None, str | None] | None:
        """The request and response previews of a root span, if the integration knows them (after ``resolve``)."""
        return None


class LiveSpan(Span):
    """A span that is still being recorded. Thread-safe enough for one writer per span.

    Setters are cheap (they store references); every setter is a no-op once the span
    has ended, so a late write can never corrupt an exported trace.
    """

    __slots__ = ("_trace",)

    def __init__(self, trace: LiveTrace, span_id: str, parent_id: str | None, name: str, span_type: str,
                 start_time_ns: int | None = None, inputs: Any = None,
                 attributes: dict[str, Any] | None = None) -> None:
        # Every slot set here, not through Span.__init__: one frame less on every traced call.
        self._trace = trace
        self._trace_id = trace.trace_id
        self._span_id = span_id
        self._parent_id = parent_id
        # A name or type that is not a str would make the store reject the whole batch.
        self._name = name if type(name) is str else safe_str(name)
        self._span_type = span_type if type(span_type) is str else safe_str(span_type)
        self._start_time_ns = _time_ns() if start_time_ns is None else check_time_ns(start_time_ns, "start_time_ns")
        self._end_time_ns = None
        self._status = UNSET_STATUS
        self._inputs = inputs
        self._outputs = None
        self._attributes = {} if attributes is None else attributes  # the caller's dict, owned from here on
        self._events = []

    @property
    def is_ended(self) -> bool:
        return self._end_time_ns is not None

    @property
    def live_trace(self) -> LiveTrace:
        """The trace this span belongs to, while it is recorded."""
        return self._trace

    def start_child(self, name: str, span_type: str = SpanType.UNKNOWN, start_time_ns: int | None = None,
                    inputs: Any = None, attributes: dict[str, Any] | None = None) -> LiveSpan:
        """Open a child span (not made current). ``attributes`` is owned by the span from here on."""
        return self._trace.new_span(new_span_id(), self._span_id, name, span_type, start_time_ns, inputs, attributes)

    def resolve_deferred_outputs(self) -> None:
        """Turn ``DeferredOutputs`` into the outputs and attributes to record (on the export worker)."""
        deferred = self._outputs
        if isinstance(deferred, DeferredOutputs):
            outputs, attributes = deferred.resolve()
            self._outputs = outputs
            if attributes:
                self._attributes.update(attributes)
            events = deferred.events()
            if events:
                self._events = sorted(events + self._events, key=_event_time)
            if self._parent_id is None:
                self._trace.fast_previews = deferred.previews()

    def is_cheap_to_encode(self) -> bool:
        """Ended, with inputs that are JSON already and outputs that are JSON or an SDK response."""
        return (self._end_time_ns is not None and type(self._inputs) in _JSON_READY
                and (type(self._outputs) in _JSON_READY
                     or (isinstance(self._outputs, DeferredOutputs) and self._outputs.cheap_to_encode)))

    def set_inputs(self, inputs: Any) -> None:
        if self._end_time_ns is None:
            self._inputs = inputs

    def set_outputs(self, outputs: Any) -> None:
        if self._end_time_ns is None:
            self._outputs = outputs

    def set_attribute(self, key: str, value: Any) -> None:
        if self._end_time_ns is None:
            self._attributes[key] = value

    def set_attributes(self, attributes: dict[str, Any] | None) -> None:
        """Set several attributes; None (or an empty dict) sets nothing.

        Raises:
            InvalidArgumentError: ``attributes`` is not a mapping.
        """
        if not attributes:
            return
        if not isinstance(attributes, Mapping):
            raise InvalidArgumentError(f"set_attributes() takes a dict of attributes, got {type(attributes).__name__}")
        if self._end_time_ns is None:
            self._attributes.update(attributes)

    def set_span_type(self, span_type: str) -> None:
        if self._end_time_ns is None:
            self._span_type = span_type if type(span_type) is str else safe_str(span_type)

    def add_event(self, event: SpanEvent | str) -> None:
        """Add an event; a str is an event of that name, anything else is kept as a readable ``invalid_event``."""
        if self._end_time_ns is None:
            if type(event) is not SpanEvent:
                event = as_event(event)
            self._events.append(event)

    def record_exception(self, exc: BaseException | str) -> None:
        """Add an ``exception`` event and set the status to ERROR (``"<type>: <message>"``), as MLflow does.

        A str is recorded as an ``Exception`` with that message.

        Raises:
            InvalidArgumentError: ``exc`` is neither an exception nor a str (MLflow's message).
        """
        if isinstance(exc, str):
            exc = Exception(str.__str__(exc))
        elif not isinstance(exc, BaseException):
            raise InvalidArgumentError("The `exception` parameter must be an Exception instance or a string.")
        if self._end_time_ns is not None:
            return
        self._events.append(SpanEvent.from_exception(exc))
        self._status = SpanStatus(SpanStatusCode.ERROR, f"{type(exc).__name__}: {safe_str(exc)}")

    def set_status(self, status: SpanStatus | str) -> None:
        if self._end_time_ns is None:
            self._status = status if isinstance(status, SpanStatus) else SpanStatus(status)

    def end(self, outputs: Any = None, attributes: dict[str, Any] | None = None,
            status: SpanStatus | str | None = None, end_time_ns: int | None = None) -> None:
        """End the span (only the first call counts). Never blocks on I/O.

        Raises:
            InvalidArgumentError: ``end_time_ns`` is given and is not an int in the signed 64-bit range.
        """
        if self._end_time_ns is not None:
            return
        if end_time_ns is not None:
            end_time_ns = check_time_ns(end_time_ns, "end_time_ns")
        if outputs is not None:
            self._outputs = outputs
        if attributes:
            self._attributes.update(attributes)
        if status is not None:
            self._status = status if isinstance(status, SpanStatus) else SpanStatus(status)
        elif self._status.status_code == SpanStatusCode.UNSET:
            self._status = OK_STATUS
        self._end_time_ns = _time_ns() if end_time_ns is None else end_time_ns
        self._trace.span_ended(self)


def as_event(event: Any) -> SpanEvent:
    """``event`` if it is a SpanEvent; a str names a new event; anything else is kept as ``invalid_event``."""
    if isinstance(event, SpanEvent):
        return event
    if isinstance(event, str):
        return SpanEvent(str.__str__(event))
    # Kept rather than dropped: the encoder would otherwise fail on it and lose the whole trace.
    return SpanEvent("invalid_event", attributes={"autolog.event": safe_str(event),
                                                  "autolog.event_type": type(event).__qualname__})


class NoOpSpan:
    """Returned where a span cannot be recorded (tracing disabled, or an internal error).

    It accepts every LiveSpan call and records nothing, so user code written against
    ``start_span`` keeps working.
    """

    trace_id = None
    request_id = None
    span_id = None
    parent_id = None
    name = ""
    span_type = SpanType.UNKNOWN
    inputs = None
    outputs = None
    is_ended = True
    start_time_ns = 0
    end_time_ns = 0
    status = UNSET_STATUS

    @property
    def attributes(self) -> dict[str, Any]:
        return {}

    @property
    def events(self) -> list[SpanEvent]:
        return []

    def get_attribute(self, key: str) -> Any:
        return None

    def _noop(self, *args: Any, **kwargs: Any) -> None:
        return None

    set_inputs = set_outputs = set_attribute = set_attributes = set_span_type = _noop
    add_event = record_exception = set_status = end = _noop


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
    fast_previews: tuple[str | None, str | None] | None = None  # an integration's (see DeferredOutputs.previews)
    stored_spans: tuple[tuple[Any, ...], ...] = ()  # rows of the spans released after an encoding
    # True from a hand-over until the trace is encoded: a span that ends after the
    # encoding hands the trace over again, exactly once.
    queued = False
    _span_index: dict[str, LiveSpan] | None = None  # find_span's, over spans[:_indexed]
    _indexed = 0

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

    def encode(self, encoder: Callable[[LiveTrace], tuple[Any, tuple[Any, ...]]], only_if_cheap: bool = False,
               then: Callable[[Any], None] | None = None, lock_wait: float = -1) -> Any:
        """The trace as a store record, made under the trace's lock.

        ``encoder`` returns the record and the encoded rows of the trace's spans; both are
        opaque here (the export pipeline defines them), and the rows are kept by
        ``release`` for a later re-send.

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
            record, span_rows = encoder(self)
            if not self._open:
                self.release(span_rows)
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
        self._span_index = None

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
        """The open trace's span with this id, through an index built on first use and extended as spans come.

        Only the explicit-id Client API looks spans up, so the tracing path pays nothing for it, and a
        30,000-span trace ended span by span costs O(1) a lookup, not a scan of the trace.
        """
        with self._lock:
            if self._span_index is None:
                self._span_index, self._indexed = {}, 0
            for span in self.spans[self._indexed:]:
                self._span_index[span.span_id] = span
            self._indexed = len(self.spans)
            return self._span_index.get(span_id)

    def set_tag(self, key: str, value: Any) -> None:
        self.tags[key] = safe_str(value)

    def set_metadata(self, key: str, value: Any, replace: bool = True) -> None:
        """Set a per-trace metadata key (as str); with ``replace=False`` a value already set is kept."""
        if replace or key not in self.metadata:
            self.metadata[key] = safe_str(value)
