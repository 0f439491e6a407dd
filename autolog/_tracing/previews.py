"""Request and response previews: MLflow's rule, and the shortcut integrations take to it.

A preview is the root span's JSON text, or for a chat payload (``messages``, ``choices``,
``input``, ``output``, ``request``) the text of its last message of a role, cut to 1,000
characters ending in ``...``. The export worker finds it by parsing the stored JSON
(``autolog._export.encode.preview_of``): 9 µs a trace for an OpenAI chat call, a third of its
encoding. An integration that has the request and the response at hand gives the same text
cheaply (``last_message_text``, ``DeferredOutputs.previews``); the encoder takes it only when the
stored JSON was not cut, so the preview is the same either way.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PREVIEW_CHARS", "cut_preview", "last_message_text", "message_text"]

PREVIEW_CHARS = 1000


def cut_preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 3] + "..."


def _messages(obj: Any) -> list[Any] | None:
    if type(obj) is not dict:
        return None
    for key in ("messages", "choices", "input", "output"):  # MLflow's order
        items = obj.get(key)
        if not items or not isinstance(items, list):
            continue
        if key == "choices":
            message = items[0].get("message") if isinstance(items[0], dict) else None
            if _is_message(message):
                return [message]
            continue
        return [m for m in items if _is_message(m)]
    return _messages(obj["request"]) if "request" in obj else None


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and "role" in item and "content" in item


def message_text(obj: dict[str, Any], role: str) -> str | None:
    """The text of the last message of ``role`` (else the last message) of a chat payload, as MLflow finds it."""
    messages = _messages(obj)
    if not messages:
        return None
    message = next((m for m in reversed(messages) if m.get("role") == role), messages[-1])
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                return part
            if isinstance(part, dict) and part.get("type") in ("text", "output_text"):
                text = part.get("text")
                return text if isinstance(text, str) else None
    return None


def last_message_text(messages: Any, role: str) -> str | None:
    """``message_text({"messages": messages}, role)`` read from the end, for a request's own list; None when unsure.

    Gives up (None: the encoder then parses the JSON) on anything whose JSON could read differently: a list
    that is not a list, an item that is not a dict (an SDK message object is a message once in JSON), or a
    text that is not a non-empty str (an empty one previews the whole JSON).
    """
    if type(messages) is not list or not messages:
        return None
    last = None
    for item in reversed(messages):
        if type(item) is not dict:
            return None
        if "role" not in item or "content" not in item:
            continue
        if last is None:
            last = item
        if item.get("role") == role:
            last = item
            break
    if last is None:
        return None
    content = last.get("content")
    return cut_preview(content) if type(content) is str and content else None
