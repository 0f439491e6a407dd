"""Item 12: ``@trace`` on a generator forwards ``send``, ``throw`` and ``close`` exactly (sync and async).

The traced generator dropped values sent to it and never passed ``throw()`` on: an
accumulator gave ``[1, 3, 6]`` untraced and failed traced.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import Any

import pytest

import autolog


def _accumulator(log: list[str]) -> Generator[int, int, str]:
    total = 0
    try:
        while True:
            try:
                value = yield total
            except ValueError:
                log.append("caught")
                value = 100
            if value < 0:
                return "done"
            total += value
    finally:
        log.append("closed")


def _drive(gen: Generator[int, int, str], log: list[str]) -> list[Any]:
    seen: list[Any] = [next(gen), gen.send(1), gen.send(2), gen.send(3), gen.throw(ValueError("x"))]
    with pytest.raises(StopIteration) as stop:
        gen.send(-1)
    seen.append(stop.value.value)
    return seen


def test_sync_generator_behaves_exactly_as_untraced() -> None:
    plain_log: list[str] = []
    plain = _drive(_accumulator(plain_log), plain_log)
    traced_log: list[str] = []
    traced = _drive(autolog.trace(_accumulator)(traced_log), traced_log)
    assert traced == plain == [0, 1, 3, 6, 106, "done"]
    assert traced_log == plain_log == ["caught", "closed"]
    assert autolog.flush(5) is True
    span = autolog.get_trace(autolog.get_last_active_trace_id()).data.spans[0]  # type: ignore[arg-type]
    assert span.outputs == [0, 1, 3, 6, 106] and span.status.status_code == "OK"


def test_sync_close_and_uncaught_throw_reach_the_user_generator() -> None:
    log: list[str] = []
    gen = autolog.trace(_accumulator)(log)
    next(gen)
    gen.close()
    assert log == ["closed"]
    gen = autolog.trace(_accumulator)(log)
    next(gen)
    with pytest.raises(KeyError):
        gen.throw(KeyError("k"))
    assert log == ["closed", "closed"]
    assert autolog.flush(5) is True
    spans = [t.data.spans[0] for t in autolog.search_traces(return_type="list", order_by=["timestamp ASC"])]
    assert spans[0].attributes["autolog.generator.closed_early"] is True
    assert spans[1].status.status_code == "ERROR"


async def _async_accumulator(log: list[str]) -> AsyncGenerator[int, int]:
    total = 0
    try:
        while True:
            try:
                value = yield total
            except ValueError:
                log.append("caught")
                value = 100
            total += value
    finally:
        log.append("closed")


async def _adrive(gen: AsyncGenerator[int, int]) -> list[int]:
    seen = [await gen.__anext__(), await gen.asend(1), await gen.asend(2), await gen.asend(3),
            await gen.athrow(ValueError("x"))]
    await gen.aclose()
    return seen


def test_async_generator_behaves_exactly_as_untraced() -> None:
    plain_log: list[str] = []
    plain = asyncio.run(_adrive(_async_accumulator(plain_log)))
    traced_log: list[str] = []
    traced = asyncio.run(_adrive(autolog.trace(_async_accumulator)(traced_log)))
    assert traced == plain == [0, 1, 3, 6, 106]
    assert traced_log == plain_log == ["caught", "closed"]
    assert autolog.flush(5) is True
    span = autolog.get_trace(autolog.get_last_active_trace_id()).data.spans[0]  # type: ignore[arg-type]
    assert span.outputs == [0, 1, 3, 6, 106] and span.attributes["autolog.generator.closed_early"] is True


def test_the_span_is_current_only_inside_the_generator() -> None:
    @autolog.trace
    def gen() -> Generator[str | None, None, None]:
        span = autolog.get_current_active_span()
        yield span.name if span else None
        yield span.name if span else None

    items = []
    for item in gen():
        assert autolog.get_current_active_span() is None
        items.append(item)
    assert items == ["gen", "gen"]
    assert autolog.flush(5) is True
