"""Encoding a recorded trace into the store's record, on the export worker.

Serialization of the user's objects, size caps, previews, token-usage aggregation and cost
(``autolog._export.cost``) all happen here, off the application's thread (or, past a backlog, for traces that are cheap
to encode, at hand-over: see ``autolog._export.pipeline``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from autolog._export.cost import span_cost, sum_costs
from autolog._export.usage import counted_usage_spans, sum_token_usage
from autolog._serialize import JsonText, dumps, truncate
from autolog._store.records import METADATA_COLUMNS, SET_FIELD, SPANS_FIELD, Record, token_counts
from autolog._store.rows import span_from_row
from autolog._tracing.live import DeferredOutputs, LiveSpan, LiveTrace
from autolog._tracing.metadata import process_metadata
from autolog._tracing.previews import PREVIEW_CHARS, cut_preview, message_text
from autolog.entities import keys
from autolog.entities.span import Span, SpanStatusCode
from autolog.entities.trace import TraceState

__all__ = ["PREVIEW_CHARS", "capped_json", "encode_for_store", "metadata_set_id", "metadata_sets_of", "preview_of",
           "shared_metadata_set_id", "trace_to_record"]



def capped_json(value: Any, max_chars: int | None) -> str:
    """The JSON text ``value`` is stored as: cut to ``max_chars`` (then a JSON string) if longer."""
    if type(value) is JsonText and (max_chars is None or len(value) <= max_chars):
        return value  # what integrations record: JSON already
    text = dumps(value)
    if max_chars is not None and len(text) > max_chars:
        # The cut text is not valid JSON any more, so store it as a JSON string.
        return json.dumps(truncate(text, max_chars), ensure_ascii=False)
    return text


def preview_of(value: Any, value_json: str, role: str) -> str | None:
    """MLflow's request/response preview: the JSON text, or for a chat payload (``messages``, ``choices``, ``input``,
    ``output``, ``request``) the text of its last message of ``role``; cut to 1,000 characters ending in ``...``."""
    if value is None:
        return None
    obj = value
    if type(value) is not dict and '"role"' in value_json:  # JSON text or an SDK object: maybe a chat payload
        try:
            obj = json.loads(value_json)
        except ValueError:
            obj = None
    content = message_text(obj, role) if type(obj) is dict else None
    # Always an exact str: sqlite3 binds a str subclass (JsonText) through its adapter
    # lookup, which fails with two AttributeErrors per value.
    return cut_preview(str(content or value_json))


def _span_row(span: Span, max_chars: int | None, io_json: tuple[str, str] | None = None,
              cost: dict[str, float] | None = None) -> tuple[Any, ...]:
    span_id, parent_id, name, span_type, start_time_ns, end_time_ns, status, inputs, outputs, attributes, events = (
        span.fields())
    if cost is not None and attributes.get(keys.LLM_COST) is not cost:
        attributes = {**attributes, keys.LLM_COST: cost}  # the stored span's, not the live span's: it is not ours
    inputs_json, outputs_json = io_json or (capped_json(inputs, max_chars), capped_json(outputs, max_chars))
    description = status.description
    content = "".join((
        '{"inputs":', inputs_json,
        ',"outputs":', outputs_json,
        ',"attributes":', dumps(attributes) if attributes else "{}",
        ',"events":', dumps([{"name": e.name, "timestamp_ns": e.timestamp_ns, "attributes": e.attributes}
                             for e in events]) if events else "[]",
        ',"status_message":', json.dumps(description) if description else '""',
        "}",
    ))
    return (span_id, parent_id, name, span_type, status.status_code, start_time_ns, end_time_ns, content)


def metadata_set_id(shared: dict[str, str]) -> str:
    """A content hash naming a set of shared metadata, equal across processes with equal metadata."""
    return hashlib.sha1(json.dumps(shared, sort_keys=True).encode("utf-8")).hexdigest()[:20]


def shared_metadata_set_id() -> str:
    """The id of this process's metadata set (computed once; process metadata never changes)."""
    global _SET_ID
    if _SET_ID is None:
        _SET_ID = metadata_set_id(process_metadata())
    return _SET_ID


_SET_ID: str | None = None


def metadata_sets_of(records: list[Any]) -> dict[str, dict[str, str]]:
    """The content of this process's metadata set, if the records name it (written once per batch)."""
    set_id = shared_metadata_set_id()
    # A snapshot (a list) is encoded later, maybe with the set: it is sent along.
    return {set_id: process_metadata()} if any(type(r) is list or r[SET_FIELD] == set_id for r in records) else {}


def encode_for_store(trace: LiveTrace, max_chars: int | None) -> tuple[Record, tuple[Any, ...]]:
    """A live trace's record with this process's metadata set, and the rows of its spans (``LiveTrace.encode``)."""
    record = trace_to_record(trace, process_metadata(), max_chars, shared_metadata_set_id())
    return record, record[SPANS_FIELD]


