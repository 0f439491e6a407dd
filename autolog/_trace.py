"""Trace, TraceInfo and TraceData (MLflow trace schema v3), and their MLflow JSON form.

``Trace.to_json()`` writes the JSON that ``mlflow.entities.Trace.from_json`` reads:
``{"info": <TraceInfo proto as JSON>, "data": {"spans": [<OTLP-style span dicts>]}}``
where span ids are base64 of the OpenTelemetry bytes and attribute values are JSON
strings, as MLflow stores them. ``Trace.from_json`` reads that form back.
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from autolog._metadata import TOKEN_USAGE
from autolog._span import Span, SpanEvent, SpanStatus

__all__ = ["Trace", "TraceData", "TraceInfo", "TraceState"]


class TraceState:
    OK = "OK"
    ERROR = "ERROR"
    IN_PROGRESS = "IN_PROGRESS"
    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"


@dataclass
class TraceInfo:
    """Everything about a trace except its spans."""

    trace_id: str
    experiment_id: str
    request_time: int
    state: str
    execution_duration: int | None = None
    request_preview: str | None = None
    response_preview: str | None = None
    client_request_id: str | None = None
    trace_metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    assessments: list[Any] = field(default_factory=list)

    @property
    def request_id(self) -> str:  # MLflow 2 name
        return self.trace_id

    @property
    def timestamp_ms(self) -> int:
        return self.request_time

    @property
    def execution_time_ms(self) -> int | None:
        return self.execution_duration

    @property
    def status(self) -> str:  # MLflow 2 name
        return self.state

    @property
    def request_metadata(self) -> dict[str, str]:  # MLflow 2 name
        return self.trace_metadata

    @property
    def token_usage(self) -> dict[str, int] | None:
        """Aggregated usage of the trace's LLM calls (``input_tokens``, ``output_tokens``, ``total_tokens``...)."""
        raw = self.trace_metadata.get(TOKEN_USAGE)
        return json.loads(raw) if raw else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trace_id": self.trace_id,
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": self.experiment_id}},
            "request_time": _ms_to_rfc3339(self.request_time),
            "state": self.state,
            "trace_metadata": dict(self.trace_metadata),
            "tags": dict(self.tags),
        }
        if self.execution_duration is not None:
            out["execution_duration"] = f"{self.execution_duration / 1000:.3f}s"
        for key in ("request_preview", "response_preview", "client_request_id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.assessments:
            out["assessments"] = [a.to_dict() for a in self.assessments]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceInfo:
        from autolog._models import Assessment

        location = d.get("trace_location") or {}
        experiment_id = (location.get("mlflow_experiment") or {}).get("experiment_id") or d.get("experiment_id", "0")
        duration = d.get("execution_duration")
        if isinstance(duration, str):
            duration = round(float(duration.rstrip("s")) * 1000)
        request_time = d.get("request_time", 0)
        if isinstance(request_time, str):
            request_time = _rfc3339_to_ms(request_time)
        return cls(trace_id=d["trace_id"], experiment_id=str(experiment_id), request_time=int(request_time),
                   state=d.get("state", TraceState.STATE_UNSPECIFIED), execution_duration=duration,
                   request_preview=d.get("request_preview"), response_preview=d.get("response_preview"),
                   client_request_id=d.get("client_request_id"), trace_metadata=dict(d.get("trace_metadata") or {}),
                   tags=dict(d.get("tags") or {}),
                   assessments=[Assessment.from_dict(a) for a in d.get("assessments") or []])


@dataclass
class TraceData:
    spans: list[Span] = field(default_factory=list)

    @property
    def _root(self) -> Span | None:
        return next((s for s in self.spans if s.parent_id is None), None)

    @property
    def request(self) -> Any:
        root = self._root
        return None if root is None else root.inputs

    @property
    def response(self) -> Any:
        root = self._root
        return None if root is None else root.outputs

    def to_dict(self) -> dict[str, Any]:
        return {"spans": [span_to_mlflow_dict(s) for s in self.spans]}


@dataclass
class Trace:
    """A recorded trace: ``info`` (TraceInfo) and ``data`` (TraceData with the spans)."""

    info: TraceInfo
    data: TraceData

    def to_dict(self) -> dict[str, Any]:
        return {"info": self.info.to_dict(), "data": self.data.to_dict()}

    def to_json(self, pretty: bool = False) -> str:
        return json.dumps(self.to_dict(), indent=2 if pretty else None, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        info = TraceInfo.from_dict(d["info"])
        spans = [span_from_mlflow_dict(s, info.trace_id) for s in (d.get("data") or {}).get("spans", [])]
        return cls(info=info, data=TraceData(spans=spans))

    @classmethod
    def from_json(cls, text: str) -> Trace:
        return cls.from_dict(json.loads(text))

    def search_spans(self, span_type: str | None = None, name: str | None = None) -> list[Span]:
        return [s for s in self.data.spans
                if (span_type is None or s.span_type == span_type) and (name is None or s.name == name)]

    def _repr_html_(self) -> str:  # pragma: no cover - notebooks only
        return f"<pre>{self.info.trace_id} {self.info.state} {len(self.data.spans)} spans</pre>"


def _ms_to_rfc3339(ms: int) -> str:
    dt = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _rfc3339_to_ms(text: str) -> int:
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return round(dt.timestamp() * 1000)


def _id_to_b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode("ascii")


def _b64_to_hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def span_to_mlflow_dict(span: Span) -> dict[str, Any]:
    """MLflow's span dict: OTLP names, base64 ids, every attribute value JSON-encoded."""
    attributes = {"mlflow.traceRequestId": json.dumps(span.trace_id)}
    for key, value in span.attributes.items():
        if key in ("mlflow.spanInputs", "mlflow.spanOutputs") and value is None:
            continue
        attributes[key] = json.dumps(value, default=str, ensure_ascii=False)
    status = span.status
    return {
        "trace_id": _id_to_b64(span.trace_id.removeprefix("tr-")),
        "span_id": _id_to_b64(span.span_id),
        "parent_span_id": _id_to_b64(span.parent_id) if span.parent_id else "",
        "name": span.name,
        "start_time_unix_nano": span.start_time_ns,
        "end_time_unix_nano": span.end_time_ns,
        "events": [{"name": e.name, "time_unix_nano": e.timestamp_ns,
                    "attributes": {k: v for k, v in e.attributes.items()}} for e in span.events],
        "status": {"code": f"STATUS_CODE_{status.status_code}", "message": status.description},
        "attributes": attributes,
    }


def span_from_mlflow_dict(d: dict[str, Any], trace_id: str) -> Span:
    attributes: dict[str, Any] = {}
    for key, raw in (d.get("attributes") or {}).items():
        try:
            attributes[key] = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            attributes[key] = raw
    attributes.pop("mlflow.traceRequestId", None)
    span_type = attributes.pop("mlflow.spanType", None) or "UNKNOWN"
    inputs = attributes.pop("mlflow.spanInputs", None)
    outputs = attributes.pop("mlflow.spanOutputs", None)
    status = d.get("status") or {}
    parent = d.get("parent_span_id") or None
    events = [SpanEvent(e.get("name", ""), int(e.get("time_unix_nano") or 0), dict(e.get("attributes") or {}))
              for e in d.get("events") or []]
    end = d.get("end_time_unix_nano")
    return Span(trace_id=trace_id, span_id=_b64_to_hex(d["span_id"]), parent_id=_b64_to_hex(parent) if parent else None,
                name=d.get("name", ""), span_type=span_type, start_time_ns=int(d.get("start_time_unix_nano") or 0),
                end_time_ns=int(end) if end is not None else None,
                status=SpanStatus(status.get("code", "UNSET") or "UNSET", status.get("message", "") or ""),
                inputs=inputs, outputs=outputs, attributes=attributes, events=events)
