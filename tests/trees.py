"""Whole-tree views of traces for assertions: compare structures, not single attributes."""

from __future__ import annotations

from typing import Any

from autolog import Span, Trace


def span_tree(trace: Trace, fields: tuple[str, ...] = ("name", "span_type")) -> list[Any]:
    """Nested ``[(field values..., [children])]`` from the roots down, children in start order."""
    spans = sorted(trace.data.spans, key=lambda s: (s.start_time_ns, s.span_id))
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        children.setdefault(span.parent_id, []).append(span)

    def build(parent_id: str | None) -> list[Any]:
        return [(*(_field(s, f) for f in fields), build(s.span_id)) for s in children.get(parent_id, [])]

    return build(None)


def _field(span: Span, name: str) -> Any:
    if name == "status":
        return span.status.status_code
    if name == "usage":
        return span.attributes.get("mlflow.chat.tokenUsage")
    if name == "model":
        return span.attributes.get("mlflow.llm.model")
    return getattr(span, name)


def parallel_branches_sorted(tree: list[Any]) -> list[Any]:
    """``span_tree`` output with the branches of each LangChain ``RunnableParallel`` sorted.

    Those branches run concurrently (a thread pool), so their start order varies between
    runs; every other sibling list keeps its start order.
    """
    def node(entry: tuple[Any, ...]) -> tuple[Any, ...]:
        children = [node(child) for child in entry[-1]]
        if str(entry[0]).startswith("RunnableParallel"):
            children.sort(key=repr)
        return (*entry[:-1], children)

    return [node(entry) for entry in tree]
