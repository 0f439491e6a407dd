"""Item 11 (tracing side): a failure of autolog while a span ends never reaches the user's call.

``span.end()`` in the sync and async ``@trace`` wrappers and in ``start_span``'s exit ran
unguarded: when the hand-over of a finished trace failed, a traced function raised after
computing its result. The failure is now counted in ``internal_errors`` and the result is
returned unchanged. The fault is real: the hand-over of every trace raises.
"""

from __future__ import annotations

import asyncio

import pytest

import autolog
from autolog._tracing.live import LiveTrace


def _broken_hand_over(self: LiveTrace, span: object) -> None:
    raise RuntimeError("hand-over failed")


@pytest.fixture
def hand_over_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOLOG_RAISE_INTERNAL_ERRORS")  # as in production: swallowed and counted
    monkeypatch.setattr(LiveTrace, "span_ended", _broken_hand_over)


def test_sync_and_async_traced_functions_return_their_result(hand_over_fails: None) -> None:
    @autolog.trace
    def f() -> int:
        return 42

    @autolog.trace
    async def g() -> int:
        return 43

    before = autolog.stats()["internal_errors"]
    assert f() == 42
    assert asyncio.run(g()) == 43
    assert autolog.stats()["internal_errors"] == before + 2


def test_a_start_span_block_exits_cleanly(hand_over_fails: None) -> None:
    before = autolog.stats()["internal_errors"]
    with autolog.start_span("s") as span:
        span.set_outputs(1)
    assert autolog.get_current_active_span() is None
    assert autolog.stats()["internal_errors"] == before + 1


def test_under_the_test_suite_the_failure_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LiveTrace, "span_ended", _broken_hand_over)  # AUTOLOG_RAISE_INTERNAL_ERRORS=1 here

    @autolog.trace
    def f() -> int:
        return 42

    with pytest.raises(RuntimeError, match="hand-over failed"):
        f()
