"""A trace as plain data, cheap to make and to send to the writer process (``AUTOLOG_EXPORT_PROCESS``).

Encoding a trace into its store record (previews, token sums, cost, the spans' JSON) and
writing it take 60-130 µs of the interpreter per trace, and in the application's process
that time holds the GIL the application needs. With the writer process, the export worker
only takes a *snapshot* of each finished trace (its fields, with inputs and outputs as the
JSON text they will be stored as, which integrations record already), and the writer
process, on another CPU, turns it into the record (``record_of_snapshot``: the same
``trace_to_record`` as in-process, so the stored trace is the same) and writes it.

A snapshot is a ``list`` (a record is a ``tuple``): the pipeline tells them apart by type.
Everything in it is what ``marshal`` writes, except attribute values the user set to other
objects: such a batch is encoded and written in-process instead (``writer_link``).
"""

from __future__ import annotations

from typing import Any

from autolog._export.encode import capped_json, preview_of, trace_to_record
from autolog._serialize import JsonText, to_jsonable
from autolog._store.records import Record
from autolog._tracing.live import DeferredOutputs, LiveTrace
from autolog.entities.span import Span, SpanEvent, SpanStatus

__all__ = ["SnapshotTrace", "is_snapshot", "record_of_snapshot", "snapshot_chars", "snapshot_of"]

# Indexes in a snapshot list.
_TRACE_ID, _SPANS = 0, 10


def is_snapshot(item: Any) -> bool:
    return type(item) is list


def snapshot_of(trace: LiveTrace, max_chars: int | None) -> tuple[list[Any], tuple[Any, ...]]:
    """The trace's snapshot and its spans' (for ``LiveTrace.release``). Runs under the trace's lock.

    Spans an earlier hand-over released are in ``trace.stored_spans`` as snapshot spans: a span that
    ends late re-sends the whole trace, as in-process.
    """
    spans = []
    root = trace.root
    previews = [trace.request_preview, trace.response_preview]
    for live in trace.spans:
        if isinstance(live.outputs, DeferredOutputs):
            live.resolve_deferred_outputs()
        span_id, parent_id, name, span_type, start, end, status, inputs, outputs, attributes, events = live.fields()
        if end is None:
            attributes = dict(attributes)  # still open: its owner may add to it while the worker sends it
        if not _plain(attributes):  # marshal would send an array or a numpy value as bytes: send its JSON's value
            attributes = to_jsonable(attributes)
        inputs_json = None if inputs is None else str(capped_json(inputs, max_chars))
        outputs_json = None if outputs is None else str(capped_json(outputs, max_chars))
        if live is root:
            # A preview is read from the value itself, which the writer process only has as (maybe cut) JSON
            # text: unless it is JSON within the cap already (what integrations record), preview it here.
            for i, (value, text, role) in enumerate(((inputs, inputs_json, "user"), (outputs, outputs_json,
                                                                                     "assistant"))):
                if previews[i] is not None or value is None:
                    continue
                if not _within_cap(value, max_chars):
                    previews[i] = preview_of(value, text or "", role)
                elif trace.fast_previews is not None:  # an integration's: right for JSON that was not cut
                    previews[i] = trace.fast_previews[i]
        spans.append((span_id, parent_id, name, span_type, status.status_code, status.description, start, end,
                      inputs_json, outputs_json, attributes,
                      [(e.name, e.timestamp_ns, e.attributes if _plain(e.attributes) else to_jsonable(e.attributes))
                       for e in events]))
    if trace.stored_spans:
        current = {s[0] for s in spans}
        spans = [s for s in trace.stored_spans if s[0] not in current] + spans
    snapshot = [trace.trace_id, trace.experiment_id, trace.request_time_ms, trace.client_request_id,
                previews[0], previews[1], trace.state, dict(trace.tags), dict(trace.metadata),
                None if root is None else root.span_id, spans]
    return snapshot, tuple(spans)


_LEAVES = frozenset((str, int, float, bool, type(None), bytes))


def _plain(value: Any, depth: int = 0) -> bool:
    """Only values marshal sends as they are (str, numbers, bytes, None, and lists, tuples, dicts of them)."""
    kind = type(value)
    if kind in _LEAVES:
        return True
    if depth > 20:
        return False
    if kind is dict:
        return all(type(k) in _LEAVES and _plain(v, depth + 1) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_plain(v, depth + 1) for v in value)
    return False


def _within_cap(value: Any, max_chars: int | None) -> bool:
    return type(value) is JsonText and (max_chars is None or len(value) <= max_chars)


def snapshot_chars(snapshot: Any) -> int:
    """About the characters of span content in a snapshot (what the pipeline's write bounds count)."""
    return sum(len(s[8] or "") + len(s[9] or "") for s in snapshot[_SPANS])


class SnapshotTrace:
    """The fields of a trace that ``trace_to_record`` reads, rebuilt from a snapshot."""

    stored_spans: tuple[Any, ...] = ()
    fast_previews = None  # the snapshot's previews are final (snapshot_of)

    def __init__(self, snapshot: list[Any]) -> None:
        (self.trace_id, self.experiment_id, self.request_time_ms, self.client_request_id, self.request_preview,
         self.response_preview, self.state, self.tags, self.metadata, root_id, rows) = snapshot
        self.spans = [_span(self.trace_id, row) for row in rows]
        self.root = next((s for s in self.spans if s.span_id == root_id), None) if root_id else None
        if self.root is None:  # released earlier: the root is the span without a parent
            self.root = next((s for s in self.spans if s.parent_id is None), None)


def _span(trace_id: str, row: tuple[Any, ...]) -> Span:
    span_id, parent_id, name, span_type, code, description, start, end, inputs, outputs, attributes, events = row
    return Span(trace_id, span_id, parent_id, name, span_type, start, end, SpanStatus(code, description),
                None if inputs is None else JsonText(inputs), None if outputs is None else JsonText(outputs),
                attributes, [SpanEvent(n, t, a) for n, t, a in events])


def record_of_snapshot(snapshot: list[Any], process_metadata: dict[str, str], shared_set_id: str | None) -> Record:
    """The store record of a snapshot: what ``trace_to_record`` gives for the trace it was taken from."""
    # No cap here: the snapshot's JSON was cut to it already (cutting again would re-quote a cut text).
    return trace_to_record(SnapshotTrace(snapshot), process_metadata, None, shared_set_id)  # type: ignore[arg-type]
