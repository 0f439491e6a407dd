"""The MLflow JSON form of traces: what ``Trace.to_json`` writes and ``Trace.from_json`` reads.

``Trace.to_json()`` writes what ``mlflow.entities.Trace.from_json`` reads (checked against
MLflow 3.17):

- ``info``: the TraceInfoV3 proto as JSON (``MessageToDict`` with proto field names), except
  that the duration is ``execution_duration_ms`` (int), as MLflow's ``TraceInfo.to_dict`` writes it.
  ``request_time`` is an RFC 3339 timestamp in protobuf's format; empty maps and lists are left out.
- ``data.spans``: OTLP-style span dicts with base64 trace/span ids, ``parent_span_id`` null for
  the root, every span attribute value JSON-encoded (``mlflow.traceRequestId``, ``mlflow.spanType``,
  ``mlflow.spanInputs``, ``mlflow.spanOutputs`` included), event attributes as plain values, and
  ``links``.

``Trace.from_json`` reads that form, the earlier MLflow 3 forms (``execution_duration`` as a
``"1.5s"`` duration, hex span ids) and MLflow 2 traces (``request_id``, span ``context``). What autolog
has no field for (span links, unknown keys, assessment ``valid``/error details, the original text of
span attributes) is kept beside the trace, so ``to_json`` of a loaded trace gives back the JSON
it was read from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any, Protocol

from autolog._serialize import dumps
from autolog.entities._rfc3339 import ms_to_rfc3339, rfc3339_to_ms
from autolog.entities.assessment import assessment_to_dict, read_assessments
from autolog.entities.keys import SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE, TRACE_REQUEST_ID
from autolog.entities.span import Span, SpanEvent, SpanStatus

__all__ = ["InfoFields", "info_to_dict", "io_json", "jsonable", "read_info", "read_span", "span_to_dict"]

_EXPERIMENT_LOCATION = "MLFLOW_EXPERIMENT"
_INFO_KEYS = frozenset(("trace_id", "trace_location", "request_time", "state", "request_preview", "response_preview",
                        "client_request_id", "execution_duration_ms", "execution_duration", "trace_metadata", "tags",
                        "assessments", "experiment_id"))
_SPAN_KEYS = frozenset(("trace_id", "span_id", "parent_span_id", "name", "start_time_unix_nano", "end_time_unix_nano",
                        "events", "status", "attributes"))
_V2_STATES = {"OK": "OK", "ERROR": "ERROR", "IN_PROGRESS": "IN_PROGRESS",
              "TRACE_STATUS_UNSPECIFIED": "STATE_UNSPECIFIED", "UNSPECIFIED": "STATE_UNSPECIFIED"}


class InfoFields(Protocol):
    """The fields of a TraceInfo that its MLflow form is written from."""

    trace_id: str
    experiment_id: str
    request_time: int
    state: str
    execution_duration: int | None
    request_preview: str | None
    response_preview: str | None
    client_request_id: str | None
    trace_metadata: dict[str, str]
    tags: dict[str, str]
    assessments: list[Any]


# -- trace info -------------------------------------------------------------------------------------------

def info_to_dict(info: InfoFields, extra: dict[str, Any]) -> dict[str, Any]:
    """MLflow's ``TraceInfo.to_dict()`` form of a TraceInfo, with what its JSON carried beside its fields."""
    out: dict[str, Any] = {
        "trace_id": info.trace_id,
        "trace_location": extra.get("trace_location") or {
            "type": _EXPERIMENT_LOCATION, "mlflow_experiment": {"experiment_id": info.experiment_id}},
        "request_time": ms_to_rfc3339(info.request_time),
        "state": info.state,
    }
    if info.trace_metadata:
        out["trace_metadata"] = dict(info.trace_metadata)
    if info.tags:
        out["tags"] = dict(info.tags)
    if info.assessments:
        extras = extra.get("assessments") or {}
        out["assessments"] = [assessment_to_dict(a, extras.get(a.assessment_id)) for a in info.assessments]
    for key in ("request_preview", "response_preview", "client_request_id"):
        value = getattr(info, key)
        if value is not None:
            out[key] = value
    if info.execution_duration is not None:
        out["execution_duration_ms"] = int(info.execution_duration)
    out.update(extra.get("unknown") or {})
    return out


