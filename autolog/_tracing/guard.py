"""The one place that handles autolog's own failures: ``with handle_internal_errors("site"):``.

A bug or an unexpected condition inside autolog while it observes the user's code must
never reach the user's call path. The guard swallows an ``Exception`` raised in its block,
counts it (``autolog.stats()["internal_errors"]``) and logs it at most once per site per
minute; execution goes on after the block. ``BaseException``s that are not ``Exception``s
(``KeyboardInterrupt``, ``GeneratorExit``...) pass through untouched. Under the project's own
tests (``AUTOLOG_RAISE_INTERNAL_ERRORS=1``) the error is counted and re-raised, so that bugs
are not hidden there.

Guards are cached per site and hold no per-use state, so one guard object serves every
thread; entering one costs a dictionary lookup and two method calls.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from types import TracebackType

from autolog._stats import STATS

__all__ = ["handle_internal_errors", "log_rate_limited", "report_internal_error"]

_logger = logging.getLogger("autolog")
_RATE_LIMIT_SECONDS = 60.0
_last_logged: dict[str, float] = {}
_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    # A lock held by one of the parent's threads at fork would be held forever in the child.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


def _due(where: str) -> bool:
    """Whether site ``where`` may log now: once, then at most once per minute."""
    now = time.monotonic()
    with _lock:
        last = _last_logged.get(where)
        if last is not None and now - last < _RATE_LIMIT_SECONDS:
            return False
        _last_logged[where] = now
    return True


def log_rate_limited(where: str, level: int, message: str, *args: object) -> None:
    """Log at most once per minute for site ``where`` (losses are counted in ``stats()`` every time)."""
    if _due("log:" + where):
        _logger.log(level, message + " (further messages from here are counted in autolog.stats(), logged once a"
                    " minute)", *args)


def _raise_internal_errors() -> bool:
    return os.environ.get("AUTOLOG_RAISE_INTERNAL_ERRORS", "") in ("1", "true", "True")


def report_internal_error(where: str, exc: BaseException) -> bool:
    """Count and (rate-limited) log a failure of autolog's own code at site ``where``.

    Returns True when the caller should swallow the error, False when it must re-raise it
    (``AUTOLOG_RAISE_INTERNAL_ERRORS=1``, set by the project's test suite).
    """
    STATS.incr("internal_errors")
    if _due(where):
        _logger.warning("autolog internal error in %s (further ones here are counted, not logged, for a minute): %r",
                        where, exc, exc_info=exc)
    return not _raise_internal_errors()


class InternalErrorGuard:
    """Context manager made by ``handle_internal_errors``; see the module docstring."""

    __slots__ = ("where",)

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        return report_internal_error(self.where, exc)


_GUARDS: dict[str, InternalErrorGuard] = {}


def handle_internal_errors(where: str) -> InternalErrorGuard:
    """The guard of site ``where`` (a short dotted name such as ``"openai.start"``)."""
    guard = _GUARDS.get(where)
    if guard is None:
        guard = _GUARDS.setdefault(where, InternalErrorGuard(where))
    return guard
