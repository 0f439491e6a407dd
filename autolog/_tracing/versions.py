"""Which application version and experiment new traces belong to: state only, no store.

The active model is looked up on every new trace, so the lookup is a contextvar read
plus a global read. Precedence: the value set in this context (thread / asyncio task)
→ the process-wide value set by the last ``activate`` → the environment
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
           "select_experiment", "selected_experiment_id"]

_UNSET: Any = object()
_ACTIVE_MODEL_ID: ContextVar[Any] = ContextVar("autolog_active_model_id", default=_UNSET)
_global_model_id: Any = _UNSET
_experiment_id: str | None = None
_experiment_lock = threading.Lock()


def _env_model_id() -> str | None:
    return os.environ.get("AUTOLOG_ACTIVE_MODEL_ID") or os.environ.get("MLFLOW_ACTIVE_MODEL_ID") or None


def get_active_model_id() -> str | None:
    """The id of the active LoggedModel for this thread/task, or None. Never blocks."""
    global _global_model_id
    value = _ACTIVE_MODEL_ID.get()
    if value is _UNSET:
        value = _global_model_id
        if value is _UNSET:
            # The environment is read once: it is the deployment's setting, not per-call state.
            value = _global_model_id = _env_model_id()
    return value  # type: ignore[no-any-return]


class ActiveModel(LoggedModel):
    """The LoggedModel made active by ``set_active_model``; as a context manager it restores the previous one."""

    _token: Token[Any] | None
    _previous_global: Any

    def __enter__(self) -> ActiveModel:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        global _global_model_id
        if self._token is not None:
            try:
                _ACTIVE_MODEL_ID.reset(self._token)
            except ValueError:  # exited in another context than entered: restore by value
                _ACTIVE_MODEL_ID.set(self._token.old_value)
            self._token = None
        _global_model_id = self._previous_global


def activate(model: LoggedModel) -> ActiveModel:
    """Make ``model`` active in this context and process-wide; returns it as an ActiveModel."""
    global _global_model_id
    active = ActiveModel(**{f: getattr(model, f) for f in LoggedModel.__dataclass_fields__})
    active._previous_global = _global_model_id
    active._token = _ACTIVE_MODEL_ID.set(model.model_id)
    _global_model_id = model.model_id
    return active


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
