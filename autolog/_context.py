"""Context that follows the application's control flow: the current span and suppression.

Both live in ``contextvars``, so each thread has its own stack (a new thread starts with
an empty context) and each asyncio task inherits the span of the code that created it
without seeing spans its siblings open later.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autolog._span import LiveSpan

CURRENT_SPAN: ContextVar[LiveSpan | None] = ContextVar("autolog_current_span", default=None)

# True while autolog does its own I/O or while an integration must not record a nested
# call (for example the exporter's HTTP requests); every patcher checks it first.
SUPPRESSED: ContextVar[bool] = ContextVar("autolog_suppressed", default=False)


# Frameworks that keep their own notion of "the running step" (LangChain's runnable
# config, LlamaIndex's dispatcher) register a resolver here while their integration is
# on. A resolver receives the best parent found so far and returns it or a deeper span
# of its framework. This is how a span opened by ``@trace`` or the OpenAI patcher nests
# under the LangChain/LlamaIndex step that runs it, without any integration ever
# setting a context variable from a callback (a callback has no matching reset).
ParentResolver = Callable[["LiveSpan | None"], "LiveSpan | None"]
PARENT_RESOLVERS: dict[str, ParentResolver] = {}


def current_parent(exclude: str | None = None) -> LiveSpan | None:
    """The span a new span should be a child of: the current span, or a deeper framework step."""
    span = CURRENT_SPAN.get()
    if PARENT_RESOLVERS:  # empty unless a framework integration is on: the fluent fast path
        for name, resolve in list(PARENT_RESOLVERS.items()):
            if name != exclude:
                span = resolve(span)
    return span


def parent_of_framework_span(framework_parent: LiveSpan | None, framework: str) -> LiveSpan | None:
    """The parent of a span a framework reports, given the span of the parent it names (if any).

    Its named parent, unless a span of ours started later on this call path (an ``@trace``
    function inside a step that calls the framework again is deeper than the step); a span
    the framework reports without a parent nests under whatever is current, the framework's
    own resolver excluded (it would only find the framework's spans).
    """
    if framework_parent is not None:
        return later_of(framework_parent, CURRENT_SPAN.get())
    return current_parent(exclude=framework)


def later_of(current: LiveSpan | None, candidate: LiveSpan | None) -> LiveSpan | None:
    """Of two open spans on the same call path, the one started last is the innermost."""
    if candidate is None or candidate._end_time_ns is not None:
        return current
    if current is None or candidate._start_time_ns > current._start_time_ns:
        return candidate
    return current


@contextlib.contextmanager
def suppress_tracing() -> Iterator[None]:
    """Within this block nothing is traced (used around autolog's own work)."""
    token = SUPPRESSED.set(True)
    try:
        yield
    finally:
        SUPPRESSED.reset(token)
