"""A trace's token usage: the sum over the spans that report usage, each call counted once (its cost too)."""

from __future__ import annotations

from autolog.entities.keys import TOKEN_USAGE_ATTRIBUTE
from autolog.entities.span import Span

__all__ = ["aggregate_token_usage", "counted_usage_spans", "sum_token_usage"]

_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "reasoning_tokens")


def aggregate_token_usage(spans: list[Span]) -> dict[str, int] | None:
    """Sum the usage of every span that carries it (LLM, chat, embedding, any type), skipping spans below
    one that already carries usage: MLflow's rule.

    A LangChain ChatOpenAI (or OpenAIEmbeddings) span and the OpenAI SDK span inside it report
    the same call: only the outer one counts.
    """
    return sum_token_usage(counted_usage_spans(spans))


def counted_usage_spans(spans: list[Span]) -> list[Span]:
    """The spans whose usage (and cost) a trace sums: those carrying usage below no span that carries usage."""
    if len(spans) == 1:  # most traces of an integration: one call, nothing to shadow
        return spans
    carriers = {s.span_id: s for s in spans if isinstance(s.recorded_attributes.get(TOKEN_USAGE_ATTRIBUTE), dict)}
    if not carriers:
        return []
    parents = {s.span_id: s.parent_id for s in spans}
    counted = []
    for span in carriers.values():
        parent = span.parent_id
        steps = len(spans)  # a parent chain never loops, but recorded data is not trusted to be a tree
        while parent is not None and parent not in carriers and steps:
            parent = parents.get(parent)
            steps -= 1
        if parent is None or parent not in carriers:  # no ancestor carries usage
            counted.append(span)
    return counted


def sum_token_usage(spans: list[Span]) -> dict[str, int] | None:
    """The sum of the spans' usage (spans without usage add nothing; None when none has any)."""
    total: dict[str, int] = {}
    for span in spans:
        usage = span.recorded_attributes.get(TOKEN_USAGE_ATTRIBUTE)
        if not isinstance(usage, dict):
            continue
        for key, value in usage.items():
            if key in _USAGE_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + int(value)
    if not total:
        return None
    if "total_tokens" not in total:
        total["total_tokens"] = total.get("input_tokens", 0) + total.get("output_tokens", 0)
    return total
