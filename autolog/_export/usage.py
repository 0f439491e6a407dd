"""A trace's token usage: the sum over the spans that report usage, each LLM call counted once."""

from __future__ import annotations

from autolog.entities.keys import TOKEN_USAGE_ATTRIBUTE
from autolog.entities.span import Span, SpanType

__all__ = ["aggregate_token_usage"]

_USAGE_SPAN_TYPES = frozenset((SpanType.LLM, SpanType.CHAT_MODEL))
_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "reasoning_tokens")


def aggregate_token_usage(spans: list[Span]) -> dict[str, int] | None:
    """Sum usage of LLM/CHAT_MODEL spans, skipping spans below one that already carries usage.

    A LangChain ChatOpenAI span and the OpenAI SDK span inside it report the same call:
    only the outer one counts.
    """
    if len(spans) == 1:  # most traces of an integration: one call, nothing to shadow
        return _sum_usage(spans)
    by_id = {s.span_id: s for s in spans}
    carriers = {s.span_id for s in spans if s.span_type in _USAGE_SPAN_TYPES
                and isinstance(s.recorded_attributes.get(TOKEN_USAGE_ATTRIBUTE), dict)}
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


def _sum_usage(spans: list[Span]) -> dict[str, int] | None:
    total: dict[str, int] = {}
    for span in spans:
        usage = span.recorded_attributes.get(TOKEN_USAGE_ATTRIBUTE)
        if span.span_type not in _USAGE_SPAN_TYPES or not isinstance(usage, dict):
            continue
        for key, value in usage.items():
            if key in _USAGE_KEYS and isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + int(value)
    if not total:
        return None
    if "total_tokens" not in total:
        total["total_tokens"] = total.get("input_tokens", 0) + total.get("output_tokens", 0)
    return total
