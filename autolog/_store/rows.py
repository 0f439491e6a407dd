"""Records into table rows, and stored rows back into entities: spans, traces and assessments."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from autolog._store.records import METADATA_FIELD, SPANS_FIELD, TAGS_FIELD, Record
from autolog.entities import keys
from autolog.entities.assessment import Assessment, AssessmentSource
from autolog.entities.span import Span, SpanEvent, SpanStatus, SpanStatusCode
from autolog.entities.trace import Trace, TraceData, TraceInfo, add_io_metadata

__all__ = ["ASSESSMENT_COLUMNS", "TRACE_ROW_COLUMNS", "TableRows", "assessment_from_row", "record_rows",
           "span_from_row", "trace_from_rows"]

# The rows of a batch write, per table: metadata sets, traces, trace tags, trace metadata, spans.
TableRows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]],
                  list[tuple[Any, ...]]]


def record_rows(records: Iterable[Record], metadata_sets: dict[str, dict[str, str]] | None,
                unique: bool = False) -> TableRows:
    """The table rows of a batch of records (``traces.TRACE_WRITES``' order).

    ``unique``: one row per key, the last one given, as successive upserts would leave. PostgreSQL needs
    it: one ``INSERT ... ON CONFLICT DO UPDATE`` may not touch a row twice (a trace twice in a batch).
    """
    trace_rows: list[tuple[Any, ...]] = []
    tag_rows: list[tuple[Any, ...]] = []
    meta_rows: list[tuple[Any, ...]] = []
    span_rows: list[tuple[Any, ...]] = []
    for r in records:
        tid = r[0]
        trace_rows.append(r[:TAGS_FIELD])
        tag_rows.extend((tid, k, v) for k, v in r[TAGS_FIELD])
        meta_rows.extend((tid, k, v) for k, v in r[METADATA_FIELD])
        span_rows.extend((tid, *s) for s in r[SPANS_FIELD])
    set_rows: list[tuple[Any, ...]] = [(set_id, k, v) for set_id, values in (metadata_sets or {}).items()
                                       for k, v in values.items()]
    if unique:
        return (set_rows, _last_per_key(trace_rows, 1), _last_per_key(tag_rows, 2), _last_per_key(meta_rows, 2),
                _last_per_key(span_rows, 2))
    return set_rows, trace_rows, tag_rows, meta_rows, span_rows


def _last_per_key(rows: list[tuple[Any, ...]], width: int) -> list[tuple[Any, ...]]:
    if len({row[:width] for row in rows}) == len(rows):
        return rows
    return list({row[:width]: row for row in rows}.values())


def span_from_row(trace_id: str, row: Any) -> Span:
    span_id, parent_id, name, span_type, status, start, end, content = row
    body = json.loads(content)
    events = [SpanEvent(e["name"], e["timestamp_ns"], e.get("attributes") or {}) for e in body.get("events") or []]
    return Span(trace_id=trace_id, span_id=span_id, parent_id=parent_id, name=name, span_type=span_type,
                start_time_ns=start, end_time_ns=end,
                status=SpanStatus(status or SpanStatusCode.UNSET, body.get("status_message") or ""),
                inputs=body.get("inputs"), outputs=body.get("outputs"), attributes=body.get("attributes") or {},
                events=events)


# The columns of `traces` that trace_from_rows reads, in its order.
TRACE_ROW_COLUMNS = ("trace_id, experiment_id, name, request_time, execution_duration, state, client_request_id, "
                     "request_preview, response_preview, metadata_set, model_id, token_usage")


def trace_from_rows(trace_row: Any, tags: dict[str, str], metadata: dict[str, str], span_rows: list[Any],
                    assessments: list[Any]) -> Trace:
    """A Trace from its ``traces`` row (``TRACE_ROW_COLUMNS``) and its other rows; ``tags``/``metadata`` are taken."""
    (trace_id, experiment_id, name, request_time, duration, state, client_request_id,
     request_preview, response_preview, _metadata_set, model_id, token_usage) = trace_row
    for value, key, into in ((name, keys.TRACE_NAME_TAG, tags), (model_id, keys.MODEL_ID, metadata),
                             (token_usage, keys.TOKEN_USAGE, metadata)):
        if value is not None:
            into[key] = value
    spans = sorted((span_from_row(trace_id, r) for r in span_rows), key=lambda s: (s.start_time_ns, s.span_id))
    data = TraceData(spans=spans)
    add_io_metadata(metadata, data)  # derived from the root span on every read, never stored
    info = TraceInfo(trace_id=trace_id, experiment_id=experiment_id, request_time=request_time, state=state,
                     execution_duration=duration, request_preview=request_preview, response_preview=response_preview,
                     client_request_id=client_request_id, trace_metadata=metadata, tags=tags, assessments=assessments)
    return Trace(info=info, data=data)


# The columns of `assessments` that assessment_from_row reads and assessment_row writes, in their order.
ASSESSMENT_COLUMNS = ("assessment_id, trace_id, span_id, name, kind, value, source_type, source_id, rationale,"
                      " metadata, error, create_time_ms, last_update_time_ms, run_id, overrides, valid")


def assessment_row(a: Assessment) -> tuple[Any, ...]:
    return (a.assessment_id, a.trace_id, a.span_id, a.name, a.kind, json.dumps(a.value, default=str),
            a.source.source_type, a.source.source_id, a.rationale, json.dumps(a.metadata) if a.metadata else None,
            a.error, a.create_time_ms, a.last_update_time_ms, a.run_id, a.overrides, int(bool(a.valid)))


def assessment_from_row(row: Any) -> Assessment:
    (assessment_id, trace_id, span_id, name, kind, value, source_type, source_id, rationale, metadata, error,
     created, updated, run_id, overrides, valid) = row
    return Assessment(name=name, value=json.loads(value) if value is not None else None, kind=kind,
                      source=AssessmentSource(source_type, source_id), rationale=rationale, trace_id=trace_id,
                      span_id=span_id, metadata=json.loads(metadata) if metadata else None, error=error,
                      assessment_id=assessment_id, create_time_ms=created, last_update_time_ms=updated,
                      run_id=run_id, overrides=overrides, valid=bool(valid))
