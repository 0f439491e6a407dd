"""Spans: the finished record (``Span``) and the one being recorded (``LiveSpan``).

A span is created on the application thread, so this module is on the hot path of every
traced call: classes use ``__slots__``, ids come from ``random.getrandbits`` (no
``uuid``/``os.urandom`` syscall), and nothing is serialized here. Inputs and outputs are
kept by reference and turned into JSON on the export worker.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autolog._serialize import JsonText

if TYPE_CHECKING:
    from autolog._live import LiveTrace

__all__ = ["DeferredOutputs", "LiveSpan", "NoOpSpan", "Span", "SpanEvent", "SpanStatus", "SpanStatusCode", "SpanType"]

_time_ns = time.time_ns
# Inputs/outputs whose JSON is known without walking an object graph.
_JSON_READY = frozenset((type(None), JsonText, str, int, float, bool))
_MASK_64 = (1 << 64) - 1
_SPREAD = 0x9E3779B97F4A7C15  # odd, so multiplying by it permutes 64-bit values: distinct in, distinct out


def _reseed() -> None:
    # A counter from a random start, spread over 64 bits: ids are unique in the process and
    # look random, without touching a random generator's state on every span (cold on the
    # application's thread, that costs more than the whole id). A forked child starts anew.
    global _next_id
    _next_id = itertools.count(random.getrandbits(64)).__next__


_next_id: Callable[[], int] = itertools.count().__next__
_reseed()
os.register_at_fork(after_in_child=_reseed)


def new_span_id() -> str:
    return ((_next_id() * _SPREAD) & _MASK_64).to_bytes(8, "big").hex()


def new_trace_id() -> str:
    # Time-ordered (64 bits of nanoseconds, then 64 random bits): still a valid 128-bit
    # OpenTelemetry trace id, but the store's B-trees receive new ids at their right edge
    # instead of at random pages (fast ingest as the store grows), and traces started in
    # the same millisecond still sort in the order they started.
    return "tr-" + ((_time_ns() << 64) | ((_next_id() * _SPREAD) & _MASK_64)).to_bytes(16, "big").hex()


class SpanType:
    """The kinds of span, as plain strings (the same values as ``mlflow.entities.SpanType``)."""

    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    CHAIN = "CHAIN"
    AGENT = "AGENT"
    TOOL = "TOOL"
    RETRIEVER = "RETRIEVER"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"
    PARSER = "PARSER"
    MEMORY = "MEMORY"
    WORKFLOW = "WORKFLOW"
    TASK = "TASK"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"
    UNKNOWN = "UNKNOWN"
    # autolog's addition: a prompt-template step (LangChain run_type "prompt"); MLflow shows it as a custom type.
    PROMPT = "PROMPT"


class SpanStatusCode:
    """Span status codes (``UNSET`` only while a span is still open)."""

    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"


class SpanStatus:
    """A status code with an optional description (the error message for ``ERROR``)."""

    __slots__ = ("description", "status_code")

    def __init__(self, status_code: str, description: str = "") -> None:
        if isinstance(status_code, SpanStatus):
            status_code, description = status_code.status_code, status_code.description or description
        code = str(status_code).upper()
        if code.startswith("STATUS_CODE_"):
            code = code[len("STATUS_CODE_"):]
        if code not in (SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR):
            raise ValueError(f"span status must be one of OK, ERROR, UNSET; got {status_code!r}")
        self.status_code = code
        self.description = description

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SpanStatus) and other.status_code == self.status_code
                and other.description == self.description)

    def __hash__(self) -> int:
        return hash((self.status_code, self.description))

    def __repr__(self) -> str:
        return f"SpanStatus({self.status_code!r}, {self.description!r})"


_UNSET_STATUS = SpanStatus(SpanStatusCode.UNSET)
_OK_STATUS = SpanStatus(SpanStatusCode.OK)


class SpanEvent:
    """A point-in-time event on a span (``exception`` events carry type, message and stacktrace)."""

    __slots__ = ("attributes", "name", "timestamp_ns")

    def __init__(self, name: str, timestamp_ns: int | None = None, attributes: dict[str, Any] | None = None) -> None:
        self.name = name
        self.timestamp_ns = _time_ns() if timestamp_ns is None else timestamp_ns
        self.attributes = attributes or {}

    @classmethod
    def from_exception(cls, exc: BaseException) -> SpanEvent:
        return cls("exception", attributes={
            "exception.type": type(exc).__qualname__ if type(exc).__module__ == "builtins"
            else f"{type(exc).__module__}.{type(exc).__qualname__}",
            "exception.message": str(exc),
            "exception.stacktrace": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        })

    # MLflow names the field `timestamp` (ns).
    @property
    def timestamp(self) -> int:
        return self.timestamp_ns

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SpanEvent) and (self.name, self.timestamp_ns, self.attributes)
                == (other.name, other.timestamp_ns, other.attributes))

    def __repr__(self) -> str:
        return f"SpanEvent({self.name!r}, attributes={self.attributes!r})"


class DeferredOutputs:
    """Outputs an integration leaves to be converted when the span is encoded.

    An integration ends a span with ``outputs=<subclass>(raw result)``; when the trace is
    encoded (see ``_export``), ``resolve()`` gives the outputs and attributes to record. The
    conversion (an SDK response to JSON, its usage) then runs once, with the rest of the
    encoding, and never if tracing of the call is abandoned. Only for results the caller
    does not change afterwards (an SDK's response objects).
    """

    __slots__ = ()

    def resolve(self) -> tuple[Any, dict[str, Any] | None]:
        raise NotImplementedError


class Span:
    """One finished (or read-back) span of a trace. Treat it as read-only."""

    __slots__ = ("_attributes", "_end_time_ns", "_events", "_inputs", "_name", "_outputs", "_parent_id",
                 "_span_id", "_span_type", "_start_time_ns", "_status", "_trace_id")

    def __init__(self, trace_id: str, span_id: str, parent_id: str | None, name: str, span_type: str,
                 start_time_ns: int, end_time_ns: int | None = None, status: SpanStatus = _UNSET_STATUS,
                 inputs: Any = None, outputs: Any = None, attributes: dict[str, Any] | None = None,
                 events: list[SpanEvent] | None = None) -> None:
        self._trace_id = trace_id
        self._span_id = span_id
        self._parent_id = parent_id
        self._name = name
        self._span_type = span_type
        self._start_time_ns = start_time_ns
        self._end_time_ns = end_time_ns
        self._status = status
        self._inputs = inputs
        self._outputs = outputs
        self._attributes = {} if attributes is None else attributes
        self._events = [] if events is None else events

    trace_id = property(lambda self: self._trace_id, doc="The trace id (``tr-<32 hex>``).")
    request_id = trace_id  # MLflow 2 name
    span_id = property(lambda self: self._span_id, doc="16 hex digits.")
    parent_id = property(lambda self: self._parent_id, doc="The parent's span id, None for the root span.")
    name = property(lambda self: self._name)
    span_type = property(lambda self: self._span_type)
    start_time_ns = property(lambda self: self._start_time_ns)
    end_time_ns = property(lambda self: self._end_time_ns)
    status = property(lambda self: self._status)
    inputs = property(lambda self: self._inputs)
    outputs = property(lambda self: self._outputs)
    events = property(lambda self: self._events)

    @property
    def attributes(self) -> dict[str, Any]:
        """Attributes, including the reserved ``mlflow.spanType``/``mlflow.spanInputs``/``mlflow.spanOutputs``."""
        merged = dict(self._attributes)
        merged["mlflow.spanType"] = self._span_type
        merged["mlflow.spanInputs"] = self._inputs
        merged["mlflow.spanOutputs"] = self._outputs
        return merged

    def get_attribute(self, key: str) -> Any:
        return self.attributes.get(key)

    @property
    def duration_ns(self) -> int | None:
        return None if self._end_time_ns is None else self._end_time_ns - self._start_time_ns

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self._name!r}, span_type={self._span_type!r}, "
                f"span_id={self._span_id!r}, parent_id={self._parent_id!r}, status={self._status.status_code})")


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
        self._name = name
        self._span_type = span_type
        self._start_time_ns = _time_ns() if start_time_ns is None else start_time_ns
        self._end_time_ns = None
        self._status = _UNSET_STATUS
        self._inputs = inputs
        self._outputs = None
        self._attributes = {} if attributes is None else attributes  # the caller's dict, owned from here on
        self._events = []

    @property
    def is_ended(self) -> bool:
        return self._end_time_ns is not None

    def is_cheap_to_encode(self) -> bool:
        """Ended, with inputs that are JSON already and outputs that are JSON or an SDK response."""
        return (self._end_time_ns is not None and type(self._inputs) in _JSON_READY
                and (type(self._outputs) in _JSON_READY or isinstance(self._outputs, DeferredOutputs)))

    def set_inputs(self, inputs: Any) -> None:
        if self._end_time_ns is None:
            self._inputs = inputs

    def set_outputs(self, outputs: Any) -> None:
        if self._end_time_ns is None:
            self._outputs = outputs

    def set_attribute(self, key: str, value: Any) -> None:
        if self._end_time_ns is None:
            self._attributes[key] = value

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        if self._end_time_ns is None:
            self._attributes.update(attributes)

    def set_span_type(self, span_type: str) -> None:
        if self._end_time_ns is None:
            self._span_type = span_type

    def add_event(self, event: SpanEvent) -> None:
        if self._end_time_ns is None:
            self._events.append(event)

    def record_exception(self, exc: BaseException | str) -> None:
        """Add an ``exception`` event and set the status to ERROR (message = the exception's text)."""
        if self._end_time_ns is not None:
            return
        if isinstance(exc, BaseException):
            self._events.append(SpanEvent.from_exception(exc))
            self._status = SpanStatus(SpanStatusCode.ERROR, f"{type(exc).__name__}: {exc}")
        else:
            self._events.append(SpanEvent("exception", attributes={"exception.message": str(exc)}))
            self._status = SpanStatus(SpanStatusCode.ERROR, str(exc))

    def set_status(self, status: SpanStatus | str) -> None:
        if self._end_time_ns is None:
            self._status = status if isinstance(status, SpanStatus) else SpanStatus(status)

    def end(self, outputs: Any = None, attributes: dict[str, Any] | None = None,
            status: SpanStatus | str | None = None, end_time_ns: int | None = None) -> None:
        """End the span (only the first call counts). Never raises; never blocks on I/O."""
        if self._end_time_ns is not None:
            return
        if outputs is not None:
            self._outputs = outputs
        if attributes:
            self._attributes.update(attributes)
        if status is not None:
            self._status = status if isinstance(status, SpanStatus) else SpanStatus(status)
        elif self._status.status_code == SpanStatusCode.UNSET:
            self._status = _OK_STATUS
        self._end_time_ns = _time_ns() if end_time_ns is None else end_time_ns
        self._trace.span_ended(self)


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
    status = _UNSET_STATUS

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
