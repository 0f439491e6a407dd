"""Application versions: the current experiment and the active LoggedModel.

The active model is looked up on every new trace, so the lookup is a contextvar read
plus a global read. Precedence: the value set in this context (thread / asyncio task)
→ the process-wide value set by the last ``set_active_model`` → the environment
(``AUTOLOG_ACTIVE_MODEL_ID``, else ``MLFLOW_ACTIVE_MODEL_ID``), for deployments that pin
the version outside the code.
"""

from __future__ import annotations

import os
import threading
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from autolog._errors import InvalidArgumentError
from autolog._models import Experiment, LoggedModel

if TYPE_CHECKING:
    from autolog._client import Client

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


def set_active_model(name: str | None = None, model_id: str | None = None) -> ActiveModel:
    """Make a LoggedModel the active application version; every new trace links to it.

    With ``name``, the newest LoggedModel of that name in the current experiment is
    reused, or an external one is created. With ``model_id``, the model must exist.
    Blocks on the store for that lookup (call it at start-up, not per request).

    Returns:
        An ActiveModel; ``with autolog.set_active_model(...):`` restores the previous
        active model on exit.
    """
    from autolog._client import get_default_client

    if name is None and model_id is None:
        raise InvalidArgumentError("set_active_model needs name= or model_id=")
    client = get_default_client()
    if model_id is not None:
        model = client.get_logged_model(model_id)
        if name is not None and model.name != name:
            raise InvalidArgumentError(f"model {model_id!r} is named {model.name!r}, not {name!r}")
    else:
        assert name is not None
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"model name must be a non-empty str, got {name!r}")
        model = (client.find_newest_logged_model(current_experiment_id(client), name)
                 or client.create_external_model(name=name))
    return _activate(model)


def _activate(model: LoggedModel) -> ActiveModel:
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


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Create (if needed) and select the experiment new traces and models go to. Blocks on the store."""
    global _experiment_id
    from autolog._client import get_default_client

    client = get_default_client()
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    elif experiment_name is not None:
        experiment = client.set_experiment(experiment_name)
    else:
        raise InvalidArgumentError("set_experiment needs experiment_name or experiment_id")
    with _experiment_lock:
        _experiment_id = experiment.experiment_id
    return experiment


def current_experiment_id(client: Client) -> str:
    """The selected experiment; the first call may resolve ``AUTOLOG_EXPERIMENT_NAME`` in the store."""
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
                _experiment_id = client.set_experiment(env_name).experiment_id
            else:
                _experiment_id = "0"
        return _experiment_id


def _reset_for_new_store() -> None:
    """A new store has other experiment ids: resolve the experiment again on next use."""
    global _experiment_id
    with _experiment_lock:
        _experiment_id = None
