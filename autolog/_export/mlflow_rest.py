"""An MLflow tracking server as the client's store: experiments and LoggedModels through MLflow's REST API.

With ``AUTOLOG_TRACKING_URI`` (or ``MLFLOW_TRACKING_URI``) ``http(s)://host:port``, versions
(``create_external_model``, ``set_active_model``, tags, params, status) and experiments
(``set_experiment`` resolves the NAME to the server's id, creating it if missing) are the
server's, through the same REST paths MLflow's own client calls (``/api/2.0/mlflow/...``);
the traces go to the server through ``mlflow_server.MlflowServerExporter``.

Reading or editing traces in that mode is not served here: those calls raise
``MlflowServerModeError`` saying to use MLflow's client (``mlflow.search_traces``,
``MlflowClient().get_trace``) against the same server, which reads exactly what was sent.
Credentials are MLflow's variables: ``MLFLOW_TRACKING_TOKEN`` (a bearer token) or
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

import httpx

from autolog._errors import AutologError, ResourceDoesNotExist, StoreError
from autolog.entities.experiment import Experiment
from autolog.entities.logged_model import LoggedModel, LoggedModelStatus

__all__ = ["MlflowRestStore", "MlflowServerModeError", "auth_headers"]

_STATUS_TO_MLFLOW = {LoggedModelStatus.READY: "LOGGED_MODEL_READY", LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
                     LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED"}
_STATUS_FROM_MLFLOW = {v: k for k, v in _STATUS_TO_MLFLOW.items()}


class MlflowServerModeError(AutologError, NotImplementedError):
    """A call autolog does not serve when the tracking URI is an MLflow server (reads and edits of traces)."""


def auth_headers() -> dict[str, str]:
    """MLflow's credential variables as request headers."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")}
    return {}


