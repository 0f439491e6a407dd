"""Item 16: overlapping ``with set_active_model()`` blocks on two threads do not leak a model.

Each block restored "the value before it" on exit; when blocks on two threads exited in
another order than they entered, the process-wide fallback kept the first block's model,
and every fresh thread saw it. The fallback is now what the last plain call set.
"""

from __future__ import annotations

import threading

import autolog


def _in_a_fresh_thread() -> str | None:
    out: list[str | None] = []
    worker = threading.Thread(target=lambda: out.append(autolog.get_active_model_id()))
    worker.start()
    worker.join(10)
    return out[0]


def test_overlapping_blocks_leave_the_last_plain_model() -> None:
    plain = autolog.set_active_model(name="plain")
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, str | None] = {}

    def first() -> None:
        with autolog.set_active_model(name="a"):
            a_in.set()
            b_in.wait(10)
            seen["a"] = autolog.get_active_model_id()
        a_out.set()

    def second() -> None:
        a_in.wait(10)
        with autolog.set_active_model(name="b") as b:
            b_in.set()
            a_out.wait(10)  # a's block exits first, b's after: the order that leaked
            seen["b"] = autolog.get_active_model_id()
            seen["b_id"] = b.model_id
            seen["fresh_during_b"] = _in_a_fresh_thread()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen["b"] == seen["b_id"] == seen["fresh_during_b"]  # a block is process-wide while open
    assert _in_a_fresh_thread() == plain.model_id
    assert autolog.get_active_model_id() == plain.model_id


def test_a_plain_call_inside_a_block_is_the_fallback_after_it() -> None:
    with autolog.set_active_model(name="scoped"):
        later = autolog.set_active_model(name="later")
    assert _in_a_fresh_thread() == later.model_id
