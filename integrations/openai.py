"""``autolog.openai()``: every OpenAI SDK call becomes a span.

Patched on the SDK's resource *classes*, so every client (``OpenAI``, ``AsyncOpenAI``,
``AzureOpenAI``...), ``with_raw_response`` and the SDK's own helpers that call ``create``
(``chat.completions.stream``, ``responses.stream``) are covered:

===============================  ==========  =================================
method                           span type   output
===============================  ==========  =================================
chat.completions.create / parse  CHAT_MODEL  ChatCompletion (or assembled stream)
responses.create / parse         CHAT_MODEL  Response (or the final streamed one)
completions.create (legacy)      LLM         Completion (or assembled stream)
embeddings.create                EMBEDDING   vector sizes (``log_embeddings=True``: all)
===============================  ==========  =================================
"""

from __future__ import annotations

import contextvars
from types import TracebackType
from typing import Any

from autolog._tracing import (
    CURRENT_SPAN,
    DeferredOutputs,
    IntegrationState,
    JsonText,
    LiveSpan,
    configure_integration,
    current_parent,
    cut_preview,
    dumps,
    get_state,
    handle_internal_errors,
    json_of_model,
    last_message_text,
    start_span_no_context,
)
from autolog.entities import SpanType

from ._openai_extract import TRANSPORT_KWARGS, chat_reply_text, response_attributes, summarize_embeddings
from ._openai_stream import StreamRecorder, TracedAsyncStream, TracedStream

__all__ = ["autolog"]

_NAME = "openai"
_OPTIONS: dict[str, Any] = {"include_usage": True, "log_embeddings": False}

# True while a patched call is running, so an SDK method that calls another patched
# method (a helper calling ``create``) records one span, not two.
_IN_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar("autolog_openai_in_call", default=False)

# (module, class, method, span type, kind) — kind selects output handling.
_TARGETS = [
    ("openai.resources.chat.completions", "Completions", "create", SpanType.CHAT_MODEL, "chat"),
    ("openai.resources.chat.completions", "AsyncCompletions", "create", SpanType.CHAT_MODEL, "chat"),
    ("openai.resources.chat.completions", "Completions", "parse", SpanType.CHAT_MODEL, "chat"),
    ("openai.resources.chat.completions", "AsyncCompletions", "parse", SpanType.CHAT_MODEL, "chat"),
    ("openai.resources.beta.chat.completions", "Completions", "parse", SpanType.CHAT_MODEL, "chat"),
    ("openai.resources.beta.chat.completions", "AsyncCompletions", "parse", SpanType.CHAT_MODEL, "chat"),
    ("openai.resources.responses", "Responses", "create", SpanType.CHAT_MODEL, "responses"),
    ("openai.resources.responses", "AsyncResponses", "create", SpanType.CHAT_MODEL, "responses"),
    ("openai.resources.responses", "Responses", "parse", SpanType.CHAT_MODEL, "responses"),
    ("openai.resources.responses", "AsyncResponses", "parse", SpanType.CHAT_MODEL, "responses"),
    ("openai.resources.completions", "Completions", "create", SpanType.LLM, "completion"),
    ("openai.resources.completions", "AsyncCompletions", "create", SpanType.LLM, "completion"),
    ("openai.resources.embeddings", "Embeddings", "create", SpanType.EMBEDDING, "embedding"),
    ("openai.resources.embeddings", "AsyncEmbeddings", "create", SpanType.EMBEDDING, "embedding"),
]


def autolog(log_traces: bool = True, disable: bool = False, silent: bool = False, include_usage: bool = True,
            log_embeddings: bool = False) -> None:
    """Trace the OpenAI SDK.

    Args:
        log_traces: False keeps the patches but records nothing.
        disable: remove every patch, restoring the SDK exactly.
        silent: accepted for MLflow compatibility (autolog logs nothing on enable).
        include_usage: for streamed chat/legacy completions where the caller did not set
            ``stream_options``, ask the API for the final usage chunk and hide that chunk
            from the caller, so streamed calls get exact token counts and the caller sees
            the same chunks as without autolog. Set False for OpenAI-compatible servers
            that reject ``stream_options``.
        log_embeddings: store whole embedding vectors instead of their sizes.
    """
    _OPTIONS["include_usage"] = include_usage
    _OPTIONS["log_embeddings"] = log_embeddings
    configure_integration(_NAME, "openai", _install, log_traces, disable, silent)


def _install(module: Any, state: IntegrationState) -> None:
    import importlib

    for module_name, class_name, method, span_type, kind in _TARGETS:
        try:
            owner = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue  # not in this SDK version (e.g. beta.chat.completions in 2.x)
        if method not in owner.__dict__:
            continue
        is_async = class_name.startswith("Async")
        state.wrap(owner, method, _make_wrapper(span_type, kind, is_async))


def _request_kind(kwargs: dict[str, Any]) -> str | None:
    """``"true"``/``"stream"`` for ``with_raw_response``/``with_streaming_response`` calls, else None."""
    headers = kwargs.get("extra_headers")
    if isinstance(headers, dict):
        value = headers.get("X-Stainless-Raw-Response")
        if isinstance(value, str):
            return value
    return None


