"""Context that follows the application's control flow: the current span and suppression.

Both live in ``contextvars``, so each thread has its own stack (a new thread starts with
an empty context) and each asyncio task inherits the span of the code that created it
without seeing spans its siblings open later.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autolog._span import LiveSpan

CURRENT_SPAN: ContextVar[LiveSpan | None] = ContextVar("autolog_current_span", default=None)

# True while autolog does its own I/O or while an integration must not record a nested
# call (for example the exporter's HTTP requests); every patcher checks it first.
SUPPRESSED: ContextVar[bool] = ContextVar("autolog_suppressed", default=False)


def current_span() -> LiveSpan | None:
    return CURRENT_SPAN.get()


@contextlib.contextmanager
def suppress_tracing() -> Iterator[None]:
    """Within this block nothing is traced (used around autolog's own work)."""
    token = SUPPRESSED.set(True)
    try:
        yield
    finally:
        SUPPRESSED.reset(token)
