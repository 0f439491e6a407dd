"""``autolog.langchain()``: every LangChain run becomes a span.

How the handler reaches every run: we wrap ``BaseCallbackManager.__init__`` so each
callback manager LangChain builds (for an invoke, for every child step, by ``merge`` or
``copy``) starts with our one inheritable handler. We chose this over langchain-core's
``register_configure_hook`` because that hook only reaches managers made by
``CallbackManager.configure`` (not ones constructed directly) and cannot be unregistered,
so ``disable=True`` could not give LangChain back as it was. ``add_handler`` skips a
handler that is already present, so merged or copied managers never hold it twice.

How spans nest: a run's parent is the span of its ``parent_run_id`` — never a context
variable set from a callback (callbacks have no guaranteed matching "detach", and
LangChain may run them on other threads). For code *inside* a step (an ``@trace``
function in a RunnableLambda or tool, the OpenAI SDK under ChatOpenAI), a parent
resolver (see ``autolog._tracing.context.current_parent``) reads LangChain's own context:
the runnable config it sets around a step's body, and — for chat models, LLMs and
retrievers, whose bodies run without such a config — the innermost such run started by
the same thread/task and not yet ended.

===================================  ==========================================
LangChain run                        span type
===================================  ==========================================
chain / runnable / graph node        CHAIN (AGENT once it reports agent actions)
prompt template (run_type=prompt)    PROMPT
output parser (run_type=parser)      PARSER
chat model                           CHAT_MODEL
LLM                                  LLM
retriever                            RETRIEVER
tool                                 TOOL
===================================  ==========================================
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any
from uuid import UUID

from autolog._tracing import (
    PARENT_RESOLVERS,
    IntegrationState,
    LiveSpan,
    configure_integration,
    get_state,
    handle_internal_errors,
    later_of,
    parent_of_framework_span,
    start_span_no_context,
)
from autolog.entities import SpanEvent, SpanType, keys

from ._langchain_convert import chat_output, llm_model_name, llm_usage, message_dicts, readable

__all__ = ["autolog", "get_handler"]

_NAME = "langchain"
_MAX_TOKEN_EVENTS = 10_000  # streamed-token events kept per span; the assembled output is always complete

# Run-config metadata keys that name a conversation or a user (LangGraph uses thread_id).
_SESSION_KEYS = ("session_id", "thread_id", "conversation_id")
_USER_KEYS = ("user_id", "user")


def autolog(log_traces: bool = True, disable: bool = False, silent: bool = False) -> None:
    """Trace LangChain. ``log_traces=False`` keeps the handler but records nothing; ``disable`` removes it."""
    configure_integration(_NAME, "langchain_core.callbacks.base", _install, log_traces, disable, silent)


class _Run:
    __slots__ = ("owner", "root_id", "span", "token_events")

    def __init__(self, span: LiveSpan, owner: tuple[int, int] | None, root_id: UUID) -> None:
        self.span = span
        self.owner = owner  # (thread, task) for runs whose body runs without a LangChain child config
        self.root_id = root_id  # the outermost LangChain run this one belongs to
        self.token_events = 0


def _owner() -> tuple[int, int]:
    """Who is executing: the thread, and the asyncio task when inside one."""
    loop = asyncio._get_running_loop()
    task = asyncio.current_task(loop) if loop is not None else None
    return threading.get_ident(), id(task) if task is not None else 0


class _HandlerCore:
    """The run map and its lock; every public callback of the handler goes through here."""

    def __init__(self) -> None:
        self._runs: dict[UUID, _Run] = {}
        # Open chat model / LLM / retriever runs per (thread, task), innermost last.
        self._leaves: dict[tuple[int, int], list[LiveSpan]] = {}
        self._lock = threading.Lock()
        self._state = get_state(_NAME)

    @property
    def open_runs(self) -> int:
        """Runs started and not yet ended (0 when idle: the map never grows over time)."""
        return len(self._runs)

    def start(self, run_id: UUID, parent_run_id: UUID | None, name: str, span_type: str, inputs: Any,
              attributes: dict[str, Any], metadata: dict[str, Any] | None, leaf: bool) -> None:
        if not self._state.recording:
            return
        parent_run = self._runs.get(parent_run_id) if parent_run_id is not None else None
        parent = parent_of_framework_span(parent_run.span if parent_run is not None else None, _NAME)
        span = start_span_no_context(name, span_type, parent_span=parent, inputs=inputs, attributes=attributes)
        if parent_run is None and metadata:
            _trace_metadata_from_config(span, metadata)
        owner = _owner() if leaf else None
        with self._lock:
            self._runs[run_id] = _Run(span, owner, parent_run.root_id if parent_run is not None else run_id)
            if owner is not None:
                self._leaves.setdefault(owner, []).append(span)

    def get(self, run_id: UUID) -> _Run | None:
        return self._runs.get(run_id)

    def end(self, run_id: UUID, outputs: Any = None, attributes: dict[str, Any] | None = None,
            error: BaseException | None = None, inputs: Any = None) -> None:
        with self._lock:
            run = self._runs.pop(run_id, None)
            if run is None:
                return
            if run.owner is not None:
                self._forget_leaf(run.owner, run.span)
        span = run.span
        if run.root_id == run_id and span.live_trace.open_spans > 1:
            # LangChain closes an abandoned stream's outer run before (or without) its inner
            # ones: end what is still open under it now, so the trace is complete when exported.
            self._end_open_runs_under(run_id, failed=error is not None and not isinstance(error, GeneratorExit))
        if inputs is not None:
            span.set_inputs(inputs)
        if isinstance(error, GeneratorExit):
            # The caller closed (or dropped) a stream: not a failure; keep what was produced.
            span.set_attribute("autolog.stream.ended_by", "closed")
        elif error is not None:
            span.record_exception(error)
        span.end(outputs=outputs, attributes=attributes)

    def _forget_leaf(self, owner: tuple[int, int], span: LiveSpan) -> None:
        stack = self._leaves.get(owner)
        if stack is not None:
            try:
                stack.remove(span)
            except ValueError:
                pass
            if not stack:
                del self._leaves[owner]

    def _end_open_runs_under(self, root_id: UUID, failed: bool) -> None:
        with self._lock:
            # Only this root's runs: another chain running concurrently in the same trace keeps its own.
            open_runs = [run_id for run_id, run in self._runs.items() if run.root_id == root_id]
            runs = [self._runs.pop(run_id) for run_id in open_runs]
            for run in runs:
                if run.owner is not None:
                    self._forget_leaf(run.owner, run.span)
        for run in sorted(runs, key=lambda r: r.span.start_time_ns, reverse=True):  # innermost first
            run.span.end(attributes={"autolog.ended_by": "root_run_ended"}, status="ERROR" if failed else "OK")

    def event(self, run_id: UUID, name: str, attributes: dict[str, Any], span_type: str | None = None) -> None:
        """Add an event to the span of a running run (and change its type, if given)."""
        run = self._runs.get(run_id)
        if run is not None:
            if span_type is not None:
                run.span.set_span_type(span_type)
            run.span.add_event(SpanEvent(name, attributes=attributes))

    def resolve_parent(self, current: LiveSpan | None) -> LiveSpan | None:
        """Parent resolver: the LangChain step whose body is running here, if deeper than ``current``."""
        if not self._runs:
            return current
        with handle_internal_errors("langchain.resolve_parent"):
            config_var = _child_config_var or _find_child_config_var()
            config = config_var.get() if config_var is not None else None
            if config:
                parent_run_id = getattr(config.get("callbacks"), "parent_run_id", None)
                run = self._runs.get(parent_run_id) if parent_run_id is not None else None
                if run is not None:
                    current = later_of(current, run.span)
            if self._leaves:
                stack = self._leaves.get(_owner())
                try:
                    current = later_of(current, stack[-1]) if stack else current
                except IndexError:  # emptied by another thread ending this run's root meanwhile
                    pass
        return current


def _trace_metadata_from_config(span: LiveSpan, metadata: dict[str, Any]) -> None:
    trace = span.live_trace
    for names, trace_key in ((_SESSION_KEYS, keys.TRACE_SESSION), (_USER_KEYS, keys.TRACE_USER)):
        for name in names:
            if metadata.get(name) is not None:
                trace.set_metadata(trace_key, metadata[name], replace=False)


def _run_name(serialized: dict[str, Any] | None, kwargs: dict[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if name:
        return str(name)
    if serialized:
        if serialized.get("name"):
            return str(serialized["name"])
        ids = serialized.get("id")
        if isinstance(ids, list) and ids:
            return str(ids[-1])
    return default


def _run_attributes(tags: list[str] | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if tags:
        attributes["langchain.tags"] = list(tags)
    if metadata:
        attributes["langchain.metadata"] = dict(metadata)
    return attributes


def _safe(method: Any) -> Any:
    """Run a callback body; a failure of ours is counted and never reaches LangChain or the user."""
    guard = handle_internal_errors(f"langchain.{method.__name__}")

    def guarded(self: Any, *args: Any, **kwargs: Any) -> None:
        with guard:
            method(self, *args, **kwargs)

    guarded.__name__ = method.__name__
    guarded.__doc__ = method.__doc__
    return guarded


_child_config_var: Any = None


def _find_child_config_var() -> Any:
    """LangChain's context variable holding the config of the step being run (once it is imported)."""
    global _child_config_var
    module = sys.modules.get("langchain_core.runnables.config")
    if module is not None:
        _child_config_var = getattr(module, "var_child_runnable_config", None)
    return _child_config_var


