"""Trace, TraceInfo and TraceData (MLflow trace schema v3).

``Trace.to_json()`` / ``Trace.from_json()`` write and read MLflow's trace JSON; the codec is
``autolog.entities._mlflow_json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from autolog.entities import _mlflow_json
from autolog.entities.keys import SPAN_INPUTS, SPAN_OUTPUTS, TOKEN_USAGE, TRACE_INPUTS, TRACE_OUTPUTS
from autolog.entities.span import Span

__all__ = ["IO_METADATA_CHARS", "Trace", "TraceData", "TraceInfo", "TraceState", "add_io_metadata"]


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
    # What MLflow JSON carried that autolog has no field for, written back by to_dict():
    # unknown info keys, a trace location other than an experiment, assessment extras by id.
    _mlflow_extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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
        """MLflow's ``TraceInfo.to_dict()`` form (see ``autolog.entities._mlflow_json``)."""
        return _mlflow_json.info_to_dict(self, self._mlflow_extra)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceInfo:
        """Read MLflow 3's TraceInfo dict (any 3.x form) or MLflow 2's (``request_id``, ``timestamp_ms``...)."""
        return cls(**_mlflow_json.read_info(d))


@dataclass
class TraceData:
    spans: list[Span] = field(default_factory=list)
    # Per span id, what MLflow JSON carried that a Span has no field for (links, unknown keys,
    # the original attribute text): to_dict() writes unchanged attributes back byte for byte.
    _mlflow_extra: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def _root(self) -> Span | None:
        return next((s for s in self.spans if s.parent_id is None), None)

    @property
    def request(self) -> str | None:
        """The root span's inputs as JSON text, as in MLflow 3 (None without a root span or inputs).

        ``inputs`` gives them as Python objects."""
        root = self._root
        return None if root is None else _mlflow_json.io_json(root, SPAN_INPUTS, self._mlflow_extra.get(root.span_id))

    @property
    def response(self) -> str | None:
        """The root span's outputs as JSON text, as in MLflow 3 (None without a root span or outputs).

        ``outputs`` gives them as Python objects."""
        root = self._root
        return None if root is None else _mlflow_json.io_json(root, SPAN_OUTPUTS, self._mlflow_extra.get(root.span_id))

    @property
    def inputs(self) -> Any:
        """The root span's inputs (Python objects; autolog's name, not MLflow's), None without a root span."""
        root = self._root
        return None if root is None else root.inputs

    @property
    def outputs(self) -> Any:
        """The root span's outputs (Python objects; autolog's name, not MLflow's), None without a root span."""
        root = self._root
        return None if root is None else root.outputs

    def to_dict(self) -> dict[str, Any]:
        return {"spans": [_mlflow_json.span_to_dict(s, self._mlflow_extra.get(s.span_id)) for s in self.spans]}


# MLflow's cut of the root's inputs/outputs JSON in trace metadata (``mlflow.traceInputs``/``mlflow.traceOutputs``).
IO_METADATA_CHARS = 250


def _cut(text: str | None, max_chars: int) -> str:
    if not text:
        return ""
    return text if len(text) <= max_chars else text[:max_chars - 3] + "..."


def add_io_metadata(metadata: dict[str, str], data: TraceData) -> None:
    """Fill in ``mlflow.traceInputs``/``mlflow.traceOutputs`` as MLflow sets them when the root span ends: the root's
    inputs/outputs JSON, cut to 250 characters ending in ``...``, ``""`` if none. Values already there are kept;
    nothing is set while the root span is missing or open."""
    root = data._root
    if root is None or root.end_time_ns is None:
        return
    if TRACE_INPUTS not in metadata:
        metadata[TRACE_INPUTS] = _cut(data.request, IO_METADATA_CHARS)
    if TRACE_OUTPUTS not in metadata:
        metadata[TRACE_OUTPUTS] = _cut(data.response, IO_METADATA_CHARS)


@dataclass
class Trace:
    """A recorded trace: ``info`` (TraceInfo) and ``data`` (TraceData with the spans)."""

    info: TraceInfo
    data: TraceData

    def to_dict(self) -> dict[str, Any]:
        return {"info": self.info.to_dict(), "data": self.data.to_dict()}

    def to_json(self, pretty: bool = False) -> str:
        """MLflow's trace JSON: ``mlflow.entities.Trace.from_json`` loads it. Pure, never blocks."""
        return json.dumps(self.to_dict(), indent=2 if pretty else None, ensure_ascii=False,
                          default=_mlflow_json.jsonable)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        info = TraceInfo.from_dict(d["info"])
        spans: list[Span] = []
        extras: dict[str, dict[str, Any]] = {}
        for raw in (d.get("data") or {}).get("spans") or []:
            span, extra = _mlflow_json.read_span(raw, info.trace_id)
            spans.append(span)
            if extra:
                extras[span.span_id] = extra
        return cls(info=info, data=TraceData(spans=spans, _mlflow_extra=extras))

    @classmethod
    def from_json(cls, text: str | bytes) -> Trace:
        """Read the JSON of ``to_json`` or of MLflow's ``Trace.to_json`` (MLflow 2 or 3)."""
        return cls.from_dict(json.loads(text))

    def search_spans(self, span_type: str | None = None, name: str | None = None) -> list[Span]:
        return [s for s in self.data.spans
                if (span_type is None or s.span_type == span_type) and (name is None or s.name == name)]

    def _repr_html_(self) -> str:  # pragma: no cover - notebooks only
        return f"<pre>{self.info.trace_id} {self.info.state} {len(self.data.spans)} spans</pre>"
