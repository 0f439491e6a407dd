"""The LangChain callback handler: each callback becomes a start, an end or an event of a run's span."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from autolog._tracing import handle_internal_errors
from autolog.entities import SpanEvent, SpanType

from ._langchain_convert import chat_output, llm_model_name, llm_usage, message_dicts, readable
from ._langchain_runs import RunSpans

__all__ = ["make_handler_class"]

_MAX_TOKEN_EVENTS = 10_000  # streamed-token events kept per span; the assembled output is always complete


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


def make_handler_class() -> type:
    # Built on first use, so importing this module does not import langchain_core.
    from langchain_core.callbacks.base import BaseCallbackHandler  # already imported when called

    class AutologCallbackHandler(BaseCallbackHandler):
        """One handler for the whole process; safe to call from any thread or task."""

        # Called on the caller's own thread/task (not an executor), in order, and never
        # able to fail the run: LangChain would otherwise re-raise or warn.
        run_inline = True
        raise_error = False

        def __init__(self) -> None:
            self.core = RunSpans()

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
