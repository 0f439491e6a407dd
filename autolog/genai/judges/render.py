"""What a judge's prompt shows: template placeholders, values as JSON, traces as span trees, documents.

Everything is cut to a bounded length: a judge's context window is finite and a long trace
would otherwise crowd out the instructions (the cut says how much was left out).
"""

from __future__ import annotations

import json
import re
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog.entities.span import Span, SpanType
from autolog.entities.trace import Trace

__all__ = ["TEMPLATE_FIELDS", "placeholders_of", "render_documents", "render_template", "render_trace",
           "render_value", "retrieved_documents", "retrieved_documents_by_span", "truncate"]

TEMPLATE_FIELDS = ("inputs", "outputs", "expectations", "trace")
MAX_VALUE_CHARS = 20_000
MAX_SPAN_FIELD_CHARS = 2_000
MAX_TRACE_CHARS = 40_000

# Any {{ ... }}, so that a misspelled or unsupported name is reported rather than sent verbatim.
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def placeholders_of(instructions: str) -> tuple[str, ...]:
    """The fields a template uses, in ``TEMPLATE_FIELDS`` order; raises on anything else or on none."""
    if not isinstance(instructions, str) or not instructions.strip():
        raise InvalidArgumentError("a judge's instructions must be a non-empty str")
    used = [m.group(1) for m in _PLACEHOLDER.finditer(instructions)]
    unknown = sorted({name for name in used if name not in TEMPLATE_FIELDS})
    if unknown:
        raise InvalidArgumentError(f"judge instructions use unsupported placeholder(s) "
                                   f"{', '.join('{{ ' + n + ' }}' for n in unknown)}; only "
                                   f"{', '.join('{{ ' + f + ' }}' for f in TEMPLATE_FIELDS)} are supported")
    if not used:
        raise InvalidArgumentError("judge instructions must use at least one of "
                                   f"{', '.join('{{ ' + f + ' }}' for f in TEMPLATE_FIELDS)}")
    return tuple(f for f in TEMPLATE_FIELDS if f in used)


def render_template(instructions: str, values: dict[str, Any]) -> str:
    """The instructions with each placeholder replaced by its rendered value (in one pass, so a value
    that itself contains ``{{ inputs }}`` is left as it is)."""
    rendered = {name: render_trace(v) if isinstance(v, Trace) else render_value(v) for name, v in values.items()}
    return _PLACEHOLDER.sub(lambda m: rendered.get(m.group(1), m.group(0)), instructions)


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters cut]"


def render_value(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A value as the judge reads it: JSON (non-ASCII kept), a str as it is, anything else by ``str``."""
    if isinstance(value, str):
        return truncate(value, limit)
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # a circular structure, say
        text = str(value)
    return truncate(text, limit)


def render_trace(trace: Trace, limit: int = MAX_TRACE_CHARS) -> str:
    """The span tree, one indented entry per span: name, type, inputs and outputs (each cut short)."""
    spans = sorted(trace.data.spans, key=lambda s: s.start_time_ns)
    children: dict[str | None, list[Span]] = {}
    ids = {s.span_id for s in spans}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None  # an orphan shows at the top
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in children.get(parent, []):
            pad = "  " * depth
            status = span.status.status_code
            lines.append(f"{pad}- {span.name} [{span.span_type}]" + (" (ERROR)" if status == "ERROR" else ""))
            lines.append(f"{pad}  inputs: {render_value(span.inputs, MAX_SPAN_FIELD_CHARS)}")
            lines.append(f"{pad}  outputs: {render_value(span.outputs, MAX_SPAN_FIELD_CHARS)}")
            walk(span.span_id, depth + 1)

    walk(None, 0)
    return truncate("\n".join(lines) if lines else "(a trace without spans)", limit)


def retrieved_documents(trace: Trace) -> list[str]:
    """The text of each document the trace's RETRIEVER spans returned, in the order they ran.

    A retriever's outputs are usually a list of documents (``{"page_content": ..., "metadata": ...}``
    as LangChain and MLflow write them, or ``content``/``text``); anything else counts as one document.
    """
    return [text for _, text in retrieved_documents_by_span(trace)]


def retrieved_documents_by_span(trace: Trace) -> list[tuple[str, str]]:
    """``(span_id, text)`` of each retrieved document, so a feedback per document can name its span."""
    documents: list[tuple[str, str]] = []
    for span in sorted(trace.search_spans(span_type=SpanType.RETRIEVER), key=lambda s: s.start_time_ns):
        outputs = span.outputs
        items = outputs if isinstance(outputs, list) else [] if outputs is None else [outputs]
        documents.extend((span.span_id, _document_text(item)) for item in items)
    return documents


def _document_text(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("page_content", "content", "text"):
            if isinstance(item.get(key), str):
                source = (item.get("metadata") or {}).get("doc_uri") if isinstance(item.get("metadata"), dict) else None
                return f"{item[key]}" + (f" (source: {source})" if source else "")
    return render_value(item, MAX_SPAN_FIELD_CHARS)


def render_documents(documents: list[str]) -> str:
    return "\n".join(f"[{i}] {truncate(doc, MAX_SPAN_FIELD_CHARS * 2)}" for i, doc in enumerate(documents, 1))