_handler: Any = None
_handler_lock = threading.Lock()


def get_handler() -> Any:
    """The process-wide handler (created on first use). Its ``open_runs`` is 0 when nothing is running."""
    global _handler
    with _handler_lock:
        if _handler is None:
            _handler = _make_handler_class()()
        return _handler


def _make_handler_class() -> type:
    # Built on first use, so importing this module does not import langchain_core.
    from langchain_core.callbacks.base import BaseCallbackHandler  # already imported when called

    class AutologCallbackHandler(BaseCallbackHandler):
        """One handler for the whole process; safe to call from any thread or task."""

        # Called on the caller's own thread/task (not an executor), in order, and never
        # able to fail the run: LangChain would otherwise re-raise or warn.
        run_inline = True
        raise_error = False

        def __init__(self) -> None:
            self.core = _HandlerCore()

        @property
        def open_runs(self) -> int:
            return self.core.open_runs

        # -- chains, prompts, parsers, agents ------------------------------------------------
        @_safe
        def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                           parent_run_id: UUID | None = None, tags: list[str] | None = None,
                           metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
            run_type = kwargs.get("run_type")
            span_type = {"prompt": SpanType.PROMPT, "parser": SpanType.PARSER}.get(run_type or "", SpanType.CHAIN)
            self.core.start(run_id, parent_run_id, _run_name(serialized, kwargs, "chain"), span_type,
                            readable(inputs), _run_attributes(tags, metadata), metadata, leaf=False)

        @_safe
        def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
            # Streaming runs start with a placeholder input and report the real one at the end.
            inputs = kwargs.get("inputs")
            self.core.end(run_id, outputs=readable(outputs), inputs=readable(inputs) if inputs is not None else None)

        @_safe
        def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
            inputs = kwargs.get("inputs")
            self.core.end(run_id, error=error, inputs=readable(inputs) if inputs is not None else None)

        @_safe
        def on_agent_action(self, action: Any, *, run_id: UUID, **kwargs: Any) -> None:
            self.core.event(run_id, "agent_action", {
                "tool": getattr(action, "tool", None), "tool_input": readable(getattr(action, "tool_input", None)),
                "log": getattr(action, "log", None)}, span_type=SpanType.AGENT)

        @_safe
        def on_agent_finish(self, finish: Any, *, run_id: UUID, **kwargs: Any) -> None:
            self.core.event(run_id, "agent_finish", {
                "return_values": readable(getattr(finish, "return_values", None)),
                "log": getattr(finish, "log", None)}, span_type=SpanType.AGENT)

        # -- chat models and LLMs ---------------------------------------------------------------
        @_safe
        def on_chat_model_start(self, serialized: dict[str, Any] | None, messages: list[list[Any]], *,
                                run_id: UUID, parent_run_id: UUID | None = None, tags: list[str] | None = None,
                                metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
            attributes = _run_attributes(tags, metadata)
            attributes.update(_model_attributes(kwargs.get("invocation_params"), metadata))
            attributes["mlflow.message.format"] = "langchain"
            inputs = {"messages": message_dicts(messages[0]) if len(messages) == 1
                      else [message_dicts(m) for m in messages]}
            self.core.start(run_id, parent_run_id, _run_name(serialized, kwargs, "chat_model"),
                            SpanType.CHAT_MODEL, inputs, attributes, metadata, leaf=True)

        @_safe
        def on_llm_start(self, serialized: dict[str, Any] | None, prompts: list[str], *, run_id: UUID,
                         parent_run_id: UUID | None = None, tags: list[str] | None = None,
                         metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
            attributes = _run_attributes(tags, metadata)
            attributes.update(_model_attributes(kwargs.get("invocation_params"), metadata))
            inputs = {"prompt": prompts[0]} if len(prompts) == 1 else {"prompts": list(prompts)}
            self.core.start(run_id, parent_run_id, _run_name(serialized, kwargs, "llm"), SpanType.LLM, inputs,
                            attributes, metadata, leaf=True)

        @_safe
        def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
            run = self.core.get(run_id)
            if run is not None and run.token_events < _MAX_TOKEN_EVENTS:
                run.token_events += 1
                run.span.add_event(SpanEvent("new_token", attributes={"token": token}))

        @_safe
        def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
            attributes: dict[str, Any] = {}
            usage = llm_usage(response)
            if usage:
                attributes["mlflow.chat.tokenUsage"] = usage
            model = llm_model_name(response)
            if model:
                attributes["mlflow.llm.model"] = model
            self.core.end(run_id, outputs=chat_output(response), attributes=attributes)

        @_safe
        def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
            partial = kwargs.get("response")  # what a stream produced before it failed or was closed
            self.core.end(run_id, error=error,
                          outputs=chat_output(partial) if partial is not None and partial.generations else None)

        # -- retrievers and tools ---------------------------------------------------------------
        @_safe
        def on_retriever_start(self, serialized: dict[str, Any] | None, query: str, *, run_id: UUID,
                               parent_run_id: UUID | None = None, tags: list[str] | None = None,
                               metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
            self.core.start(run_id, parent_run_id, _run_name(serialized, kwargs, "retriever"), SpanType.RETRIEVER,
                            {"query": query}, _run_attributes(tags, metadata), metadata, leaf=True)

        @_safe
        def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
            self.core.end(run_id, outputs=readable(list(documents)))

        @_safe
        def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
            self.core.end(run_id, error=error)

        @_safe
        def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
                          parent_run_id: UUID | None = None, tags: list[str] | None = None,
                          metadata: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
                          **kwargs: Any) -> None:
            attributes = _run_attributes(tags, metadata)
            if serialized and serialized.get("description"):
                attributes["langchain.tool.description"] = serialized["description"]
            self.core.start(run_id, parent_run_id, _run_name(serialized, kwargs, "tool"), SpanType.TOOL,
                            readable(inputs) if inputs is not None else input_str, attributes, metadata, leaf=False)

        @_safe
        def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
            self.core.end(run_id, outputs=readable(output))

        @_safe
        def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
            self.core.end(run_id, error=error)

        # -- everything else is an event on the run's span ----------------------------------------
        @_safe
        def on_retry(self, retry_state: Any, *, run_id: UUID, **kwargs: Any) -> None:
            outcome = getattr(retry_state, "outcome", None)
            error = outcome.exception() if outcome is not None and outcome.failed else None
            self.core.event(run_id, "retry", {"attempt": getattr(retry_state, "attempt_number", None),
                                              "exception": repr(error) if error is not None else None})

        @_safe
        def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
            self.core.event(run_id, str(name), {"data": readable(data)})

        def __repr__(self) -> str:
            return f"<AutologCallbackHandler open_runs={self.core.open_runs}>"

        def __deepcopy__(self, memo: dict[int, Any]) -> Any:
            return self  # one handler per process: copies of a config keep the same handler

        def __copy__(self) -> Any:
            return self

    return AutologCallbackHandler


def _model_attributes(invocation_params: dict[str, Any] | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    params = invocation_params or {}
    model = params.get("model") or params.get("model_name") or (metadata or {}).get("ls_model_name")
    if model:
        attributes["mlflow.llm.model"] = str(model)
    tools = params.get("tools") or params.get("functions")
    if tools:
        attributes["mlflow.chat.tools"] = tools
    if params:
        attributes["invocation_params"] = params
    return attributes


def _install(module: Any, state: IntegrationState) -> None:
    # Runs inside the import of langchain_core.callbacks.base: import nothing else of
    # langchain_core here (its modules import each other in cycles).
    BaseCallbackManager = module.BaseCallbackManager
    handler = get_handler()

    def init_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        wrapped(*args, **kwargs)
        with handle_internal_errors("langchain.add_handler"):
            if state.enabled:
                # add_handler skips a handler already present (merge/copy/child managers).
                instance.add_handler(handler, inherit=True)

    state.wrap(BaseCallbackManager, "__init__", init_wrapper)
    PARENT_RESOLVERS[_NAME] = handler.core.resolve_parent
    state.undo.append(_forget_resolver)


def _forget_resolver() -> None:
    PARENT_RESOLVERS.pop(_NAME, None)
