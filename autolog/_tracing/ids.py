"""Span and trace ids, made on the application's thread for every traced call.

A counter from a random start, spread over 64 bits: ids are unique in the process and look
random, without touching a random generator's state on every span (cold on the
application's thread, that costs more than the whole id) and without a syscall per id.
The start comes from ``os.urandom``, not the ``random`` module: an application that calls
``random.seed(N)`` must not get the same ids on every run. A forked child starts anew.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable

__all__ = ["new_span_id", "new_trace_id"]

_time_ns = time.time_ns
_MASK_64 = (1 << 64) - 1
_SPREAD = 0x9E3779B97F4A7C15  # odd, so multiplying by it permutes 64-bit values: distinct in, distinct out


def _reseed() -> None:
    global _next_id
    _next_id = itertools.count(int.from_bytes(os.urandom(8), "big")).__next__


_next_id: Callable[[], int] = itertools.count().__next__
_reseed()
os.register_at_fork(after_in_child=_reseed)


def new_span_id() -> str:
    return ((_next_id() * _SPREAD) & _MASK_64).to_bytes(8, "big").hex()


def new_trace_id() -> str:
    # Time-ordered (64 bits of nanoseconds, then 64 random bits): still a valid 128-bit
    # OpenTelemetry trace id, but the store's B-trees receive new ids at their right edge
    # instead of at random pages (fast ingest as the store grows), and traces started in
    # the same millisecond still sort in the order they started.
    return "tr-" + ((_time_ns() << 64) | ((_next_id() * _SPREAD) & _MASK_64)).to_bytes(16, "big").hex()
