"""What the OpenAI integration reads out of requests and responses: usage, model, outputs.

Everything here is duck-typed on the SDK's pydantic models (or plain dicts), so it works
across openai 1.x and 2.x and on OpenAI-compatible responses that lack some fields.
"""

from __future__ import annotations

from typing import Any

# Keyword arguments of SDK calls that are transport settings, not the model request.
# `extra_headers` can carry credentials; none of these belong in a trace.
TRANSPORT_KWARGS = frozenset(("extra_headers", "extra_query", "timeout", "idempotency_key"))


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    fields = getattr(type(obj), "__pydantic_fields__", None)
    if fields is not None:
        # An SDK model: read its field storage directly. getattr() of an absent name goes
        # through pydantic's __getattr__ and an AttributeError, ~1 µs each, on every call.
        value = obj.__dict__.get(name)
        if value is None and name not in fields:
            value = (obj.__pydantic_extra__ or {}).get(name)
        return value
    return getattr(obj, name, None)


def _fields(obj: Any) -> dict[str, Any]:
    """An object's fields as one dict: a dict itself, an SDK model's declared and extra fields, else ``__dict__``."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    values = getattr(obj, "__dict__", None) or {}
    extra = getattr(obj, "__pydantic_extra__", None)
    return {**values, **extra} if extra else values


def chat_reply_text(response: Any) -> str | None:
    """The text of a chat completion's first choice (None if it has none, or is not a plain str)."""
    choices = _get(response, "choices")
    if not choices or not isinstance(choices, list):
        return None
    message = _get(choices[0], "message")
    content = _get(message, "content")
    return content if type(content) is str else None


def token_usage(usage: Any) -> dict[str, int] | None:
    """MLflow's ``mlflow.chat.tokenUsage`` from a Chat Completions, Responses or Embeddings usage object."""
    if usage is None:
        return None
    fields = _fields(usage)
    prompt = fields.get("prompt_tokens")
    completion = fields.get("completion_tokens")
    if prompt is None:  # Responses API names
        prompt = fields.get("input_tokens")
        completion = fields.get("output_tokens")
    total = fields.get("total_tokens")
    if prompt is None and total is None:
        return None
    out: dict[str, int] = {}
    if prompt is not None:
        out["input_tokens"] = int(prompt)
    if completion is not None:
        out["output_tokens"] = int(completion)
    out["total_tokens"] = int(total) if total is not None else out.get("input_tokens", 0) + out.get(
        "output_tokens", 0)
    input_details = fields.get("prompt_tokens_details") or fields.get("input_tokens_details")
    if input_details is not None:
        cached = _fields(input_details).get("cached_tokens")
        if cached is not None:
            out["cache_read_input_tokens"] = int(cached)
    output_details = fields.get("completion_tokens_details") or fields.get("output_tokens_details")
    if output_details is not None:
        reasoning = _fields(output_details).get("reasoning_tokens")
        if reasoning is not None:
            out["reasoning_tokens"] = int(reasoning)
    return out


def response_attributes(response: Any) -> dict[str, Any]:
    """Span attributes from a complete (non-streamed) response."""
    fields = _fields(response)
    attributes: dict[str, Any] = {}
    model = fields.get("model")
    if model:
        attributes["mlflow.llm.model"] = model
    usage = token_usage(fields.get("usage"))
    if usage:
        attributes["mlflow.chat.tokenUsage"] = usage
    return attributes


def summarize_embeddings(response: Any) -> Any:
    """An embeddings response with each vector replaced by its size: vectors are large and rarely useful."""
    data = _get(response, "data")
    if data is None:
        return response
    items = []
    for item in data:
        vector = _get(item, "embedding")
        summary: dict[str, Any] = {"index": _get(item, "index"), "object": _get(item, "object")}
        if isinstance(vector, str):  # encoding_format="base64"
            summary["embedding"] = f"<base64, {len(vector)} characters>"
        elif vector is not None:
            summary["embedding_dimensions"] = len(vector)
        items.append(summary)
    return {"object": _get(response, "object"), "model": _get(response, "model"), "data": items,
            "usage": _get(response, "usage")}


