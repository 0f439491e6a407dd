"""Context that follows the application's control flow: the current span and suppression.

Both live in ``contextvars``, so each thread has its own stack (a new thread starts with
an empty context) and each asyncio task inherits the span of the code that created it
without seeing spans its siblings open later.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from contextvars import ContextVar
from typing import Any

from autolog._tracing.live import LiveSpan

__all__ = ["CURRENT_SPAN", "PARENT_RESOLVERS", "SUPPRESSED", "aiterate_in_span", "current_parent", "iterate_in_span",
           "later_of", "parent_of_framework_span", "suppress_tracing"]

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
ParentResolver = Callable[[LiveSpan | None], LiveSpan | None]
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
    if candidate is None or candidate.end_time_ns is not None:
        return current
    if current is None or candidate.start_time_ns > current.start_time_ns:
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


def iterate_in_span(span: LiveSpan, generator: Iterator[Any], items: list[Any],
                    max_items: int | None = None) -> Generator[Any, None, Any]:
    """Yield what ``generator`` yields, with ``span`` current while it computes each item.

    The span is set and reset around each step only, never across a ``yield``: the caller's
    code between two items runs in its own context. Items are appended to ``items`` (at most
    ``max_items``); the generator's return value is this one's. Use with ``yield from``.
    """
    while True:
        token = CURRENT_SPAN.set(span)
        try:
            item = next(generator)
        except StopIteration as stop:
            return stop.value
        finally:
            CURRENT_SPAN.reset(token)
        if max_items is None or len(items) < max_items:
            items.append(item)
        yield item


async def aiterate_in_span(span: LiveSpan, generator: AsyncIterator[Any], items: list[Any],
                           max_items: int | None = None) -> AsyncGenerator[Any, None]:
    """The async twin of ``iterate_in_span`` (use with ``async for``, and ``aclose()`` it when leaving early)."""
    while True:
        token = CURRENT_SPAN.set(span)
        try:
            item = await generator.__anext__()
        except StopAsyncIteration:
            return
        finally:
            CURRENT_SPAN.reset(token)
        if max_items is None or len(items) < max_items:
            items.append(item)
        yield item