def read_info(d: dict[str, Any]) -> dict[str, Any]:
    """The TraceInfo fields of MLflow 3's TraceInfo dict (any 3.x form) or MLflow 2's (``request_id``...)."""
    if "request_id" in d and "trace_id" not in d:
        return _info_from_v2(d)
    extra: dict[str, Any] = {}
    location = d.get("trace_location") or {}
    experiment = location.get("mlflow_experiment") or {}
    if location and (location.get("type") != _EXPERIMENT_LOCATION or set(location) != {"type", "mlflow_experiment"}
                     or set(experiment) != {"experiment_id"}):
        extra["trace_location"] = location  # not an experiment (or more than one): written back as read
    experiment_id = experiment.get("experiment_id") or d.get("experiment_id") or ("" if location else "0")
    duration = d.get("execution_duration_ms")
    if duration is None and d.get("execution_duration") is not None:
        duration = d["execution_duration"]
        duration = _duration_to_ms(duration) if isinstance(duration, str) else duration
    request_time = d.get("request_time") or 0
    if isinstance(request_time, str):
        request_time = rfc3339_to_ms(request_time)
    assessments, assessment_extras = read_assessments(d.get("assessments") or [])
    if assessment_extras:
        extra["assessments"] = assessment_extras
    unknown = {k: v for k, v in d.items() if k not in _INFO_KEYS}
    if unknown:
        extra["unknown"] = unknown
    return dict(trace_id=d["trace_id"], experiment_id=str(experiment_id), request_time=int(request_time),
                state=d.get("state") or "STATE_UNSPECIFIED",
                execution_duration=None if duration is None else int(duration),
                request_preview=d.get("request_preview"), response_preview=d.get("response_preview"),
                client_request_id=d.get("client_request_id"), trace_metadata=dict(d.get("trace_metadata") or {}),
                tags=dict(d.get("tags") or {}), assessments=assessments, _mlflow_extra=extra)


def _info_from_v2(d: dict[str, Any]) -> dict[str, Any]:
    assessments, _ = read_assessments(d.get("assessments") or [])
    request_time = d.get("timestamp_ms") or 0
    duration = d.get("execution_time_ms")
    return dict(trace_id=d["request_id"], experiment_id=str(d.get("experiment_id") or "0"),
                request_time=int(request_time), state=_V2_STATES.get(str(d.get("status")), "STATE_UNSPECIFIED"),
                execution_duration=None if duration is None else int(duration),
                trace_metadata=dict(d.get("request_metadata") or {}), tags=dict(d.get("tags") or {}),
                assessments=assessments)


# -- timestamps, as protobuf's JSON writes and reads them --------------------------------------------------

def _duration_to_ms(text: str) -> int:
    """``"1.5s"`` (protobuf Duration JSON) → 1500."""
    body = text.strip().removesuffix("s")
    negative = body.startswith("-")
    whole, _, frac = body.lstrip("+-").partition(".")
    nanos = int(whole or 0) * 1_000_000_000 + int(frac.ljust(9, "0")[:9] or 0)
    ms = nanos // 1_000_000
    return -ms if negative else ms


# -- ids --------------------------------------------------------------------------------------------------

def _id_to_b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode("ascii")


def _b64_to_hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def _is_b64(value: Any) -> bool:
    try:
        base64.b64decode(value, validate=True)
        return True
    except (binascii.Error, TypeError, ValueError):
        return False


def _otel_trace_hex(trace_id: str) -> str:
    """The 32-hex OpenTelemetry trace id inside an MLflow trace id (``tr-<hex>`` or ``trace:/<loc>/<hex>``)."""
    candidate = trace_id.removeprefix("tr-").rsplit("/", 1)[-1]
    if len(candidate) == 32:
        try:
            bytes.fromhex(candidate)
            return candidate
        except ValueError:
            pass
    return hashlib.md5(trace_id.encode(), usedforsecurity=False).hexdigest()  # not an OTel id: derive a stable one


def _hex_span_id(value: Any) -> str:
    """A hex span id as MLflow writes it (16 digits), from ``0x..``/hex text."""
    return f"{int(str(value), 16):016x}"


# -- spans ------------------------------------------------------------------------------------------------

