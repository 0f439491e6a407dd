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
import calendar
import datetime
import hashlib
import json
import re
from typing import Any, Protocol

from autolog._serialize import dumps
from autolog.entities.assessment import Assessment, AssessmentSource
from autolog.entities.keys import SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE, TRACE_REQUEST_ID
from autolog.entities.span import Span, SpanEvent, SpanStatus

__all__ = ["InfoFields", "info_to_dict", "io_json", "jsonable", "read_info", "read_span", "span_to_dict"]

_EXPERIMENT_LOCATION = "MLFLOW_EXPERIMENT"
_INFO_KEYS = frozenset(("trace_id", "trace_location", "request_time", "state", "request_preview", "response_preview",
                        "client_request_id", "execution_duration_ms", "execution_duration", "trace_metadata", "tags",
                        "assessments", "experiment_id"))
_SPAN_KEYS = frozenset(("trace_id", "span_id", "parent_span_id", "name", "start_time_unix_nano", "end_time_unix_nano",
                        "events", "status", "attributes"))
_ASSESSMENT_KEYS = frozenset(("assessment_id", "assessment_name", "name", "trace_id", "span_id", "source",
                              "create_time", "last_update_time", "rationale", "metadata", "feedback", "expectation"))
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
        "request_time": _ms_to_rfc3339(info.request_time),
        "state": info.state,
    }
    if info.trace_metadata:
        out["trace_metadata"] = dict(info.trace_metadata)
    if info.tags:
        out["tags"] = dict(info.tags)
    if info.assessments:
        extras = extra.get("assessments") or {}
        out["assessments"] = [_assessment_to_dict(a, extras.get(a.assessment_id)) for a in info.assessments]
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
        request_time = _rfc3339_to_ms(request_time)
    assessments, assessment_extras = _read_assessments(d.get("assessments") or [])
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
    assessments, _ = _read_assessments(d.get("assessments") or [])
    request_time = d.get("timestamp_ms") or 0
    duration = d.get("execution_time_ms")
    return dict(trace_id=d["request_id"], experiment_id=str(d.get("experiment_id") or "0"),
                request_time=int(request_time), state=_V2_STATES.get(str(d.get("status")), "STATE_UNSPECIFIED"),
                execution_duration=None if duration is None else int(duration),
                trace_metadata=dict(d.get("request_metadata") or {}), tags=dict(d.get("tags") or {}),
                assessments=assessments)


# -- timestamps, as protobuf's JSON writes and reads them --------------------------------------------------

_EPOCH = datetime.datetime(1970, 1, 1)
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))$")


def _ms_to_rfc3339(ms: int) -> str:
    """Like protobuf's ``Timestamp.ToJsonString`` for a millisecond value (no fraction when it is 0)."""
    seconds, millis = divmod(int(ms), 1000)
    text = (_EPOCH + datetime.timedelta(seconds=seconds)).isoformat()
    return f"{text}Z" if millis == 0 else f"{text}.{millis:03d}Z"


def _rfc3339_to_ms(text: str) -> int:
    """Like protobuf's ``Timestamp.FromJsonString`` then ``ToMilliseconds`` (truncates to the millisecond)."""
    match = _RFC3339.match(text.strip())
    if match is None:  # anything else ISO-like
        return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    year, month, day, hour, minute, second, frac, _z, sign, off_h, off_m = match.groups()
    seconds = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second)))
    if sign:
        offset = int(off_h) * 3600 + int(off_m) * 60
        seconds += -offset if sign == "+" else offset
    nanos = int((frac or "").ljust(9, "0"))
    return seconds * 1000 + nanos // 1_000_000


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

def _decode_attribute(raw: Any) -> Any:
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
    if isinstance(raw, str) and _same(_decode_attribute(raw), value):
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
        if key in values and _same(_decode_attribute(raw), values[key]):
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
    attributes = {key: _decode_attribute(raw) for key, raw in raw_attributes.items()}
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


# -- assessments (MLflow's Assessment proto as JSON) ------------------------------------------------------

def _assessment_to_dict(a: Any, extra: dict[str, Any] | None) -> dict[str, Any]:
    extra = {"unknown": {"valid": True}} if extra is None else extra  # what MLflow writes for a new assessment
    source: dict[str, Any] = dict(extra.get("source") or {})
    source["source_type"] = a.source.source_type
    if a.source.source_id is not None:
        source["source_id"] = a.source.source_id
    out: dict[str, Any] = {"assessment_id": a.assessment_id, "assessment_name": a.name, "trace_id": a.trace_id or "",
                           "source": source, "create_time": _ms_to_rfc3339(a.create_time_ms),
                           "last_update_time": _ms_to_rfc3339(a.last_update_time_ms)}
    if a.kind == "feedback":
        body: dict[str, Any] = {"value": a.value}
        if a.error is not None:
            error = extra.get("error") or {}
            body["error"] = error if error.get("error_message", error.get("error_code")) == a.error else {
                "error_code": "ERROR", "error_message": a.error}
        out["feedback"] = body
    elif a.kind == "expectation":
        if a.value is None or not isinstance(a.value, (bool, int, float, str)):
            # MLflow keeps non-scalar expectations as JSON text
            out["expectation"] = {"serialized_value": {"serialization_format": "JSON_FORMAT",
                                                       "value": json.dumps(a.value)}}
        else:
            out["expectation"] = {"value": a.value}
    else:
        out[a.kind] = a.value
    if a.span_id:
        out["span_id"] = a.span_id
    if a.rationale is not None:
        out["rationale"] = a.rationale
    if a.metadata:
        out["metadata"] = dict(a.metadata)
    out.update(extra.get("unknown") or {})
    return out


def _read_assessments(items: list[dict[str, Any]]) -> tuple[list[Any], dict[str, dict[str, Any]]]:
    assessments: list[Any] = []
    extras: dict[str, dict[str, Any]] = {}
    for d in items:
        extra: dict[str, Any] = {"unknown": {k: v for k, v in d.items() if k not in _ASSESSMENT_KEYS}}
        kind: str | None = next((k for k in ("feedback", "expectation") if k in d), None)
        if kind is None:  # another kind (an MLflow issue reference...): kept whole
            kind = next((k for k in extra["unknown"] if isinstance(extra["unknown"][k], dict)), "feedback")
            value = extra["unknown"].pop(kind, None)
        else:
            body = d.get(kind) or {}
            serialized = body.get("serialized_value")
            value = json.loads(serialized["value"]) if serialized else body.get("value")
        raw_source = d.get("source") or {}
        try:
            source = AssessmentSource(raw_source.get("source_type", "CODE"), raw_source.get("source_id"))
        except ValueError:
            source = AssessmentSource("CODE", raw_source.get("source_id"))
            extra["source"] = raw_source
        error = (d.get("feedback") or {}).get("error")
        if error:
            extra["error"] = error
        kwargs: dict[str, Any] = {}
        if d.get("assessment_id"):
            kwargs["assessment_id"] = d["assessment_id"]
        for key, ms_key in (("create_time", "create_time_ms"), ("last_update_time", "last_update_time_ms")):
            if d.get(key):
                kwargs[ms_key] = _rfc3339_to_ms(d[key])
        a = Assessment(name=d.get("assessment_name") or d.get("name", ""), value=value, kind=kind, source=source,
                       rationale=d.get("rationale"), trace_id=d.get("trace_id") or None, span_id=d.get("span_id"),
                       metadata=d.get("metadata"),
                       error=(error.get("error_message") or error.get("error_code")) if error else None, **kwargs)
        assessments.append(a)
        extras[a.assessment_id] = {k: v for k, v in extra.items() if v}
    return assessments, extras