def trace_to_record(trace: LiveTrace, process_metadata: dict[str, str], max_chars: int | None,
                    shared_set_id: str | None = None) -> Record:
    """Serialize a live trace into a store record. Runs with the trace's lock held.

    With ``shared_set_id`` (the id of ``process_metadata`` as a stored metadata set), the
    process metadata is referenced rather than copied, unless the trace overrides one of
    its keys (then everything is stored with the trace so filters see one value per key).
    Spans an earlier hand-over stored and released (see ``LiveTrace.release``) are read
    back from their rows, so a span that ends late re-sends the whole trace.
    """
    live_spans: list[LiveSpan] = list(trace.spans)
    for live in live_spans:
        if isinstance(live.outputs, DeferredOutputs):
            live.resolve_deferred_outputs()
    spans: list[Span] = list(live_spans)
    root: Span | None = trace.root
    if trace.stored_spans:
        current = {s.span_id for s in spans}
        earlier = [span_from_row(trace.trace_id, row) for row in trace.stored_spans if row[0] not in current]
        spans = earlier + spans
        if root is None:
            root = next((s for s in earlier if s.parent_id is None), None)
    use_set = shared_set_id is not None and process_metadata.keys().isdisjoint(trace.metadata)
    metadata = {} if use_set else dict(process_metadata)
    metadata.update(trace.metadata)
    counted = counted_usage_spans(spans)
    usage = sum_token_usage(counted)
    token_usage = dumps(usage) if usage else metadata.get(keys.TOKEN_USAGE)
    input_tokens, output_tokens, total_tokens = token_counts(usage or token_usage)
    costs = _span_costs(spans)
    cost = _trace_cost(costs, counted, metadata)
    model_id = metadata.get(keys.MODEL_ID)
    for key in METADATA_COLUMNS:
        metadata.pop(key, None)
    tags = dict(trace.tags)
    name = tags.pop(keys.TRACE_NAME_TAG, None)
    request_preview = trace.request_preview
    response_preview = trace.response_preview
    root_io: tuple[str, str] | None = None
    if root is None:
        state, duration = TraceState.IN_PROGRESS, None
    else:
        _, _, root_name, _, start_time_ns, end_time_ns, status, root_inputs, root_outputs, _, _ = root.fields()
        name = name or root_name
        if end_time_ns is None:
            state, duration = TraceState.IN_PROGRESS, None
        else:
            state = TraceState.ERROR if status.status_code == SpanStatusCode.ERROR else TraceState.OK
            duration = (end_time_ns - start_time_ns) // 1_000_000
        root_io = (capped_json(root_inputs, max_chars), capped_json(root_outputs, max_chars))
        # An integration's previews (autolog._tracing.previews) hold while the stored JSON is the value, not cut.
        fast = trace.fast_previews or (None, None)
        if request_preview is None:
            request_preview = (fast[0] if root_io[0] is root_inputs else None) or preview_of(
                root_inputs, root_io[0], "user")
        if response_preview is None:
            response_preview = (fast[1] if root_io[1] is root_outputs else None) or preview_of(
                root_outputs, root_io[1], "assistant")
    if trace.state is not None:
        state = trace.state
    run_id = metadata.get(keys.SOURCE_RUN) or (process_metadata.get(keys.SOURCE_RUN) if use_set else None)
    return (trace.trace_id, trace.experiment_id, name, trace.request_time_ms, duration, state,
            trace.client_request_id, model_id, run_id, token_usage, input_tokens, output_tokens, total_tokens, cost,
            request_preview, response_preview,
            shared_set_id if use_set else None, tuple(tags.items()), tuple(metadata.items()),
            tuple([_span_row(s, max_chars, root_io if s is root else None, costs.get(s.span_id)) for s in spans]))


def _span_costs(spans: list[Span]) -> dict[str, dict[str, float]]:
    """``mlflow.llm.cost`` of every span with token usage and a priced model, by span id."""
    costs = {}
    for span in spans:
        attributes = span.recorded_attributes
        if keys.TOKEN_USAGE_ATTRIBUTE in attributes or keys.LLM_COST in attributes:
            cost = span_cost(attributes)
            if cost is not None:
                costs[span.span_id] = cost
    return costs


def _trace_cost(costs: dict[str, dict[str, float]], counted: list[Span], metadata: dict[str, str]) -> float | None:
    """Set ``mlflow.trace.cost`` in ``metadata`` (the counted spans that are priced, summed); the total in USD.

    Spans without a price add nothing: the cost of a trace is that of its priced calls. Without
    any, metadata the trace was given keeps its value (its total still fills the column).
    """
    total = sum_costs([costs[s.span_id] for s in counted if s.span_id in costs])
    if total is not None:
        metadata[keys.TRACE_COST] = dumps(total)
        return total["total_cost"]
    given = metadata.get(keys.TRACE_COST)
    if given is None:
        return None
    try:
        value = json.loads(given).get("total_cost")
    except (ValueError, TypeError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
