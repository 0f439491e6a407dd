"""Application versions: ``set_experiment`` and ``set_active_model``, which look them up in the store.

The state they set (the active model per context, the selected experiment) is
``autolog._tracing.versions``, read on every new trace without touching the store.
"""

from __future__ import annotations

from autolog._client import get_default_client
from autolog._errors import InvalidArgumentError
from autolog._tracing.versions import ActiveModel, activate, clear_active_model, get_active_model_id, select_experiment
from autolog.entities.experiment import Experiment

__all__ = ["ActiveModel", "clear_active_model", "get_active_model_id", "set_active_model", "set_experiment"]


def set_active_model(name: str | None = None, model_id: str | None = None) -> ActiveModel:
    """Make a LoggedModel the active application version; every new trace links to it.

    With ``name``, the newest LoggedModel of that name in the current experiment is
    reused, or an external one is created. With ``model_id``, the model must exist.
    Blocks on the store for that lookup (call it at start-up, not per request).

    Returns:
        An ActiveModel; ``with autolog.set_active_model(...):`` restores the previous
        active model on exit.
    """
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
        model = (client.find_newest_logged_model(client.current_experiment_id(), name)
                 or client.create_external_model(name=name))
    return activate(model)


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Create (if needed) and select the experiment new traces and models go to. Blocks on the store."""
    client = get_default_client()
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    elif experiment_name is not None:
        experiment = client.set_experiment(experiment_name)
    else:
        raise InvalidArgumentError("set_experiment needs experiment_name or experiment_id")
    select_experiment(experiment.experiment_id)
    return experiment
