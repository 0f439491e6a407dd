"""Which application version and experiment new traces belong to: state only, no store.

The active model is looked up on every new trace, so the lookup is a contextvar read
plus a global read or two. Precedence: the value set in this context (thread / asyncio task)
→ the model of the innermost ``with set_active_model(...)`` block still open in any thread
→ the process-wide value set by the last plain ``activate`` (one not used as a context
manager) → the environment
(``AUTOLOG_ACTIVE_MODEL_ID``, else ``MLFLOW_ACTIVE_MODEL_ID``), for deployments that pin
the version outside the code. The functions that look models and experiments up in a
store (``set_active_model``, ``set_experiment``) are ``autolog._versions``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

from autolog.entities.logged_model import LoggedModel

__all__ = ["ActiveModel", "activate", "clear_active_model", "forget_selected_experiment", "get_active_model_id",
           "get_active_run_id", "reset_active_run_id", "select_experiment", "selected_experiment_id",
           "set_active_run_id"]

_UNSET: Any = object()
_ACTIVE_MODEL_ID: ContextVar[Any] = ContextVar("autolog_active_model_id", default=_UNSET)
_global_model_id: Any = _UNSET  # what the last plain activate() set
# `with` blocks open in any thread, in the order they were entered. A block changes the
# process-wide fallback only while it is open: blocks on two threads may exit in any
# order, so restoring "the previous value" on exit would leak one block's model.
_scoped: list[ActiveModel] = []
_scoped_model_id: Any = _UNSET
_scoped_lock = threading.Lock()
_experiment_id: str | None = None
_experiment_lock = threading.Lock()


def _new_locks_after_fork() -> None:
    # A lock held by a parent's thread at fork stays held forever in the child.
    global _scoped_lock, _experiment_lock
    _scoped_lock = threading.Lock()
    _experiment_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_locks_after_fork)


def _env_model_id() -> str | None:
    return os.environ.get("AUTOLOG_ACTIVE_MODEL_ID") or os.environ.get("MLFLOW_ACTIVE_MODEL_ID") or None


def get_active_model_id() -> str | None:
    """The id of the active LoggedModel for this thread/task, or None. Never blocks."""
    global _global_model_id
    value = _ACTIVE_MODEL_ID.get()
    if value is _UNSET:
        value = _scoped_model_id
        if value is not _UNSET:
            return value  # type: ignore[no-any-return]
        value = _global_model_id
        if value is _UNSET:
            # The environment is read once: it is the deployment's setting, not per-call state.
            value = _global_model_id = _env_model_id()
    return value  # type: ignore[no-any-return]


class ActiveModel(LoggedModel):
    """The LoggedModel made active by ``set_active_model``; as a context manager it restores the previous one."""

    _token: Token[Any] | None
    _previous_global: Any
    _owns_global = False  # True while the process-wide value is the one this activation set

    def __enter__(self) -> ActiveModel:
        global _global_model_id, _scoped_model_id
        with _scoped_lock:
            # A `with` block, not a plain call: the process-wide value goes back to the last plain one.
            if self._owns_global and _global_model_id == self.model_id:
                _global_model_id = self._previous_global
            self._owns_global = False
            _scoped.append(self)
            _scoped_model_id = self.model_id
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        global _scoped_model_id
        if self._token is not None:
            try:
                _ACTIVE_MODEL_ID.reset(self._token)
            except ValueError:  # exited in another context than entered: restore by value
                _ACTIVE_MODEL_ID.set(self._token.old_value)
            self._token = None
        with _scoped_lock:
            for i in range(len(_scoped) - 1, -1, -1):
                if _scoped[i] is self:
                    del _scoped[i]
                    break
            _scoped_model_id = _scoped[-1].model_id if _scoped else _UNSET


def activate(model: LoggedModel) -> ActiveModel:
    """Make ``model`` active in this context and process-wide; returns it as an ActiveModel."""
    global _global_model_id
    active = ActiveModel(**{f: getattr(model, f) for f in LoggedModel.__dataclass_fields__})
    with _scoped_lock:
        active._previous_global = _global_model_id
        active._owns_global = True
        _global_model_id = model.model_id
    active._token = _ACTIVE_MODEL_ID.set(model.model_id)
    return active


# The run (an evaluation, a ``start_run()`` block) new traces are linked to, per context.
_ACTIVE_RUN_ID: ContextVar[str | None] = ContextVar("autolog_active_run_id", default=None)


def get_active_run_id() -> str | None:
    return _ACTIVE_RUN_ID.get()


def set_active_run_id(run_id: str | None) -> Token[str | None]:
    return _ACTIVE_RUN_ID.set(run_id)


def reset_active_run_id(token: Token[str | None]) -> None:
    try:
        _ACTIVE_RUN_ID.reset(token)
    except ValueError:  # reset in another context than it was set in
        _ACTIVE_RUN_ID.set(token.old_value if token.old_value is not Token.MISSING else None)


def clear_active_model() -> None:
    """No model is active any more (in this context and process-wide; the env default is ignored too)."""
    global _global_model_id
    _ACTIVE_MODEL_ID.set(None)
    _global_model_id = None


def select_experiment(experiment_id: str) -> None:
    """New traces and models go to this experiment."""
    global _experiment_id
    with _experiment_lock:
        _experiment_id = experiment_id


def selected_experiment_id(resolve_name: Callable[[str], str]) -> str:
    """The selected experiment; the first call may resolve ``AUTOLOG_EXPERIMENT_NAME`` with ``resolve_name``."""
    global _experiment_id
    experiment_id = _experiment_id
    if experiment_id is not None:
        return experiment_id
    with _experiment_lock:
        if _experiment_id is None:
            env_id = os.environ.get("AUTOLOG_EXPERIMENT_ID") or os.environ.get("MLFLOW_EXPERIMENT_ID")
            env_name = os.environ.get("AUTOLOG_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
            if env_id:
                _experiment_id = env_id
            elif env_name:
                _experiment_id = resolve_name(env_name)
            else:
                _experiment_id = "0"
        return _experiment_id


def forget_selected_experiment() -> None:
    """A new store has other experiment ids: resolve the experiment again on next use."""
    global _experiment_id
    with _experiment_lock:
        _experiment_id = None