def decode_attribute(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:  # set directly on an OTel span, not JSON text: MLflow reads it as is too
        return raw


def io_json(span: Span, key: str, extra: dict[str, Any] | None = None) -> str | None:
    """A span's inputs/outputs (``key``) as MLflow's attribute text: as read while unchanged, None if none."""
    value = span.inputs if key == SPAN_INPUTS else span.outputs
    raw = ((extra or {}).get("attributes") or {}).get(key)
    if isinstance(raw, str) and _same(decode_attribute(raw), value):
        return raw
    return None if value is None else _encode_attribute(value)


def _encode_attribute(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)  # MLflow's encoding (NaN included)
    except (TypeError, ValueError):
        return dumps(value)  # arbitrary objects on user-built spans: never raises


def jsonable(value: Any) -> Any:
    """``json.dumps`` hook for objects in user-built event attributes: autolog's safe JSON, never raises."""
    return json.loads(dumps(value))


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def span_to_dict(span: Span, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """MLflow's span dict: OTLP names, base64 ids, every attribute value JSON-encoded."""
    extra = extra or {}
    values = span.attributes
    values[TRACE_REQUEST_ID] = span.trace_id
    raw_attributes: dict[str, Any] = extra.get("attributes") or {}
    for key in (SPAN_INPUTS, SPAN_OUTPUTS):  # MLflow writes "null" for an input/output set to None
        if key in raw_attributes and key not in values:
            values[key] = None
    attributes: dict[str, Any] = {}
    for key, raw in raw_attributes.items():  # as read, in the order read, while unchanged
        if key in values and _same(decode_attribute(raw), values[key]):
            attributes[key] = raw
    for key, value in values.items():
        if key in attributes or (value is None and key in (SPAN_INPUTS, SPAN_OUTPUTS)):
            continue
        if key == SPAN_TYPE and extra.get("no_span_type") and value == "UNKNOWN":
            continue
        attributes[key] = _encode_attribute(value)
    status = span.status
    out = {
        "trace_id": _id_to_b64(_otel_trace_hex(span.trace_id)),
        "span_id": _id_to_b64(span.span_id),
        "parent_span_id": _id_to_b64(span.parent_id) if span.parent_id else None,
        "name": span.name,
        "start_time_unix_nano": span.start_time_ns,
        "end_time_unix_nano": span.end_time_ns,
        "events": [{"name": e.name, "time_unix_nano": e.timestamp_ns, "attributes": dict(e.attributes)}
                   for e in span.events],
        "status": {"code": f"STATUS_CODE_{status.status_code}", "message": status.description},
        "attributes": attributes,
        "links": extra.get("links", []),
    }
    out.update(extra.get("unknown") or {})
    return out


def read_span(d: dict[str, Any], trace_id: str) -> tuple[Span, dict[str, Any]]:
    """One span of MLflow JSON (3.x base64 or hex ids, or 2.x ``context``), and what a Span cannot hold."""
    extra: dict[str, Any] = {}
    raw_attributes = d.get("attributes") or {}
    attributes = {key: decode_attribute(raw) for key, raw in raw_attributes.items()}
    attributes.pop(TRACE_REQUEST_ID, None)
    if SPAN_TYPE not in attributes:
        extra["no_span_type"] = True
    span_type = attributes.pop(SPAN_TYPE, None) or "UNKNOWN"
    inputs = attributes.pop(SPAN_INPUTS, None)
    outputs = attributes.pop(SPAN_OUTPUTS, None)
    if "context" in d:  # MLflow 2
        context = d["context"]
        span_id = _hex_span_id(context["span_id"])
        parent = d.get("parent_id")
        parent_id = _hex_span_id(parent) if parent else None
        start, end = d.get("start_time"), d.get("end_time")
        status = SpanStatus(d.get("status_code") or "UNSET", d.get("status_message") or "")
        events = [SpanEvent(e.get("name", ""), int(e.get("timestamp") or 0), dict(e.get("attributes") or {}))
                  for e in d.get("events") or []]
    else:
        parent = d.get("parent_span_id")
        if _is_b64(d.get("trace_id")):
            span_id = _b64_to_hex(d["span_id"])
            parent_id = _b64_to_hex(parent) if parent else None
        else:  # MLflow 3.5 wrote the ids as hex
            span_id = _hex_span_id(d["span_id"])
            parent_id = _hex_span_id(parent) if parent else None
        start, end = d.get("start_time_unix_nano"), d.get("end_time_unix_nano")
        raw_status = d.get("status") or {}
        status = SpanStatus(raw_status.get("code") or "UNSET", raw_status.get("message") or "")
        events = [SpanEvent(e.get("name", ""), int(e.get("time_unix_nano") or 0), dict(e.get("attributes") or {}))
                  for e in d.get("events") or []]
        if "links" in d:
            extra["links"] = d["links"]
        unknown = {k: v for k, v in d.items() if k not in _SPAN_KEYS and k != "links"}
        if unknown:
            extra["unknown"] = unknown
    if raw_attributes:
        extra["attributes"] = dict(raw_attributes)
    span = Span(trace_id=trace_id, span_id=span_id, parent_id=parent_id, name=d.get("name", ""),
                span_type=span_type, start_time_ns=int(start or 0), end_time_ns=int(end) if end else None,
                status=status, inputs=inputs, outputs=outputs, attributes=attributes, events=events)
    return span, extra
