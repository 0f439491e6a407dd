"""Spans: ``Span`` is one finished (or read-back) span of a trace, with MLflow's fields.

Spans being recorded are ``autolog._tracing.LiveSpan``, a subclass. Classes use
``__slots__`` because a span is created on the application's thread for every traced call.
"""

from __future__ import annotations

import time
import traceback
from operator import attrgetter
from typing import Any

from autolog._serialize import safe_str
from autolog.entities.keys import SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE, TRACE_REQUEST_ID

__all__ = ["Span", "SpanEvent", "SpanStatus", "SpanStatusCode", "SpanType"]

_time_ns = time.time_ns


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


# Shared, never changed: a span replaces its status rather than editing it.
UNSET_STATUS = SpanStatus(SpanStatusCode.UNSET)
OK_STATUS = SpanStatus(SpanStatusCode.OK)


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
            "exception.message": safe_str(exc),  # a user's __str__ may raise
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


class Span:
    """One finished (or read-back) span of a trace. Treat it as read-only."""

    __slots__ = ("_attributes", "_end_time_ns", "_events", "_inputs", "_name", "_outputs", "_parent_id",
                 "_span_id", "_span_type", "_start_time_ns", "_status", "_trace_id")

    def __init__(self, trace_id: str, span_id: str, parent_id: str | None, name: str, span_type: str,
                 start_time_ns: int, end_time_ns: int | None = None, status: SpanStatus = UNSET_STATUS,
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

    # Read-only fields; attrgetter (C) rather than a lambda because the export worker reads them per span.
    trace_id = property(attrgetter("_trace_id"), doc="The trace id (``tr-<32 hex>``).")
    request_id = trace_id  # MLflow 2 name
    span_id = property(attrgetter("_span_id"), doc="16 hex digits.")
    parent_id = property(attrgetter("_parent_id"), doc="The parent's span id, None for the root span.")
    name = property(attrgetter("_name"))
    span_type = property(attrgetter("_span_type"))
    start_time_ns = property(attrgetter("_start_time_ns"))
    end_time_ns = property(attrgetter("_end_time_ns"))
    status = property(attrgetter("_status"))
    inputs = property(attrgetter("_inputs"))
    outputs = property(attrgetter("_outputs"))
    events = property(attrgetter("_events"))

    @property
    def attributes(self) -> dict[str, Any]:
        """Attributes as MLflow shows them: with ``mlflow.traceRequestId`` (the trace id), ``mlflow.spanType``,
        and ``mlflow.spanInputs``/``mlflow.spanOutputs`` unless they are None (MLflow leaves them out then)."""
        merged = {TRACE_REQUEST_ID: self._trace_id, SPAN_TYPE: self._span_type}
        merged.update(self._attributes)
        merged[SPAN_TYPE] = self._span_type
        if self._inputs is not None:
            merged[SPAN_INPUTS] = self._inputs
        if self._outputs is not None:
            merged[SPAN_OUTPUTS] = self._outputs
        return merged

    recorded_attributes = property(attrgetter("_attributes"), doc=(
        "The attributes as recorded, without the reserved keys ``attributes`` adds. Not a copy: do not change it."))

    def fields(self) -> tuple[Any, ...]:
        """Every field at once, as recorded: ``(span_id, parent_id, name, span_type, start_time_ns,
        end_time_ns, status, inputs, outputs, recorded_attributes, events)``.

        For encoders, which read all of them per span: one call instead of eleven property reads.
        """
        return (self._span_id, self._parent_id, self._name, self._span_type, self._start_time_ns,
                self._end_time_ns, self._status, self._inputs, self._outputs, self._attributes, self._events)

    def get_attribute(self, key: str) -> Any:
        return self.attributes.get(key)

    @property
    def duration_ns(self) -> int | None:
        return None if self._end_time_ns is None else self._end_time_ns - self._start_time_ns

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self._name!r}, span_type={self._span_type!r}, "
                f"span_id={self._span_id!r}, parent_id={self._parent_id!r}, status={self._status.status_code})")
