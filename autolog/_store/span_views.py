"""A trace's span tree without the spans' contents, and one span read by its key: what a trace viewer needs.

A trace of 30,000 spans holds megabytes of inputs and outputs; its tree needs none of them.
SQLite extracts the few content fields the tree shows (status message, event count, whether an
exception was recorded, token usage, cost), so no span's JSON is parsed in Python. A span's
contents are then read one at a time, by the spans table's primary key (trace id, span id).
"""

from __future__ import annotations

import json
from typing import Any

from autolog._store.dialect import Dialect, SessionSource
from autolog._store.rows import span_from_row
from autolog.entities import keys
from autolog.entities.span import Span, SpanStatusCode

__all__ = ["SKELETON_FIELDS", "read_span", "span_skeletons"]

# The fields of a skeleton span, in the order span_skeletons' query returns them.
SKELETON_FIELDS = ("span_id", "parent_id", "name", "span_type", "start_time_ns", "end_time_ns", "status_code",
                   "status_message", "n_events", "has_exception", "token_usage", "cost")

def _skeleton_sql(d: Dialect) -> str:
    return ("SELECT span_id, parent_id, name, span_type, start_time_ns, end_time_ns, status,"
            f" {d.json_value('content', ('status_message',))}, {d.json_array_length('content', ('events',))},"
            f" EXISTS (SELECT 1 FROM {d.json_array('content', 'e', ('events',))}"
            f" WHERE {d.json_value('e.value', ('name',))} = 'exception'),"
            f" {d.json_object('content', ('attributes', keys.TOKEN_USAGE_ATTRIBUTE))},"
            f" {d.json_object('content', ('attributes', keys.LLM_COST))}"
            " FROM spans WHERE trace_id = ? ORDER BY start_time_ns, span_id")


def _json_or_none(text: Any) -> Any:
    """json_extract gives an object as JSON text and a number as itself; a bad value shows as nothing."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


def span_skeletons(connections: SessionSource, trace_id: str) -> list[dict[str, Any]]:
    """The trace's spans in start order (then span id, as ``Trace.data.spans``), each as a dict of
    ``SKELETON_FIELDS``: no inputs, outputs, attributes or events. [] for an unknown trace."""
    with connections.session("reading a trace's span tree") as conn:
        rows = conn.execute(_skeleton_sql(connections.dialect), (trace_id,)).fetchall()
    out = []
    for row in rows:
        span = dict(zip(SKELETON_FIELDS, row, strict=True))
        span["status_code"] = span["status_code"] or SpanStatusCode.UNSET
        span["status_message"] = span["status_message"] or ""
        span["n_events"] = span["n_events"] or 0
        span["has_exception"] = bool(span["has_exception"])
        span["token_usage"] = _json_or_none(span["token_usage"])
        span["cost"] = _json_or_none(span["cost"])
        out.append(span)
    return out


def read_span(connections: SessionSource, trace_id: str, span_id: str) -> Span | None:
    """One stored span with its contents (None if the trace has no such span)."""
    with connections.session("reading a span") as conn:
        row = conn.execute("SELECT span_id, parent_id, name, span_type, status, start_time_ns, end_time_ns, content"
                           " FROM spans WHERE trace_id = ? AND span_id = ?", (trace_id, span_id)).fetchone()
    return None if row is None else span_from_row(trace_id, row)
