"""Turning a recorded trace into the record the store writes, and stored rows back into a Trace.

This runs on the export worker: serialization of the user's objects, size caps,
previews and token-usage aggregation all happen here, off the application thread.
A record is a flat tuple of text and numbers (see ``RECORD_FIELDS``): the same thing is
written to the store and, on overflow, appended to the spool as a JSON object.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from autolog import _metadata as keys
from autolog._serialize import JsonText, dumps, truncate
from autolog._span import DeferredOutputs, Span, SpanEvent, SpanStatus, SpanStatusCode, SpanType
from autolog._trace import Trace, TraceData, TraceInfo, TraceState

if TYPE_CHECKING:
    from autolog._live import LiveTrace

PREVIEW_CHARS = 1000
_USAGE_SPAN_TYPES = frozenset((SpanType.LLM, SpanType.CHAT_MODEL))
TOKEN_USAGE_ATTRIBUTE = "mlflow.chat.tokenUsage"
_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "reasoning_tokens")


def _capped_json(value: Any, max_chars: int | None) -> str:
    if type(value) is JsonText and (max_chars is None or len(value) <= max_chars):
        return value  # what integrations record: JSON already
    text = dumps(value)
    if max_chars is not None and len(text) > max_chars:
        # The cut text is not valid JSON any more, so store it as a JSON string.
        return json.dumps(truncate(text, max_chars), ensure_ascii=False)
    return text


def aggregate_token_usage(spans: list[Any]) -> dict[str, int] | None:
    """Sum usage of LLM/CHAT_MODEL spans, skipping spans below one that already carries usage.

    A LangChain ChatOpenAI span and the OpenAI SDK span inside it report the same call:
    only the outer one counts.
    """
    if len(spans) == 1:  # most traces of an integration: one call, nothing to shadow
        return _sum_usage(spans)
    by_id = {s.span_id: s for s in spans}
    carriers = {s.span_id for s in spans
                if s.span_type in _USAGE_SPAN_TYPES and isinstance(s._attributes.get(TOKEN_USAGE_ATTRIBUTE), dict)}
    if not carriers:
        return None
    counted = []
    for span_id in carriers:
        span = by_id[span_id]
        parent = span.parent_id
        while parent is not None and parent not in carriers:
            ancestor = by_id.get(parent)
            parent = ancestor.parent_id if ancestor is not None else None
        if parent is None:  # no ancestor carries usage
            counted.append(span)
    return _sum_usage(counted)


def _sum_usage(spans: list[Any]) -> dict[str, int] | None:
    total: dict[str, int] = {}
    for span in spans:
        usage = span._attributes.get(TOKEN_USAGE_ATTRIBUTE)
        if span._span_type not in _USAGE_SPAN_TYPES or not isinstance(usage, dict):
            continue
        for key, value in usage.items():
            if key in _USAGE_KEYS and isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + int(value)
    if not total:
        return None
    if "total_tokens" not in total:
        total["total_tokens"] = total.get("input_tokens", 0) + total.get("output_tokens", 0)
    return total


def _preview(value: Any, value_json: str) -> str | None:
    if value is None:
        return None
    # A str preview is the text itself, not its JSON quoting; anything else reuses the JSON already made.
    # Always an exact str: sqlite3 binds a str subclass (JsonText) through its adapter
    # lookup, which fails with two AttributeErrors per value.
    return str(truncate(value if isinstance(value, str) else value_json, PREVIEW_CHARS))


def _span_row(span: Span, max_chars: int | None, io_json: tuple[str, str] | None = None) -> tuple[Any, ...]:
    inputs_json, outputs_json = io_json or (_capped_json(span._inputs, max_chars),
                                            _capped_json(span._outputs, max_chars))
    events = span._events
    description = span._status.description
    content = "".join((
        '{"inputs":', inputs_json,
        ',"outputs":', outputs_json,
        ',"attributes":', dumps(span._attributes) if span._attributes else "{}",
        ',"events":', dumps([{"name": e.name, "timestamp_ns": e.timestamp_ns, "attributes": e.attributes}
                             for e in events]) if events else "[]",
        ',"status_message":', json.dumps(description) if description else '""',
        "}",
    ))
    return (span._span_id, span._parent_id, span._name, span._span_type, span._status.status_code,
            span._start_time_ns, span._end_time_ns, content)


def metadata_set_id(shared: dict[str, str]) -> str:
    """A content hash naming a set of shared metadata, equal across processes with equal metadata."""
    return hashlib.sha1(json.dumps(shared, sort_keys=True).encode("utf-8")).hexdigest()[:20]


# A record is one trace as the store writes it: a flat tuple of text and numbers, with tags,
# metadata and span rows as tuples of tuples. Only exact tuples of immutable values are
# untracked by the garbage collector after one pass, so records waiting in the export queue
# cost no collection work (dicts and lists would be scanned by every collection until
# written, and promoted into the generation whose collections are the costly full ones).
# Fields, in order:
RECORD_FIELDS = ("trace_id", "experiment_id", "name", "request_time", "execution_duration", "state",
                 "client_request_id", "model_id", "run_id", "token_usage", "request_preview", "response_preview",
                 "metadata_set", "tags", "metadata", "spans")
SET_FIELD, TAGS_FIELD, METADATA_FIELD, SPANS_FIELD = (RECORD_FIELDS.index(f) for f in (
    "metadata_set", "tags", "metadata", "spans"))  # the fields before TAGS_FIELD are the `traces` row
Record = tuple[Any, ...]

def content_chars(record: Record) -> int:
    """Characters of span content (inputs, outputs, attributes, events) in a record: what write bounds count."""
    return sum(len(row[-1]) for row in record[SPANS_FIELD])


# Keys every trace carries are columns of `traces`, not key/value rows (two fewer index
# inserts each); reads and filters treat them as the tag/metadata they are.
TAG_COLUMNS = {keys.TRACE_NAME_TAG: "name"}
METADATA_COLUMNS = {keys.MODEL_ID: "model_id", keys.TOKEN_USAGE: "token_usage"}


def trace_to_record(trace: LiveTrace, process_metadata: dict[str, str], max_chars: int | None,
                    shared_set_id: str | None = None) -> Record:
    """Serialize a live trace into a store record. Runs with the trace's lock held.

    With ``shared_set_id`` (the id of ``process_metadata`` as a stored metadata set), the
    process metadata is referenced rather than copied, unless the trace overrides one of
    its keys (then everything is stored with the trace so filters see one value per key).
    Spans an earlier hand-over stored and released (see ``LiveTrace.release``) are read
    back from their rows, so a span that ends late re-sends the whole trace.
    """
    spans: list[Span] = list(trace.spans)
    root: Span | None = trace.root
    for span in spans:
        if isinstance(span._outputs, DeferredOutputs):
            outputs, attributes = span._outputs.resolve()
            span._outputs = outputs
            if attributes:
                span._attributes.update(attributes)
    if trace.stored_spans:
        current = {s._span_id for s in spans}
        earlier = [span_from_row(trace.trace_id, row) for row in trace.stored_spans if row[0] not in current]
        spans = earlier + spans
        if root is None:
            root = next((s for s in earlier if s._parent_id is None), None)
    use_set = shared_set_id is not None and process_metadata.keys().isdisjoint(trace.metadata)
    metadata = {} if use_set else dict(process_metadata)
    metadata.update(trace.metadata)
    usage = aggregate_token_usage(spans)
    token_usage = dumps(usage) if usage else metadata.get(keys.TOKEN_USAGE)
    model_id = metadata.get(keys.MODEL_ID)
    for key in METADATA_COLUMNS:
        metadata.pop(key, None)
    tags = dict(trace.tags)
    name = tags.pop(keys.TRACE_NAME_TAG, None)
    if root is None:
        state, duration = TraceState.IN_PROGRESS, None
    else:
        name = name or root._name
        if root._end_time_ns is None:
            state, duration = TraceState.IN_PROGRESS, None
        else:
            state = TraceState.ERROR if root._status.status_code == SpanStatusCode.ERROR else TraceState.OK
            duration = (root._end_time_ns - root._start_time_ns) // 1_000_000
    if trace.state is not None:
        state = trace.state
    request_preview = trace.request_preview
    response_preview = trace.response_preview
    root_io: tuple[str, str] | None = None
    if root is not None:
        root_io = (_capped_json(root._inputs, max_chars), _capped_json(root._outputs, max_chars))
        if request_preview is None:
            request_preview = _preview(root._inputs, root_io[0])
        if response_preview is None:
            response_preview = _preview(root._outputs, root_io[1])
    run_id = metadata.get(keys.SOURCE_RUN) or (process_metadata.get(keys.SOURCE_RUN) if use_set else None)
    return (trace.trace_id, trace.experiment_id, name, trace.request_time_ms, duration, state,
            trace.client_request_id, model_id, run_id, token_usage, request_preview, response_preview,
            shared_set_id if use_set else None, tuple(tags.items()), tuple(metadata.items()),
            tuple([_span_row(s, max_chars, root_io if s is root else None) for s in spans]))


def record_to_json(record: Record, set_values: dict[str, str] | None) -> dict[str, Any]:
    """A record as a JSON object (a spool line), with the content of its metadata set if it names one."""
    obj = dict(zip(RECORD_FIELDS, record, strict=True))
    if record[SET_FIELD] is not None:
        obj["metadata_set_values"] = set_values
    return obj


def record_from_json(obj: dict[str, Any]) -> tuple[Record, dict[str, str] | None]:
    """A spooled record and the content of the metadata set it names (None if it names none).

    Also reads the first spool format, whose tags and metadata still held the keys that are
    columns now, and whose ``metadata_set`` was ``[set_id, values]``.
    """
    obj = dict(obj)
    set_values = obj.pop("metadata_set_values", None)
    if "token_usage" not in obj:
        metadata, tags = dict(obj["metadata"]), dict(obj["tags"])
        obj["token_usage"] = metadata.pop(keys.TOKEN_USAGE, None)
        metadata.pop(keys.MODEL_ID, None)
        obj["name"] = tags.pop(keys.TRACE_NAME_TAG, obj["name"])
        obj["metadata"], obj["tags"] = metadata, tags
        shared = obj.get("metadata_set")
        obj["metadata_set"], set_values = (shared[0], shared[1]) if shared else (None, None)
    return tuple(_frozen(obj[name]) for name in RECORD_FIELDS), set_values


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(value.items())
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


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
    info = TraceInfo(trace_id=trace_id, experiment_id=experiment_id, request_time=request_time, state=state,
                     execution_duration=duration, request_preview=request_preview, response_preview=response_preview,
                     client_request_id=client_request_id, trace_metadata=metadata, tags=tags, assessments=assessments)
    return Trace(info=info, data=TraceData(spans=spans))
