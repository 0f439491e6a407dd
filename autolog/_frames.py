"""pandas DataFrames of traces and LoggedModels, with MLflow 3's columns in MLflow's order.

``search_traces``: MLflow's twelve columns, then the ``extract_fields`` columns MLflow adds,
then autolog's extras (``status``, ``execution_time_ms``: MLflow 2's names; ``token_usage``).
The cells hold what MLflow's do: ``trace`` the trace's JSON text (``Trace.from_json`` reads it;
``evaluate`` accepts the DataFrame as it is), ``spans`` and ``assessments`` MLflow's dicts
(the spans of the trace JSON, ``Assessment.to_dictionary()``).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from autolog._errors import InvalidArgumentError
from autolog.entities.logged_model import LoggedModel
from autolog.entities.trace import Trace

__all__ = ["LOGGED_MODEL_COLUMNS", "TRACE_COLUMNS", "logged_models_frame", "parse_extract_fields", "traces_frame"]

TRACE_COLUMNS = ["trace_id", "trace", "client_request_id", "state", "request_time", "execution_duration", "request",
                 "response", "trace_metadata", "tags", "spans", "assessments"]
_TRACE_EXTRAS = ["status", "execution_time_ms", "token_usage"]
LOGGED_MODEL_COLUMNS = ["artifact_location", "creation_timestamp", "experiment_id", "last_updated_timestamp", "metrics",
                        "model_id", "model_type", "name", "params", "source_run_id", "status", "status_message", "tags"]
_LOGGED_MODEL_EXTRAS = ["model_uri"]


class ExtractField(NamedTuple):
    """``span_name.inputs`` / ``span_name.outputs[.field]`` of MLflow's (deprecated) ``extract_fields``."""

    span_name: str
    field_type: str
    field_name: str | None

    @property
    def column(self) -> str:
        base = f"{self.span_name}.{self.field_type}"
        return base if self.field_name is None else f"{base}.{self.field_name}"

    def value(self, trace: Trace) -> Any:
        found = None
        for span in trace.data.spans:  # the last span of that name wins, as in MLflow
            if span.name == self.span_name:
                data = span.inputs if self.field_type == "inputs" else span.outputs
                if self.field_name is None:
                    found = data
                else:
                    found = data.get(self.field_name) if isinstance(data, dict) else None
        return found


def parse_extract_fields(fields: Any) -> list[ExtractField]:
    """Parse ``["span.inputs", "span.outputs.answer", "`a.b`.inputs.`x.y`"]`` (backticks around dotted names)."""
    if isinstance(fields, str) or not isinstance(fields, (list, tuple)):
        raise InvalidArgumentError(f"extract_fields must be a list of 'span_name.inputs|outputs[.field]' strings, "
                                   f"got {fields!r}")
    return [_parse_one(f) for f in fields]


def _parse_one(text: Any) -> ExtractField:
    parts = _split(text) if isinstance(text, str) else None
    if parts is None or len(parts) not in (2, 3) or parts[1] not in ("inputs", "outputs") or not parts[0]:
        raise InvalidArgumentError(f"extract_fields entry {text!r}: expected 'span_name.inputs', 'span_name.outputs'"
                                   " or 'span_name.inputs.field' (backticks around names that contain dots)")
    return ExtractField(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def _split(text: str) -> list[str] | None:
    """Split on dots outside backticks; None if a backtick is left open or a part is empty."""
    parts: list[str] = []
    current = ""
    quoted = False
    for ch in text:
        if ch == "`":
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    if quoted or any(p == "" for p in parts):
        return None
    if len(parts) > 3 and parts[1] in ("inputs", "outputs"):  # an unquoted field name with dots
        parts = [parts[0], parts[1], ".".join(parts[2:])]
    return parts


def traces_frame(traces: list[Trace], fields: list[ExtractField]) -> Any:
    import pandas as pd

    columns = TRACE_COLUMNS + [f.column for f in fields] + _TRACE_EXTRAS
    rows = []
    for t in traces:
        info = t.info
        row = [info.trace_id, t.to_json(), info.client_request_id, info.state, info.request_time,
               info.execution_duration, _loads(t.data.request), _loads(t.data.response), info.trace_metadata,
               info.tags, t.data.to_dict()["spans"], [a.to_dictionary() for a in info.assessments]]
        row.extend(f.value(t) for f in fields)
        row.extend((info.state, info.execution_duration, info.token_usage))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _loads(value: Any) -> Any:
    """The request/response cells hold the decoded JSON, as MLflow's (the raw text if it is not JSON)."""
    if not isinstance(value, (str, bytes)):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def logged_models_frame(models: list[LoggedModel]) -> Any:
    import pandas as pd

    rows = [[None, m.creation_timestamp, m.experiment_id, m.last_updated_timestamp, m.metrics, m.model_id,
             m.model_type, m.name, m.params, m.source_run_id, m.status, None, m.tags, m.model_uri] for m in models]
    return pd.DataFrame(rows, columns=LOGGED_MODEL_COLUMNS + _LOGGED_MODEL_EXTRAS)
