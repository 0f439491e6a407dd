"""The LoggedModel methods of ``autolog.Client`` (a base class, so the client module stays small)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autolog._errors import InvalidArgumentError, check_key
from autolog._store.sqlite import SqliteStore
from autolog.entities.ids import new_model_id, now_ms
from autolog.entities.logged_model import LoggedModel, LoggedModelStatus

__all__ = ["MODEL_IS_EXTERNAL", "LoggedModelMethods", "checked_params"]

MODEL_IS_EXTERNAL = "mlflow.model.isExternal"  # MLflow's tag on models made by create_external_model


class LoggedModelMethods:
    """Create, read, tag and search LoggedModels in ``self.store``."""

    @property
    def store(self) -> SqliteStore:
        raise NotImplementedError

    def current_experiment_id(self) -> str:
        raise NotImplementedError

    def create_external_model(self, name: str | None = None, source_run_id: str | None = None,
                              tags: dict[str, Any] | None = None, params: dict[str, str] | None = None,
                              model_type: str | None = None, experiment_id: str | None = None,
                              status: str = LoggedModelStatus.READY) -> LoggedModel:
        """Create a LoggedModel for an application version whose code lives outside autolog (status READY).

        A READY model gets MLflow's ``mlflow.model.isExternal = "true"`` tag; a PENDING one
        (``initialize_logged_model``) does not.
        """
        params_ = checked_params(params)
        checked_tags = {}
        for key, value in (tags or {}).items():
            check_key(key, "tag key")
            checked_tags[key] = value if isinstance(value, str) else str(value)
        if status == LoggedModelStatus.READY:  # as MLflow's create_external_model (and set_active_model)
            checked_tags[MODEL_IS_EXTERNAL] = "true"
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidArgumentError(f"model name must be a non-empty str, got {name!r}")
        model_id = new_model_id()
        created = now_ms()
        model = LoggedModel(model_id=model_id, name=name or f"model-{model_id[2:10]}",
                            experiment_id=str(experiment_id) if experiment_id is not None
                            else self.current_experiment_id(),
                            creation_timestamp=created, last_updated_timestamp=created, model_type=model_type,
                            source_run_id=source_run_id, status=status, tags=checked_tags,
                            params=params_)
        return self.store.create_logged_model(model)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return self.store.get_logged_model(model_id)

    def find_newest_logged_model(self, experiment_id: str, name: str) -> LoggedModel | None:
        return self.store.find_newest_logged_model(experiment_id, name)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        for key in tags:
            check_key(key, "tag key")
        self.store.set_logged_model_tags(model_id, {k: str(v) for k, v in tags.items()})

    def log_model_params(self, model_id: str, params: dict[str, str]) -> None:
        """Add params (str → str; other values are a TypeError naming the key) to a LoggedModel."""
        self.store.log_logged_model_params(model_id, checked_params(params))

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        """Mark a model created by ``initialize_logged_model`` as READY or FAILED."""
        code = str(getattr(status, "value", status)).upper()
        if code not in (LoggedModelStatus.READY, LoggedModelStatus.FAILED):
            raise InvalidArgumentError(f"status must be READY or FAILED, got {status!r}")
        self.store.set_logged_model_status(model_id, code)
        return self.store.get_logged_model(model_id)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.store.delete_logged_model_tag(model_id, key)

    def search_logged_models(self, experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                             order_by: list[str] | None = None, max_results: int = 100) -> list[LoggedModel]:
        return self.store.search_logged_models(experiment_ids, filter_string, order_by, max_results)


def checked_params(params: dict[str, Any] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in (params or {}).items():
        check_key(key, "param key")
        if not isinstance(value, str):
            raise TypeError(f"param {key!r} must be a str, got {type(value).__name__} ({value!r}); "
                            "convert it with str() or json.dumps() first")
        checked[key] = value
    return checked