def _start(instance: Any, kwargs: dict[str, Any], span_type: str,
           kind: str) -> tuple[LiveSpan, dict[str, Any], bool]:
    """Open the span and, for streams, maybe request usage.

    Returns (span, the keyword arguments to call with, hide_usage_chunk). ``kwargs`` may be
    the caller's own dict (``create(**params)``): it is copied before anything is added.
    """
    # The request is recorded as JSON now, as it is sent: a chat loop appends to the same
    # `messages` list after the call, and a reference read later would record that too.
    request = kwargs if kwargs.keys().isdisjoint(TRANSPORT_KWARGS) else {
        k: v for k, v in kwargs.items() if k not in TRANSPORT_KWARGS}
    inputs = JsonText(dumps(request))
    attributes: dict[str, Any] = {"mlflow.message.format": "openai"}
    if kwargs.get("model"):
        attributes["mlflow.llm.model"] = kwargs["model"]
    if kwargs.get("tools"):
        attributes["mlflow.chat.tools"] = kwargs["tools"]
    span = start_span_no_context(type(instance).__name__, span_type=span_type, parent_span=current_parent(),
                                 inputs=inputs, attributes=attributes)
    if (kwargs.get("stream") is True and kind in ("chat", "completion") and _OPTIONS["include_usage"]
            and not kwargs.get("stream_options") and _request_kind(kwargs) is None):  # NOT_GIVEN is falsy
        return span, {**kwargs, "stream_options": {"include_usage": True}}, True
    return span, kwargs, False


def _finish(span: LiveSpan, result: Any, kwargs: dict[str, Any], kind: str, hide_usage_chunk: bool,
            is_async: bool) -> Any:
    """End the span for a returned result, or hand it to a stream proxy. Returns what the caller gets."""
    raw_kind = _request_kind(kwargs)
    if raw_kind is not None:
        # with_raw_response / with_streaming_response: parsing a raw *stream* or a streamed body
        # would consume what the caller is about to read, so only parse plain raw responses.
        if raw_kind in ("true", "raw") and kwargs.get("stream") is not True and hasattr(result, "parse"):
            parsed = result.parse()  # cached by the SDK: the caller's own parse() gets the same object
            span.end(outputs=_Response(parsed, kind, span, kwargs))
        else:
            span.end(attributes={"autolog.openai.unparsed_response": raw_kind})
        return result
    if kwargs.get("stream") is True:
        recorder = StreamRecorder(span, kind, hide_usage_chunk)
        return TracedAsyncStream(result, recorder) if is_async else TracedStream(result, recorder)
    span.end(outputs=_Response(result, kind, span, kwargs))
    return result


class _Response(DeferredOutputs):
    """A response whose JSON, model and token usage the export worker reads (in its batch, off your thread)."""

    __slots__ = ("kind", "outputs", "request_text", "response", "summarize")

    def __init__(self, response: Any, kind: str, span: LiveSpan, request: dict[str, Any]) -> None:
        self.response = response
        self.kind = kind
        self.summarize = kind == "embedding" and not _OPTIONS["log_embeddings"]
        # The request's preview, read now (the caller may add to its `messages` later): a root chat call's only.
        self.request_text = (last_message_text(request.get("messages"), "user")
                             if kind == "chat" and span.parent_id is None else None)
        self.outputs: Any = None

    def resolve(self) -> tuple[Any, dict[str, Any] | None]:
        response = self.response
        self.outputs = outputs = json_of_model(summarize_embeddings(response) if self.summarize else response)
        attributes = None
        with handle_internal_errors("openai.response_attributes"):  # keep the output even if usage is unreadable
            attributes = response_attributes(response)
        return outputs, attributes

    def previews(self) -> tuple[str | None, str | None] | None:
        reply = None
        # A "messages" key in the JSON (an extra field) would come first in MLflow's rule: then parse.
        if self.kind == "chat" and type(self.outputs) is JsonText and '"messages"' not in self.outputs:
            text = chat_reply_text(self.response)
            reply = cut_preview(text) if text else None
        return (self.request_text, reply) if self.request_text or reply else None


class _Call:
    """One patched call: its span is current, and nested patched calls are not traced, inside ``with``.

    If autolog fails to start the span, the call runs with the caller's own arguments and
    nothing is recorded; an exception from the call ends the span as ERROR and propagates.
    """

    __slots__ = ("call_token", "hide_usage_chunk", "kind", "kwargs", "span", "span_token")

    def __init__(self, instance: Any, kwargs: dict[str, Any], span_type: str, kind: str) -> None:
        self.kind = kind
        self.span: LiveSpan | None = None
        self.kwargs = kwargs
        self.hide_usage_chunk = False
        with handle_internal_errors("openai.start"):
            self.span, self.kwargs, self.hide_usage_chunk = _start(instance, kwargs, span_type, kind)

    def __enter__(self) -> _Call:
        if self.span is not None:
            self.span_token = CURRENT_SPAN.set(self.span)
            self.call_token = _IN_CALL.set(True)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        span = self.span
        if span is None:
            return
        _IN_CALL.reset(self.call_token)
        CURRENT_SPAN.reset(self.span_token)
        if exc is not None:
            span.record_exception(exc)
            span.end()

    def returned(self, result: Any, is_async: bool) -> Any:
        """What the caller gets for ``result``: the result itself, or a stream proxy that records it."""
        span = self.span
        if span is None:
            return result
        with handle_internal_errors("openai.finish"):
            return _finish(span, result, self.kwargs, self.kind, self.hide_usage_chunk, is_async)
        span.end()
        return result


def _make_wrapper(span_type: str, kind: str, is_async: bool) -> Any:
    state = get_state(_NAME)

    def sync_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not state.recording or _IN_CALL.get():
            return wrapped(*args, **kwargs)
        with _Call(instance, kwargs, span_type, kind) as call:
            result = wrapped(*args, **call.kwargs)
        return call.returned(result, is_async=False)

    async def async_call(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with _Call(instance, kwargs, span_type, kind) as call:
            result = await wrapped(*args, **call.kwargs)
        return call.returned(result, is_async=True)

    def async_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not state.recording or _IN_CALL.get():
            return wrapped(*args, **kwargs)
        return async_call(wrapped, instance, args, kwargs)

    return async_wrapper if is_async else sync_wrapper
