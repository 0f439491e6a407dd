"""Translated OTLP spans merged with what the store already holds of their traces, as store records.

The store's trace writes are upserts keyed by trace id: the trace's row (name, state, times, previews,
usage, cost, version) is replaced whole, its span rows by (trace id, span id), and tag/metadata rows
by key (rows a write does not name stay). OTel's batch processor sends spans as they end, children
before their root, often in different requests; so each write is made from the whole trace: the spans
stored before, then this request's (the same span id again replaces it). The trace's row is then what
all its spans say: IN_PROGRESS until the root has arrived and ended, named and timed by the root.

Records are made by the export pipeline's encoder (``trace_to_record``), from a ``LiveTrace`` assembled
here, so an ingested trace gets the same previews, token usage sums and costs as one autolog recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from autolog._client import DEFAULT_MAX_CONTENT_CHARS
from autolog._export.encode import trace_to_record
from autolog._server.otlp_translate import SpanData
from autolog._store.records import SPANS_FIELD, Record
from autolog._tracing.live import LiveTrace
from autolog.entities import keys
from autolog.entities.span import Span, SpanStatus, SpanStatusCode
from autolog.entities.trace import Trace

__all__ = ["TraceParts", "trace_record"]


@dataclass
class TraceParts:
    """What one request holds of one trace: its spans by id, and the metadata their resources give."""

    spans: dict[str, SpanData] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


def _stored_span_data(span: Span) -> SpanData:
    span_id, parent_id, name, span_type, start, end, status, inputs, outputs, attributes, events = span.fields()
    return SpanData(span.trace_id, span_id, parent_id, name, span_type, start, end, status.status_code,
                    status.description or "", inputs, outputs, dict(attributes), list(events))


def _ignore(trace: LiveTrace) -> None:
    """The hand-over of the assembled trace: nothing to do, its record is made right after."""


def _root_of(spans: Iterable[SpanData]) -> SpanData | None:
    """The span without a parent (the earliest, should a sender have sent two)."""
    roots = [s for s in spans if s.parent_id is None]
    return min(roots, key=lambda s: (s.start_time_ns, s.span_id)) if roots else None


def trace_record(trace_id: str, parts: TraceParts, stored: Trace | None, experiment_id: str) -> Record:
    """The record of ``trace_id`` with this request's spans (``parts``) over the ones ``stored`` already has;
    its trace row is made from all of them, its span rows are this request's.

    A stored trace keeps its experiment, its tags and metadata (a person's tags from the UI too); the root
    span's tags and metadata win over the other spans' and over the stored ones.
    """
    spans: dict[str, SpanData] = {}
    tags: dict[str, str] = {}
    metadata: dict[str, str] = {keys.SCHEMA_VERSION_KEY: keys.TRACE_SCHEMA_VERSION}
    if stored is not None:
        experiment_id = stored.info.experiment_id
        spans.update((s.span_id, _stored_span_data(s)) for s in stored.data.spans)
        tags.update(stored.info.tags)
        metadata.update(stored.info.trace_metadata)
        for derived in (keys.TRACE_INPUTS, keys.TRACE_OUTPUTS):  # made from the root span on every read
            metadata.pop(derived, None)
    spans.update(parts.spans)
    metadata.update(parts.metadata)
    root = _root_of(spans.values())
    # Span order: by start time, the root's fields applied last so they win.
    ordered = sorted(spans.values(), key=lambda s: (s.start_time_ns, s.span_id))
    for span in [s for s in ordered if s is not root] + ([root] if root is not None else []):
        tags.update(span.tags)
        metadata.update(span.metadata)
    trace = LiveTrace(trace_id, experiment_id, metadata, _ignore, None)
    trace.tags = tags
    trace.request_time_ms = (root.start_time_ns if root else ordered[0].start_time_ns) // 1_000_000
    for data in ordered:
        live = trace.new_span(data.span_id, data.parent_id, data.name, data.span_type, data.start_time_ns,
                              data.inputs, data.attributes)
        for event in data.events:
            live.add_event(event)
        status = SpanStatus(data.status_code, data.status_message)
        if data.end_time_ns is None:  # still open where it was sent from: the trace stays IN_PROGRESS
            live.set_outputs(data.outputs)
            live.set_status(status)
        else:
            live.end(data.outputs, status=status if data.status_code != SpanStatusCode.UNSET else None,
                     end_time_ns=data.end_time_ns)
        if data is root:
            trace.root = live
    record = trace_to_record(trace, {}, DEFAULT_MAX_CONTENT_CHARS)
    # The stored spans were read to sum the trace's usage and find its root; their rows stay as they are, so only
    # this request's spans are written (a trace sent in many batches is not rewritten whole for each one).
    new_rows = tuple(row for row in record[SPANS_FIELD] if row[0] in parts.spans)
    return (*record[:SPANS_FIELD], new_rows, *record[SPANS_FIELD + 1:])
