"""``autolog.llama_index()``: every instrumented LlamaIndex method becomes a span.

LlamaIndex reports its own spans: each method decorated with ``dispatcher.span`` calls the
span handlers of the root instrumentation dispatcher on enter, exit and drop (error), with
the parent span's id, and fires events (LLM start/end with the response, tokens in
progress, exceptions) carrying the id of the span they belong to. We add one span
handler and one event handler to the root dispatcher (once, however often
``autolog.llama_index()`` is called; ``disable=True`` removes both) and turn LlamaIndex's
span ids into autolog spans.

Code running inside a LlamaIndex span (an ``@autolog.trace`` function, the OpenAI SDK
under an LLM) finds its parent through LlamaIndex's ``active_span_id`` context variable,
which the dispatcher itself sets and resets around each call; we never set it.

A method that returns a stream (an LLM ``stream_chat``, a query engine's
``StreamingResponse``) keeps its span open until the stream is exhausted, closed or
garbage-collected, so the span's output and token usage are those of the whole stream.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import weakref
from typing import Any

from autolog._tracing import (
    PARENT_RESOLVERS,
    IntegrationState,
    LiveSpan,
    aiterate_in_span,
    configure_integration,
    get_state,
    handle_internal_errors,
    iterate_in_span,
    later_of,
    parent_of_framework_span,
    start_span_no_context,
)
from autolog.entities import SpanEvent, SpanType

from ._llama_index_convert import llm_attributes, readable, span_type_of

__all__ = ["autolog", "get_handlers"]

_NAME = "llama_index"
_MAX_TOKEN_EVENTS = 10_000
_STEP_TAG = "llamaindex.step.input_event"  # the tag LlamaIndex workflows put on a step's span


def autolog(log_traces: bool = True, disable: bool = False, silent: bool = False) -> None:
    """Trace LlamaIndex. ``log_traces=False`` keeps the handlers but records nothing; ``disable`` removes them."""
    configure_integration(_NAME, "llama_index.core.instrumentation", _install, log_traces, disable, silent)


class _Spans:
    """LlamaIndex span id → autolog span, for spans not yet ended. Lock-protected."""

    def __init__(self) -> None:
        self.open: dict[str, LiveSpan] = {}
        self.streaming: dict[str, int] = {}  # span id → streamed-token events recorded (span kept open)
        # Bare generators returned by streaming spans: while one runs (the caller pulls an item),
        # its span is where the work inside (an OpenAI SDK call) belongs.
        self.stream_generators: dict[str, weakref.ref[Any]] = {}
        self.lock = threading.Lock()
        self.state = get_state(_NAME)

    def enter(self, id_: str, bound_args: inspect.BoundArguments, instance: Any, parent_id: str | None,
              tags: dict[str, Any] | None) -> None:
        if not self.state.recording:
            return
        parent = parent_of_framework_span(self.open.get(parent_id) if parent_id else None, _NAME)
        name = id_.partition("-")[0]  # "<Class>.<method>-<uuid>"
        method = name.rpartition(".")[2]
        span_type = span_type_of(instance, method, is_workflow_step=tags is not None and _STEP_TAG in tags)
        arguments = {k: v for k, v in bound_args.arguments.items() if k not in ("self", "cls")}
        inputs = readable(arguments, span_type)
        span = start_span_no_context(name, span_type, parent_span=parent, inputs=inputs)
        with self.lock:
            self.open[id_] = span

    def exit(self, id_: str, result: Any) -> None:
        span = self.open.get(id_)
        if span is None:
            return
        stream_attr = _stream_attribute(result)
        if stream_attr is not None:
            self._keep_open_for_stream(id_, span, result, stream_attr)
            return
        with self.lock:
            self.open.pop(id_, None)
        span.end(outputs=readable(result, span.span_type))

    def drop(self, id_: str, err: BaseException | None) -> None:
        with self.lock:
            span = self.open.pop(id_, None)
            self.streaming.pop(id_, None)
        if span is None:
            return
        if err is not None:
            span.record_exception(err)
        else:
            span.set_status("ERROR")
        span.end()

    # -- streams -------------------------------------------------------------------------------
    def _keep_open_for_stream(self, id_: str, span: LiveSpan, result: Any, stream_attr: str) -> None:
        with self.lock:
            self.streaming[id_] = 0
        try:
            self._watch_stream(id_, span, result, stream_attr)
        except Exception:
            self.end_stream(id_, None, None, "completed")  # never leave the span open
            raise

    def _watch_stream(self, id_: str, span: LiveSpan, result: Any, stream_attr: str) -> None:
        if stream_attr == "":
            # A bare generator (an LLM's stream_chat): LlamaIndex's end/exception events end the
            # span; if the caller drops it before iterating, no event comes, so GC ends it.
            weakref.finalize(result, self.end_stream, id_, None, None, "garbage_collected")
            with self.lock:
                self.stream_generators[id_] = weakref.ref(result)
            return
        # A response object holding the generator (StreamingResponse): wrap the generator in place,
        # yielding exactly the same items, to learn when it is exhausted, closed or dropped.
        original = result.__dict__[stream_attr]
        is_async = hasattr(original, "__anext__")
        watched = _watch_async(original, self, id_, result, span) if is_async else _watch(
            iter(original), self, id_, result, span)
        setattr(result, stream_attr, watched)

    def end_stream(self, id_: str, outputs: Any, error: BaseException | None, reason: str,
                   attributes: dict[str, Any] | None = None) -> None:
        with self.lock:
            span = self.open.pop(id_, None) if id_ in self.streaming else None
            self.streaming.pop(id_, None)
            self.stream_generators.pop(id_, None)
        if span is None:
            return
        if reason != "completed":
            span.set_attribute("autolog.stream.ended_by", reason)
        if error is not None and not isinstance(error, GeneratorExit):
            span.record_exception(error)
        span.end(outputs=outputs, attributes=attributes)

    # -- events --------------------------------------------------------------------------------
    def handle(self, event: Any) -> None:
        kind = type(event).__name__
        span_id: str | None = getattr(event, "span_id", None)
        span = self.open.get(span_id) if span_id else None
        if span is None or span_id is None:
            return
        if kind in ("LLMChatStartEvent", "LLMCompletionStartEvent"):
            model = (getattr(event, "model_dict", None) or {}).get("model")
            if model:
                span.set_attribute("mlflow.llm.model", str(model))
            # The start event names the arguments the LLM really got (its methods take *args).
            extra = getattr(event, "additional_kwargs", None) or {}
            if kind == "LLMChatStartEvent":
                span.set_attribute("mlflow.message.format", "llama_index")
                span.set_inputs({"messages": [readable(m, span.span_type) for m in event.messages], **extra})
            else:
                span.set_inputs({"prompt": event.prompt, **extra})
        elif kind in ("LLMChatEndEvent", "LLMCompletionEndEvent"):
            response = getattr(event, "response", None)
            attributes = llm_attributes(response)
            if span_id in self.streaming:
                self.end_stream(span_id, readable(response, span.span_type), None, "completed", attributes)
            else:
                span.set_attributes(attributes)
        elif kind in ("LLMChatInProgressEvent", "LLMCompletionInProgressEvent"):
            count = self.streaming.get(span_id)
            if count is not None and count < _MAX_TOKEN_EVENTS:
                self.streaming[span_id] = count + 1
                delta = getattr(getattr(event, "response", None), "delta", None)
                span.add_event(SpanEvent("new_token", attributes={"token": delta}))
        elif kind == "ExceptionEvent":
            if span_id in self.streaming:
                error = getattr(event, "exception", None)
                reason = "closed" if isinstance(error, GeneratorExit) else "error"
                self.end_stream(span_id, None, error, reason)
        elif kind == "AgentToolCallEvent":
            tool = getattr(event, "tool", None)
            span.add_event(SpanEvent("tool_call", attributes={"tool": getattr(tool, "name", None),
                                                             "arguments": getattr(event, "arguments", None)}))

    def resolve_parent(self, current: LiveSpan | None) -> LiveSpan | None:
        """Parent resolver: the LlamaIndex span running here, if deeper than ``current``."""
        if not self.open:
            return current
        active = _active_span_var()
        span_id = active.get() if active is not None else None
        if span_id:
            current = later_of(current, self.open.get(span_id))
        if self.stream_generators:
            for stream_id, ref in list(self.stream_generators.items()):
                generator = ref()
                if generator is not None and (getattr(generator, "gi_running", False)
                                              or getattr(generator, "ag_running", False)):
                    current = later_of(current, self.open.get(stream_id))
        return current


def _stream_attribute(result: Any) -> str | None:
    """"" for a bare generator; "response_gen" for a streaming response holding one; else None.

    Only a generator stored on the instance itself is watched (``StreamingResponse``,
    ``AsyncStreamingResponse``); a property (``StreamingAgentChatResponse.response_gen``)
    cannot be replaced, so such a result ends its span at once.
    """
    if inspect.isgenerator(result) or inspect.isasyncgen(result):
        return ""
    value = getattr(result, "__dict__", {}).get("response_gen")
    if value is not None and (hasattr(value, "__next__") or hasattr(value, "__anext__")):
        return "response_gen"
    return None


def _watch(generator: Any, spans: _Spans, id_: str, response: Any, span: LiveSpan) -> Any:
    """Yield the same items; end the span when exhausted, closed or dropped.

    While the caller pulls the next item, the response's span is current (set and reset
    around that one step), so the LLM call producing the stream nests under it.
    """
    items: list[Any] = []
    with _StreamEnd(spans, id_, items, response):
        yield from iterate_in_span(span, generator, items)


async def _watch_async(generator: Any, spans: _Spans, id_: str, response: Any, span: LiveSpan) -> Any:
    items: list[Any] = []
    steps = aiterate_in_span(span, generator, items)
    with _StreamEnd(spans, id_, items, response):
        try:
            async for item in steps:
                yield item
        finally:
            await steps.aclose()


class _StreamEnd:
    """Around the caller's iteration of a watched stream: ends its span with what was streamed.

    The reason is ``completed`` (exhausted), ``closed`` (closed or dropped by the caller) or
    ``error`` (the stream raised; the exception still reaches the caller).
    """

    def __init__(self, spans: _Spans, id_: str, items: list[Any], response: Any) -> None:
        self.spans, self.id_, self.items, self.response = spans, id_, items, response

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        reason = "completed" if exc is None else "closed" if isinstance(exc, GeneratorExit) else "error"
        error = exc if reason == "error" else None
        self.spans.end_stream(self.id_, _joined(self.items, self.response), error, reason)


def _joined(items: list[Any], response: Any) -> Any:
    if all(isinstance(i, str) for i in items):
        output: dict[str, Any] = {"response": "".join(items)}
    else:
        output = {"response": [readable(i, SpanType.CHAIN) for i in items]}
    nodes = getattr(response, "source_nodes", None)
    if nodes:
        output["source_nodes"] = readable(list(nodes), SpanType.RETRIEVER)
    return output


_active_var: Any = None


def _active_span_var() -> Any:
    global _active_var
    if _active_var is None:
        for module_name in ("llama_index_instrumentation.span", "llama_index.core.instrumentation.span"):
            module = sys.modules.get(module_name)
            if module is not None and hasattr(module, "active_span_id"):
                _active_var = module.active_span_id
                break
    return _active_var


_spans: _Spans | None = None
_handlers: tuple[Any, Any] | None = None
_handlers_lock = threading.Lock()


def _new_locks_after_fork() -> None:
    # A lock held by one of the parent's threads at fork would be held forever in the child.
    global _handlers_lock
    _handlers_lock = threading.Lock()
    if _spans is not None:
        _spans.lock = threading.Lock()


os.register_at_fork(after_in_child=_new_locks_after_fork)


def get_handlers() -> tuple[Any, Any]:
    """The process-wide (span handler, event handler) pair, created on first use."""
    global _handlers, _spans
    with _handlers_lock:
        if _handlers is None:
            _spans = _Spans()
            _handlers = _make_handlers(_spans)
        return _handlers


def open_spans() -> int:
    """LlamaIndex spans started and not yet ended (0 when idle)."""
    return len(_spans.open) if _spans is not None else 0


def _make_handlers(spans: _Spans) -> tuple[Any, Any]:
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler

    class AutologSpanHandler(BaseSpanHandler[Any]):
        """Turns LlamaIndex spans into autolog spans. A failure of ours never reaches LlamaIndex."""

        @classmethod
        def class_name(cls) -> str:
            return "AutologSpanHandler"

        def span_enter(self, id_: str, bound_args: inspect.BoundArguments, instance: Any = None,
                       parent_id: str | None = None, tags: dict[str, Any] | None = None, **kwargs: Any) -> None:
            with handle_internal_errors("llama_index.span_enter"):
                spans.enter(id_, bound_args, instance, parent_id, tags)

        def span_exit(self, id_: str, bound_args: inspect.BoundArguments, instance: Any = None,
                      result: Any = None, **kwargs: Any) -> None:
            with handle_internal_errors("llama_index.span_exit"):
                spans.exit(id_, result)

        def span_drop(self, id_: str, bound_args: inspect.BoundArguments, instance: Any = None,
                      err: BaseException | None = None, **kwargs: Any) -> None:
            with handle_internal_errors("llama_index.span_drop"):
                spans.drop(id_, err)

        # BaseSpanHandler's abstract hooks: unused, since the three methods above are overridden.
        def new_span(self, *args: Any, **kwargs: Any) -> None:
            return None

        def prepare_to_exit_span(self, *args: Any, **kwargs: Any) -> None:
            return None

        def prepare_to_drop_span(self, *args: Any, **kwargs: Any) -> None:
            return None

    class AutologEventHandler(BaseEventHandler):
        """LLM events: model, token usage, streamed tokens, the end of streams."""

        @classmethod
        def class_name(cls) -> str:
            return "AutologEventHandler"

        def handle(self, event: Any, **kwargs: Any) -> None:
            with handle_internal_errors("llama_index.event"):
                spans.handle(event)

    return AutologSpanHandler(), AutologEventHandler()


def _install(module: Any, state: IntegrationState) -> None:
    span_handler, event_handler = get_handlers()
    dispatcher = module.get_dispatcher()  # the root dispatcher
    if span_handler not in dispatcher.span_handlers:
        dispatcher.add_span_handler(span_handler)
    if event_handler not in dispatcher.event_handlers:
        dispatcher.add_event_handler(event_handler)
    assert _spans is not None
    PARENT_RESOLVERS[_NAME] = _spans.resolve_parent

    def remove() -> None:
        dispatcher.span_handlers = [h for h in dispatcher.span_handlers if h is not span_handler]
        dispatcher.event_handlers = [h for h in dispatcher.event_handlers if h is not event_handler]
        PARENT_RESOLVERS.pop(_NAME, None)

    state.undo.append(remove)