class ChatStreamAccumulator:
    """Merges Chat Completions (or legacy Completions) stream chunks into one response-shaped dict."""

    def __init__(self) -> None:
        self.meta: dict[str, Any] = {}
        self.choices: dict[int, dict[str, Any]] = {}
        self.usage: Any = None

    def add(self, chunk: Any) -> None:
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            value = _get(chunk, key)
            if value is not None:
                self.meta[key] = value
        if _get(chunk, "usage") is not None:
            self.usage = _get(chunk, "usage")  # sent once, complete: never summed
        for choice in _get(chunk, "choices") or ():
            index = _get(choice, "index") or 0
            slot = self.choices.setdefault(index, {"index": index, "parts": [], "tool_calls": {}, "role": None,
                                                   "finish_reason": None, "refusal": []})
            if _get(choice, "finish_reason") is not None:
                slot["finish_reason"] = _get(choice, "finish_reason")
            text = _get(choice, "text")  # legacy completions
            if text:
                slot["parts"].append(text)
            delta = _get(choice, "delta")
            if delta is None:
                continue
            if _get(delta, "role"):
                slot["role"] = _get(delta, "role")
            if _get(delta, "content"):
                slot["parts"].append(_get(delta, "content"))
            if _get(delta, "refusal"):
                slot["refusal"].append(_get(delta, "refusal"))
            for call in _get(delta, "tool_calls") or ():
                call_index = _get(call, "index") or 0
                merged = slot["tool_calls"].setdefault(call_index, {"id": None, "type": "function",
                                                                    "function": {"name": "", "arguments": ""}})
                if _get(call, "id"):
                    merged["id"] = _get(call, "id")
                if _get(call, "type"):
                    merged["type"] = _get(call, "type")
                function = _get(call, "function")
                if function is not None:
                    if _get(function, "name"):
                        merged["function"]["name"] += _get(function, "name")
                    if _get(function, "arguments"):
                        merged["function"]["arguments"] += _get(function, "arguments")

    def result(self, legacy: bool) -> dict[str, Any]:
        choices = []
        for index in sorted(self.choices):
            slot = self.choices[index]
            text = "".join(slot["parts"])
            if legacy:
                choices.append({"index": index, "text": text, "finish_reason": slot["finish_reason"]})
                continue
            message: dict[str, Any] = {"role": slot["role"] or "assistant", "content": text or None}
            if slot["refusal"]:
                message["refusal"] = "".join(slot["refusal"])
            if slot["tool_calls"]:
                message["tool_calls"] = [slot["tool_calls"][i] for i in sorted(slot["tool_calls"])]
            choices.append({"index": index, "message": message, "finish_reason": slot["finish_reason"]})
        out = {**self.meta, "object": "text_completion" if legacy else "chat.completion", "choices": choices}
        if self.usage is not None:
            out["usage"] = self.usage
        return out


class ResponsesStreamAccumulator:
    """Keeps the final Response of a Responses API stream (or the text streamed so far)."""

    def __init__(self) -> None:
        self.final: Any = None
        self.text: list[str] = []
        self.model: str | None = None

    def add(self, event: Any) -> None:
        kind = _get(event, "type")
        response = _get(event, "response")
        if response is not None and _get(response, "model"):
            self.model = _get(response, "model")
        if kind in ("response.completed", "response.incomplete", "response.failed") and response is not None:
            self.final = response
        elif kind == "response.output_text.delta":
            self.text.append(_get(event, "delta") or "")

    @property
    def usage(self) -> Any:
        return _get(self.final, "usage")

    def result(self) -> Any:
        if self.final is not None:
            return self.final
        return {"model": self.model, "output_text": "".join(self.text), "status": "incomplete"}
