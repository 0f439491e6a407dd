"""Values from the user's code, checked or made storable on their way into a span.

A value the store cannot hold (a timestamp past 64 bits, a span name that is a tuple)
would fail the write of the whole batch it travels in. An explicit timestamp is the
caller's argument: a clear error. Anything else becomes a readable stand-in
(``safe_str``; events: ``LiveSpan.add_event``), so the trace is kept.
"""

from __future__ import annotations

import operator
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog._serialize import safe_str

__all__ = ["check_time_ns"]

_MIN_INT64, _MAX_INT64 = -(1 << 63), (1 << 63) - 1


def check_time_ns(value: Any, what: str) -> int:
    """``value`` as an int timestamp the store can hold (signed 64 bits), or a clear error naming ``what``."""
    if type(value) is not int:
        if isinstance(value, bool) or getattr(type(value), "__index__", None) is None:
            raise InvalidArgumentError(f"{what} must be an int (nanoseconds since the epoch), "
                                       f"got {type(value).__name__} {safe_str(value)!r}")
        value = operator.index(value)  # numpy integers
    if not _MIN_INT64 <= value <= _MAX_INT64:
        raise InvalidArgumentError(f"{what} must fit in a signed 64-bit int (nanoseconds since the epoch), "
                                   f"got {value!r}")
    return int(value)
