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

import os
import threading
from typing import Any

from autolog._tracing import PARENT_RESOLVERS, IntegrationState, configure_integration, handle_internal_errors

from ._langchain_handler import make_handler_class
from ._langchain_runs import FRAMEWORK

__all__ = ["autolog", "get_handler"]

_NAME = FRAMEWORK


def autolog(log_traces: bool = True, disable: bool = False, silent: bool = False) -> None:
    """Trace LangChain. ``log_traces=False`` keeps the handler but records nothing; ``disable`` removes it."""
    configure_integration(_NAME, "langchain_core.callbacks.base", _install, log_traces, disable, silent)


_handler: Any = None
_handler_lock = threading.Lock()


def _new_locks_after_fork() -> None:
    # A lock held by one of the parent's threads at fork would be held forever in the child.
    global _handler_lock
    _handler_lock = threading.Lock()
    if _handler is not None:
        _handler.core.after_fork()


os.register_at_fork(after_in_child=_new_locks_after_fork)


def get_handler() -> Any:
    """The process-wide handler (created on first use). Its ``open_runs`` is 0 when nothing is running."""
    global _handler
    with _handler_lock:
        if _handler is None:
            _handler = make_handler_class()()
        return _handler


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
