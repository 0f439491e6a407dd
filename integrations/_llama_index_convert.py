"""LlamaIndex objects → span types, readable inputs/outputs, model and token usage."""

from __future__ import annotations

from typing import Any

from autolog.entities import SpanType

from ._openai_extract import token_usage

_TYPE_CACHE: dict[tuple[type, str], str] = {}
_CHAT_METHODS = frozenset({"chat", "achat", "stream_chat", "astream_chat"})
_MAX_DEPTH = 3


def _class_table() -> list[tuple[type, str]]:
    """(base class, span type), most specific first; imported lazily, skipping what this version lacks."""
    import importlib

    table = []
    for module_name, class_name, span_type in (
        ("llama_index.core.base.llms.base", "BaseLLM", SpanType.LLM),
        ("llama_index.core.base.embeddings.base", "BaseEmbedding", SpanType.EMBEDDING),
        ("llama_index.core.base.base_retriever", "BaseRetriever", SpanType.RETRIEVER),
        ("llama_index.core.postprocessor.types", "BaseNodePostprocessor", SpanType.RERANKER),
        ("llama_index.core.agent.workflow.base_agent", "BaseWorkflowAgent", SpanType.AGENT),
        ("llama_index.core.base.agent.types", "BaseAgent", SpanType.AGENT),
        ("llama_index.core.tools.types", "BaseTool", SpanType.TOOL),
        ("workflows.workflow", "Workflow", SpanType.WORKFLOW),
        ("llama_index.core.workflow", "Workflow", SpanType.WORKFLOW),
        ("llama_index.core.base.base_query_engine", "BaseQueryEngine", SpanType.CHAIN),
        ("llama_index.core.response_synthesizers.base", "BaseSynthesizer", SpanType.CHAIN),
    ):
        try:
            table.append((getattr(importlib.import_module(module_name), class_name), span_type))
        except (ImportError, AttributeError):
            continue
    return table


_TABLE: list[tuple[type, str]] | None = None


def span_type_of(instance: Any, method: str, is_workflow_step: bool = False) -> str:
    """The span type for ``instance.method``: by what the instance is (cached per class and method).

    Workflow steps (LlamaIndex tags their spans with the step's input event) are TASK.
    """
    global _TABLE
    if instance is None:  # a function; the step tag is inherited by spans inside a step, hence this order
        return SpanType.TASK if is_workflow_step else SpanType.CHAIN
    key = (type(instance), method)
    cached = _TYPE_CACHE.get(key)
    if cached is not None:
        return cached
    if _TABLE is None:
        _TABLE = _class_table()
    span_type = SpanType.CHAIN
    for base, candidate in _TABLE:
        if isinstance(instance, base):
            span_type = candidate
            break
    if span_type == SpanType.LLM and method in _CHAT_METHODS:
        span_type = SpanType.CHAT_MODEL
    _TYPE_CACHE[key] = span_type
    return span_type


def message_dict(message: Any) -> dict[str, Any]:
    role = getattr(message, "role", None)
    out: dict[str, Any] = {"role": getattr(role, "value", role), "content": getattr(message, "content", None)}
    tool_calls = (getattr(message, "additional_kwargs", None) or {}).get("tool_calls")
    if tool_calls:
        out["tool_calls"] = [call.model_dump() if hasattr(call, "model_dump") else call for call in tool_calls]
    return out


def _node(value: Any) -> dict[str, Any]:
    node = getattr(value, "node", value)
    out: dict[str, Any] = {"id": getattr(node, "node_id", None), "text": getattr(node, "text", None)}
    if hasattr(value, "score"):
        out["score"] = value.score
    out["metadata"] = getattr(node, "metadata", None)
    return out


def readable(value: Any, span_type: str, depth: int = 0) -> Any:
    """Messages as role/content, nodes as id/text/score/metadata, responses as their text; vectors summarised."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    name = type(value).__name__
    if name == "ChatMessage":
        return message_dict(value)
    if name == "ChatResponse":
        return message_dict(value.message)
    if name == "CompletionResponse":
        return value.text
    if name == "QueryBundle":
        return value.query_str
    if name in ("NodeWithScore", "TextNode", "Document", "ImageNode", "IndexNode"):
        return _node(value)
    if name in ("Response", "PydanticResponse"):
        out: dict[str, Any] = {"response": str(value.response) if value.response is not None else None}
        if value.source_nodes:
            out["source_nodes"] = [_node(n) for n in value.source_nodes]
        return out
    if span_type == SpanType.EMBEDDING and isinstance(value, list) and value:
        if isinstance(value[0], float):
            return {"dimensions": len(value)}
        if isinstance(value[0], list):
            return {"vectors": len(value), "dimensions": len(value[0])}
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: readable(v, span_type, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], (str, int, float)):
            return value  # a vector or a list of strings: nothing to convert, and walking it would cost O(n)
        return [readable(v, span_type, depth + 1) for v in value]
    return value


def llm_attributes(response: Any) -> dict[str, Any]:
    """``mlflow.llm.model`` and ``mlflow.chat.tokenUsage`` from an LLM end event's response."""
    attributes: dict[str, Any] = {}
    raw = getattr(response, "raw", None)
    model = raw.get("model") if isinstance(raw, dict) else getattr(raw, "model", None)
    if model:
        attributes["mlflow.llm.model"] = str(model)
    usage = raw.get("usage") if isinstance(raw, dict) else getattr(raw, "usage", None)
    tokens = token_usage(usage)
    if tokens is None:
        # Some LLM integrations report counts in additional_kwargs instead of the raw response.
        extra = getattr(response, "additional_kwargs", None) or {}
        if "prompt_tokens" in extra or "input_tokens" in extra:
            tokens = token_usage(extra)
    if tokens:
        attributes["mlflow.chat.tokenUsage"] = tokens
    return attributes
