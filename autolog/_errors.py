"""Exceptions raised by autolog, and the one place that handles autolog's own failures.

Hierarchy::

    AutologError                      base of every error autolog raises on purpose
    ├── InvalidFilterError            a filter string or order_by clause that does not parse
    ├── ResourceDoesNotExist          get_trace / get_logged_model / set_active_model(model_id=) on an unknown id
    ├── StoreError                    the store cannot be opened, is too new, or a write failed for good
    └── InvalidArgumentError(ValueError)  a public function was called with a bad value

``TypeError`` is raised as-is where Python's own convention calls for it (for example a
non-str param value in ``create_external_model``).

Internal errors are different: a bug or an unexpected condition inside autolog while it
observes the user's code must never reach the user's call path. ``report_internal_error``
counts it (``autolog.stats()["internal_errors"]``), logs it at most once per site per
minute, and re-raises only under the project's own tests (``AUTOLOG_RAISE_INTERNAL_ERRORS=1``)
so that bugs are not hidden there.
"""

from __future__ import annotations

import logging
import os
import threading
import time

__all__ = [
    "AutologError",
    "InvalidArgumentError",
    "InvalidFilterError",
    "ResourceDoesNotExist",
    "StoreError",
]

_logger = logging.getLogger("autolog")


class AutologError(Exception):
    """Base class of every error autolog raises on purpose."""


class InvalidFilterError(AutologError, ValueError):
    """A filter string (or order_by clause) that cannot be parsed or compiled.

    Attributes:
        filter_string: the text that was given.
        position: 0-based character offset where the problem was found.
        expected: what the parser expected at that position.
    """

    def __init__(self, filter_string: str, position: int, expected: str, found: str | None = None) -> None:
        self.filter_string = filter_string
        self.position = position
        self.expected = expected
        self.found = found
        got = "end of input" if found is None else repr(found)
        pointer = filter_string + "\n" + " " * position + "^"
        super().__init__(f"Invalid filter at position {position}: expected {expected}, found {got}\n{pointer}")


class ResourceDoesNotExist(AutologError, LookupError):
    """An id (trace, logged model, experiment) that the store does not hold."""


class StoreError(AutologError):
    """The store cannot be opened or written (wrong URI, newer schema, disk full...)."""


class InvalidArgumentError(AutologError, ValueError):
    """A public function was called with a value it cannot accept."""


_RATE_LIMIT_SECONDS = 60.0
_last_logged: dict[str, float] = {}
_lock = threading.Lock()


def _raise_internal_errors() -> bool:
    return os.environ.get("AUTOLOG_RAISE_INTERNAL_ERRORS", "") in ("1", "true", "True")


def report_internal_error(where: str, exc: BaseException) -> None:
    """Count and (rate-limited) log a failure of autolog's own code at site ``where``.

    Call it from an ``except`` block that protects the user's call path. Re-raises when
    ``AUTOLOG_RAISE_INTERNAL_ERRORS=1`` (set by the project's test suite).
    """
    from autolog._stats import STATS  # local: _stats imports nothing from here, but keep import graph flat

    STATS.incr("internal_errors")
    now = time.monotonic()
    with _lock:
        last = _last_logged.get(where)
        should_log = last is None or now - last >= _RATE_LIMIT_SECONDS
        if should_log:
            _last_logged[where] = now
    if should_log:
        _logger.warning("autolog internal error in %s (further ones here are counted, not logged, for a minute): %r",
                        where, exc, exc_info=exc)
    if _raise_internal_errors():
        raise exc
