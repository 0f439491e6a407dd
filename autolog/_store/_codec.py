"""Turning a recorded trace into the record the store writes, and stored rows back into a Trace.

This runs on the export worker: serialization of the user's objects, size caps,
previews and token-usage aggregation all happen here, off the application thread.
A record is a plain JSON-able dict, so the same thing is written to the store and,
on overflow, appended to the spool.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from autolog import _metadata as keys
from autolog._live import LiveTrace
from autolog._serialize import dumps, truncate
from autolog._span import Span, SpanEvent, SpanStatus, SpanStatusCode, SpanType
from autolog._trace import Trace, TraceData, TraceInfo, TraceState

PREVIEW_CHARS = 1000
_USAGE_SPAN_TYPES = frozenset((SpanType.LLM, SpanType.CHAT_MODEL))
TOKEN_USAGE_ATTRIBUTE = "mlflow.chat.tokenUsage"
_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "reasoning_tokens")


def _capped_json(value: Any, max_chars: int | None) -> str:
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
    by_id = {s.span_id: s for s in spans}
    carriers = {s.span_id for s in spans
                if s.span_type in _USAGE_SPAN_TYPES and isinstance(s._attributes.get(TOKEN_USAGE_ATTRIBUTE), dict)}
    if not carriers:
        return None
    total: dict[str, int] = {}
    for span_id in carriers:
        span = by_id[span_id]
        parent = span.parent_id
        shadowed = False
        while parent is not None:
            if parent in carriers:
                shadowed = True
                break
            ancestor = by_id.get(parent)
            parent = ancestor.parent_id if ancestor is not None else None
        if shadowed:
            continue
        for key, value in span._attributes[TOKEN_USAGE_ATTRIBUTE].items():
            if key in _USAGE_KEYS and isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + int(value)
    if total and "total_tokens" not in total:
        total["total_tokens"] = total.get("input_tokens", 0) + total.get("output_tokens", 0)
    return total


def _preview(value: Any, value_json: str) -> str | None:
    if value is None:
        return None
    # A str preview is the text itself, not its JSON quoting; anything else reuses the JSON already made.
    return truncate(value if isinstance(value, str) else value_json, PREVIEW_CHARS)


def _span_row(span: Span, max_chars: int | None, io_json: tuple[str, str] | None = None) -> list[Any]:
    events = [{"name": e.name, "timestamp_ns": e.timestamp_ns, "attributes": e.attributes}
              for e in span._events] if span._events else []
    inputs_json, outputs_json = io_json or (_capped_json(span._inputs, max_chars),
                                            _capped_json(span._outputs, max_chars))
    content = "".join((
        '{"inputs":', inputs_json,
        ',"outputs":', outputs_json,
        ',"attributes":', dumps(span._attributes) if span._attributes else "{}",
        ',"events":', dumps(events) if events else "[]",
        ',"status_message":', json.dumps(span._status.description),
        "}",
    ))
    return [span._span_id, span._parent_id, span._name, span._span_type, span._status.status_code,
            span._start_time_ns, span._end_time_ns, content]


def metadata_set_id(shared: dict[str, str]) -> str:
    """A content hash naming a set of shared metadata, equal across processes with equal metadata."""
    return hashlib.sha1(json.dumps(shared, sort_keys=True).encode("utf-8")).hexdigest()[:20]


def trace_to_record(trace: LiveTrace, process_metadata: dict[str, str], max_chars: int | None,
                    shared_set_id: str | None = None) -> dict[str, Any]:
    """Serialize a live trace into a store record (JSON-able). Runs on the worker.

    With ``shared_set_id`` (the id of ``process_metadata`` as a stored metadata set), the
    process metadata is referenced rather than copied, unless the trace overrides one of
    its keys (then everything is stored with the trace so filters see one value per key).
    """
    spans = list(trace.spans)
    root = trace.root
    use_set = shared_set_id is not None and not any(k in process_metadata for k in trace.metadata)
    metadata = {} if use_set else dict(process_metadata)
    metadata.update(trace.metadata)
    usage = aggregate_token_usage(spans)
    if usage:
        metadata[keys.TOKEN_USAGE] = json.dumps(usage)
    tags = dict(trace.tags)
    if root is None:
        state, duration, name = TraceState.IN_PROGRESS, None, None
    else:
        name = root._name
        tags.setdefault(keys.TRACE_NAME_TAG, name)
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
    return {
        "trace_id": trace.trace_id,
        "experiment_id": trace.experiment_id,
        "name": name,
        "request_time": trace.request_time_ms,
        "execution_duration": duration,
        "state": state,
        "client_request_id": trace.client_request_id,
        "model_id": metadata.get(keys.MODEL_ID),
        "run_id": metadata.get(keys.SOURCE_RUN) or (None if not use_set else process_metadata.get(keys.SOURCE_RUN)),
        "metadata_set": [shared_set_id, process_metadata] if use_set else None,
        "request_preview": request_preview,
        "response_preview": response_preview,
        "tags": tags,
        "metadata": metadata,
        "spans": [_span_row(s, max_chars, root_io if s is root else None) for s in spans],
    }


def span_from_row(trace_id: str, row: Any) -> Span:
    span_id, parent_id, name, span_type, status, start, end, content = row
    body = json.loads(content)
    events = [SpanEvent(e["name"], e["timestamp_ns"], e.get("attributes") or {}) for e in body.get("events") or []]
    return Span(trace_id=trace_id, span_id=span_id, parent_id=parent_id, name=name, span_type=span_type,
                start_time_ns=start, end_time_ns=end,
                status=SpanStatus(status or SpanStatusCode.UNSET, body.get("status_message") or ""),
                inputs=body.get("inputs"), outputs=body.get("outputs"), attributes=body.get("attributes") or {},
                events=events)


def trace_from_rows(trace_row: Any, tags: dict[str, str], metadata: dict[str, str], span_rows: list[Any],
                    assessments: list[Any]) -> Trace:
    (trace_id, experiment_id, _name, request_time, duration, state, client_request_id,
     request_preview, response_preview, _metadata_set) = trace_row
    spans = sorted((span_from_row(trace_id, r) for r in span_rows), key=lambda s: (s.start_time_ns, s.span_id))
    info = TraceInfo(trace_id=trace_id, experiment_id=experiment_id, request_time=request_time, state=state,
                     execution_duration=duration, request_preview=request_preview, response_preview=response_preview,
                     client_request_id=client_request_id, trace_metadata=metadata, tags=tags, assessments=assessments)
    return Trace(info=info, data=TraceData(spans=spans))