class MlflowRestStore:
    """The part of the store API an MLflow server serves (experiments, LoggedModels). Thread-safe; blocks on I/O."""

    def __init__(self, uri: str, timeout_seconds: float = 30.0) -> None:
        self.uri = uri.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None  # thread-safe; one per process (a forked child makes its own)
        self._pid = -1

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = httpx.Client(base_url=self.uri, timeout=self.timeout_seconds, headers=auth_headers())
                self._pid = os.getpid()
            return self._client

    def close(self) -> None:
        """Close the connections (the client shut down); a later call opens new ones."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
             missing_ok: bool = False) -> dict[str, Any] | None:
        """One REST call; its JSON answer. None for a 404 when ``missing_ok``; StoreError naming the call otherwise."""
        try:
            response = self._http().request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise StoreError(f"MLflow server {self.uri}: {method} {path} failed: {exc!r}") from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 404 and "RESOURCE_DOES_NOT_EXIST" in response.text:
            raise ResourceDoesNotExist(f"MLflow server {self.uri}: {_message(response)}")
        if response.status_code >= 400:
            raise StoreError(f"MLflow server {self.uri}: {method} {path} answered {response.status_code}: "
                             f"{_message(response)}")
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    # -- experiments -------------------------------------------------------------------------------
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self.call("GET", "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name},
                          missing_ok=True)
        return _experiment(found["experiment"]) if found else None

    def get_or_create_experiment(self, name: str) -> Experiment:
        found = self.get_experiment_by_name(name)
        if found is not None:
            return found
        try:
            created = self.call("POST", "/api/2.0/mlflow/experiments/create", json={"name": name})
        except StoreError:
            found = self.get_experiment_by_name(name)  # created by another process meanwhile
            if found is None:
                raise
            return found
        assert created is not None
        return self.get_experiment(created["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self.call("GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id})
        assert found is not None
        return _experiment(found["experiment"])

    # -- logged models -----------------------------------------------------------------------------
    def create_logged_model(self, model: LoggedModel) -> LoggedModel:
        """Create it on the server (which assigns the id), then set its status as MLflow's client does."""
        body = {"experiment_id": model.experiment_id, "name": model.name, "model_type": model.model_type,
                "source_run_id": model.source_run_id, "params": _pairs(model.params), "tags": _pairs(model.tags)}
        created = self.call("POST", "/api/2.0/mlflow/logged-models",
                            json={k: v for k, v in body.items() if v not in (None, [])})
        assert created is not None
        model_id = created["model"]["info"]["model_id"]
        if model.status != LoggedModelStatus.PENDING:
            self.set_logged_model_status(model_id, model.status)
        return self.get_logged_model(model_id)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        found = self.call("GET", f"/api/2.0/mlflow/logged-models/{model_id}")
        assert found is not None
        return _logged_model(found["model"])

    def set_logged_model_status(self, model_id: str, status: str) -> None:
        self.call("PATCH", f"/api/2.0/mlflow/logged-models/{model_id}",
                  json={"model_id": model_id, "status": _STATUS_TO_MLFLOW.get(status, status)})

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self.call("PATCH", f"/api/2.0/mlflow/logged-models/{model_id}/tags", json={"tags": _pairs(tags)})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.call("DELETE", f"/api/2.0/mlflow/logged-models/{model_id}/tags/{key}")

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        self.call("POST", f"/api/2.0/mlflow/logged-models/{model_id}/params",
                  json={"model_id": model_id, "params": _pairs(params)})

    def search_logged_models(self, experiment_ids: Sequence[str] | None, filter_string: str | None = None,
                             order_by: list[str] | None = None, max_results: int = 100) -> list[LoggedModel]:
        body: dict[str, Any] = {"experiment_ids": list(experiment_ids or ["0"]), "max_results": min(max_results, 1000)}
        if filter_string:
            body["filter"] = filter_string
        if order_by:
            body["order_by"] = [{"field_name": c.split()[0], "ascending": not c.upper().endswith(" DESC")}
                                for c in order_by]
        found = self.call("POST", "/api/2.0/mlflow/logged-models/search", json=body)
        return [_logged_model(m) for m in (found or {}).get("models", [])]

    def find_newest_logged_model(self, experiment_id: str, name: str) -> LoggedModel | None:
        quoted = name.replace("'", "\\'")
        models = self.search_logged_models([experiment_id], f"name = '{quoted}'", ["creation_time DESC"], 1)
        return models[0] if models else None

    # -- everything else: the MLflow client's job in this mode ------------------------------------------
    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        raise MlflowServerModeError(
            f"{name}: with the tracking URI {self.uri} (an MLflow server) autolog sends traces and versions to the "
            "server but does not read or edit traces there; use MLflow's client against the same server "
            "(mlflow.search_traces(...), mlflow.MlflowClient().get_trace(...) with MLFLOW_TRACKING_URI set), "
            "or a sqlite:/// tracking URI for autolog's own reads")


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("detail") or body)[:500]
    return str(body)[:500]


def _pairs(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def _experiment(obj: dict[str, Any]) -> Experiment:
    return Experiment(experiment_id=str(obj["experiment_id"]), name=obj["name"],
                      tags={t["key"]: t["value"] for t in obj.get("tags", [])},
                      creation_time=int(obj.get("creation_time") or 0))


def _logged_model(obj: dict[str, Any]) -> LoggedModel:
    info, data = obj.get("info", {}), obj.get("data", {})
    return LoggedModel(model_id=info["model_id"], name=info.get("name", ""), experiment_id=str(info["experiment_id"]),
                       creation_timestamp=int(info.get("creation_timestamp_ms") or 0),
                       last_updated_timestamp=int(info.get("last_updated_timestamp_ms") or 0),
                       status=_STATUS_FROM_MLFLOW.get(info.get("status", ""), LoggedModelStatus.READY),
                       model_type=info.get("model_type"), source_run_id=info.get("source_run_id"),
                       tags={t["key"]: t["value"] for t in info.get("tags", [])},
                       params={p["key"]: p["value"] for p in data.get("params", [])})
