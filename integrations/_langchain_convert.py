"""LangChain objects → readable span inputs, outputs, usage and model names.

Messages become ``{"role", "content"}`` dicts (with ``tool_calls`` / ``tool_call_id``
when present), documents become ``{"page_content", "metadata"}``, prompt values become
their messages or text. Anything else is left to autolog's serializer.
"""

from __future__ import annotations

import json
from typing import Any

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "function",
          "developer": "developer"}
# Message chunks report their class name as their type.
_CHUNK_TYPES = {"AIMessageChunk": "ai", "HumanMessageChunk": "human", "SystemMessageChunk": "system",
                "ToolMessageChunk": "tool", "FunctionMessageChunk": "function", "ChatMessageChunk": "chat"}
_MAX_DEPTH = 3


def message_dict(message: Any) -> dict[str, Any]:
    """One LangChain message as an OpenAI-style role/content dict."""
    kind = str(getattr(message, "type", ""))
    kind = _CHUNK_TYPES.get(kind, kind)
    role = getattr(message, "role", None) if kind == "chat" else _ROLES.get(kind, kind)
    out: dict[str, Any] = {"role": role or kind, "content": getattr(message, "content", None)}
    tool_calls = getattr(message, "tool_calls", None)
    if tool_calls:
        out["tool_calls"] = [{
            "id": call.get("id"), "type": "function",
            "function": {"name": call.get("name"), "arguments": _json_text(call.get("args"))},
        } for call in tool_calls]
    tool_call_id = getattr(message, "tool_call_id", None)
    if tool_call_id:
        out["tool_call_id"] = tool_call_id
    name = getattr(message, "name", None)
    if name:
        out["name"] = name
    return out


def message_dicts(messages: Any) -> list[dict[str, Any]]:
    return [message_dict(m) for m in messages]


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _is_message(value: Any) -> bool:
    return hasattr(value, "content") and hasattr(value, "type") and hasattr(value, "additional_kwargs")


def readable(value: Any, depth: int = 0) -> Any:
    """Messages, documents and prompt values in their readable shape; containers walked a few levels deep."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if _is_message(value):
        return message_dict(value)
    if hasattr(value, "page_content") and hasattr(value, "metadata"):
        document = {"page_content": value.page_content, "metadata": value.metadata}
        if getattr(value, "id", None):
            document["id"] = value.id
        return document
    if hasattr(value, "to_messages") and hasattr(value, "to_string"):  # a PromptValue
        messages = value.to_messages()
        if len(messages) == 1 and getattr(messages[0], "type", None) == "human" and type(value).__name__ == \
                "StringPromptValue":
            return value.to_string()
        return {"messages": message_dicts(messages)}
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: readable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], (str, int, float)):
            return value  # a vector or a list of strings: nothing to convert, and walking it would cost O(n)
        return [readable(v, depth + 1) for v in value]
    return value


def chat_output(response: Any) -> Any:
    """An LLMResult as the assistant message (chat) or text (LLM); several generations as a list."""
    generations = getattr(response, "generations", None) or []
    outputs = []
    for per_prompt in generations:
        for generation in per_prompt:
            message = getattr(generation, "message", None)
            outputs.append(message_dict(message) if message is not None else getattr(generation, "text", None))
    if len(outputs) == 1:
        return outputs[0]
    return outputs or None


def _usage_from_metadata(usage: Any) -> dict[str, int]:
    out = {"input_tokens": int(usage.get("input_tokens") or 0), "output_tokens": int(usage.get("output_tokens") or 0)}
    out["total_tokens"] = int(usage.get("total_tokens") or out["input_tokens"] + out["output_tokens"])
    cached = (usage.get("input_token_details") or {}).get("cache_read")
    if cached is not None:
        out["cache_read_input_tokens"] = int(cached)
    reasoning = (usage.get("output_token_details") or {}).get("reasoning")
    if reasoning is not None:
        out["reasoning_tokens"] = int(reasoning)
    return out


def llm_usage(response: Any) -> dict[str, int] | None:
    """Token usage of one model call, counted once.

    ``usage_metadata`` of the first generation per prompt (with ``n`` choices every
    generation repeats the call's usage; a streamed message already holds the merged
    total), else ``llm_output["token_usage"]`` (LLMs and older chat models).
    """
    total: dict[str, int] = {}
    for per_prompt in getattr(response, "generations", None) or []:
        for generation in per_prompt:
            usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
            if usage:
                for key, value in _usage_from_metadata(usage).items():
                    total[key] = total.get(key, 0) + value
                break
    if total:
        return total
    llm_output = getattr(response, "llm_output", None) or {}
    usage = llm_output.get("token_usage") or llm_output.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    if prompt is None and completion is None:
        return None
    out = {"input_tokens": int(prompt or 0), "output_tokens": int(completion or 0)}
    out["total_tokens"] = int(usage.get("total_tokens") or out["input_tokens"] + out["output_tokens"])
    return out


def llm_model_name(response: Any) -> str | None:
    llm_output = getattr(response, "llm_output", None) or {}
    model = llm_output.get("model_name") or llm_output.get("model")
    if model:
        return str(model)
    for per_prompt in getattr(response, "generations", None) or []:
        for generation in per_prompt:
            metadata = getattr(getattr(generation, "message", None), "response_metadata", None) or {}
            model = metadata.get("model_name") or metadata.get("model")
            if model:
                return str(model)
    return None
