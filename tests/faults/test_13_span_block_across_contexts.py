"""Item 13: a ``with start_span()`` block entered in one context and left in another does not raise.

A generator that holds the block across a ``yield`` and is resumed in another thread (or
asyncio task) used to raise ``ValueError: ... was created in a different Context`` into
the user's code when the block ended.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Generator

import autolog


def _held() -> Generator[int, None, None]:
    with autolog.start_span("held"):
        yield 1
    yield 2


def test_resumed_in_another_thread() -> None:
    gen = _held()
    # Entered in a context of its own: a block held across a yield stays current in the
    # context that entered it (Python's rule), and this test's context must stay clean.
    assert contextvars.copy_context().run(next, gen) == 1
    out: list[object] = []
    worker = threading.Thread(target=lambda: out.append(next(gen)))
    worker.start()
    worker.join(10)
    assert out == [2], out  # left there, without an error
    assert autolog.flush(5) is True
    assert [t.info.state for t in autolog.search_traces(return_type="list")] == ["OK"]


def test_resumed_in_a_copied_context_restores_the_parent() -> None:
    gen = _held()
    with autolog.start_span("outer") as outer:
        assert next(gen) == 1
        ctx = contextvars.copy_context()  # sees "held" as the current span
        assert ctx.run(next, gen) == 2
        assert ctx.run(autolog.get_current_active_span) is outer
    assert autolog.flush(5) is True


def test_resumed_in_another_task() -> None:
    async def main() -> list[int]:
        gen = _held()
        first = await asyncio.create_task(asyncio.to_thread(next, gen))
        second = await asyncio.create_task(_next(gen))
        return [first, second]

    async def _next(gen: Generator[int, None, None]) -> int:
        return next(gen)

    assert asyncio.run(main()) == [1, 2]
    assert autolog.flush(5) is True
