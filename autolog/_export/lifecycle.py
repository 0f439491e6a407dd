"""Exit and fork, for every export pipeline of the process.

At exit each pipeline flushes with a deadline (``AUTOLOG_FLUSH_ON_EXIT_TIMEOUT_SECONDS``,
default 10) and spools what the deadline leaves. In a forked child, the counters and every
pipeline start afresh: the child has none of the parent's threads.
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import Protocol

from autolog._stats import STATS
from autolog._tracing.guard import handle_internal_errors

__all__ = ["register"]


class _Pipeline(Protocol):
    def shutdown(self, timeout_seconds: float = ...) -> None: ...

    def after_fork_in_child(self) -> None: ...


_PIPELINES: weakref.WeakSet[_Pipeline] = weakref.WeakSet()


def register(pipeline: _Pipeline) -> None:
    """Flush ``pipeline`` at exit and restart it after a fork (held weakly: a dropped pipeline is forgotten)."""
    _PIPELINES.add(pipeline)


def _shutdown_all() -> None:
    timeout_seconds = float(os.environ.get("AUTOLOG_FLUSH_ON_EXIT_TIMEOUT_SECONDS", "10"))
    for pipeline in list(_PIPELINES):
        with handle_internal_errors("export.exit"):  # never fail the interpreter's exit
            pipeline.shutdown(timeout_seconds)


def _after_fork_in_child() -> None:
    STATS.after_fork()
    for pipeline in list(_PIPELINES):
        pipeline.after_fork_in_child()


atexit.register(_shutdown_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
