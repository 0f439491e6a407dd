"""Exit and fork, for every export pipeline of the process.

At exit each pipeline flushes with a deadline (``AUTOLOG_FLUSH_ON_EXIT_TIMEOUT_SECONDS``,
default 10) and spools what the deadline leaves. In a forked child, the counters and every
pipeline start afresh: the child has none of the parent's threads.

Children started by ``multiprocessing`` (``Process``, ``Pool`` workers, with any start
method) end with ``os._exit()``, which skips ``atexit``: there the same shutdown runs as a
``multiprocessing.util.Finalize`` (what ``Process._bootstrap`` runs before ``os._exit``),
registered in the child (a forked one clears the parent's finalizers at its start: there
an after-fork hook registers it). ``Pool`` ends
its workers with SIGTERM (``terminate()``, also what ``with Pool()`` does), so in such a
child whose SIGTERM is not handled by the user, autolog's handler flushes (same deadline)
and then dies of SIGTERM as before. A child that calls ``os._exit()`` itself is beyond
reach: it must call ``autolog.flush()`` first.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import weakref
from typing import Any, Protocol

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
    with handle_internal_errors("export.multiprocessing"):
        _hook_multiprocessing_children()
        mp = sys.modules.get("multiprocessing")
        # A child made by multiprocessing: created in its target (parent_process() is set), or,
        # with spawn/forkserver, while the child imports the main module (``_inheriting``, set
        # since Python 2.6; spawned children never clear their finalizers, so this one stays).
        if mp is not None and (mp.parent_process() is not None or getattr(mp.current_process(), "_inheriting", False)):
            _flush_at_multiprocessing_exit()


def _exit_timeout_seconds() -> float:
    try:
        return float(os.environ.get("AUTOLOG_FLUSH_ON_EXIT_TIMEOUT_SECONDS", "10"))
    except ValueError:
        return 10.0


def _shutdown_all() -> None:
    timeout_seconds = _exit_timeout_seconds()
    for pipeline in list(_PIPELINES):
        with handle_internal_errors("export.exit"):  # never fail the interpreter's exit
            pipeline.shutdown(timeout_seconds)


# -- multiprocessing children ------------------------------------------------------------------
class _HookOwner:
    """multiprocessing's after-fork registry holds its objects weakly: this one lives as long as the module."""


_HOOK_OWNER = _HookOwner()
_finalizer: Any = None  # the multiprocessing.util.Finalize that runs _shutdown_all, and its process
_finalizer_pid = -1


def _hook_multiprocessing_children() -> None:
    """Have every multiprocessing child this process starts from now on flush at its exit."""
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        # Idempotent: the registry is keyed by (id, function).
        mp_util.register_after_fork(_HOOK_OWNER, _in_multiprocessing_child)


def _in_multiprocessing_child(_owner: object) -> None:
    # Runs in the child's Process._bootstrap, after it cleared the finalizers it inherited.
    with handle_internal_errors("export.multiprocessing"):
        _flush_at_multiprocessing_exit()


def _flush_at_multiprocessing_exit() -> None:
    global _finalizer, _finalizer_pid
    import multiprocessing.util as mp_util

    # Registered once per process, and again if the child's bootstrap cleared it since.
    if _finalizer_pid == os.getpid() and _finalizer is not None and _finalizer.still_active():
        return
    _finalizer_pid = os.getpid()
    _finalizer = mp_util.Finalize(None, _shutdown_all, exitpriority=100)  # before those that tear down queues
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _flush_then_die)


def _flush_then_die(signum: int, frame: Any) -> None:
    """SIGTERM in a multiprocessing child: flush (bounded), then die of the signal as before."""
    signal.signal(signum, signal.SIG_DFL)
    # On another thread: the signal may have interrupted this one inside the pipeline's lock.
    flusher = threading.Thread(target=_shutdown_all, name="autolog-sigterm-flush", daemon=True)
    flusher.start()
    flusher.join(_exit_timeout_seconds() + 1.0)
    os.kill(os.getpid(), signum)


def _after_fork_in_child() -> None:
    STATS.after_fork()
    for pipeline in list(_PIPELINES):
        pipeline.after_fork_in_child()


atexit.register(_shutdown_all)
# Before every fork, so children multiprocessing forks from an app that imported it after autolog are covered.
os.register_at_fork(before=_hook_multiprocessing_children, after_in_child=_after_fork_in_child)
