"""Runs for MLflow code: ``start_run`` (a context manager), ``active_run``, ``end_run``, ``log_params``/``log_metrics``.

The active run is per context (a contextvar, as the active model), so threads and asyncio
tasks started inside a ``with start_run():`` block see it, and evaluation workers get it with
the context they are given. An evaluation (``autolog.genai.evaluate``) is a run too.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from autolog._client import get_default_client
from autolog._errors import InvalidArgumentError
from autolog._tracing.versions import get_active_model_id, reset_active_run_id, set_active_run_id
from autolog.entities.ids import new_run_id, now_ms
from autolog.entities.run import Run, RunInfo, RunStatus

__all__ = ["ActiveRun", "active_run", "end_run", "get_run", "last_active_run", "log_metric", "log_metrics",
           "log_param", "log_params", "search_runs", "set_tag", "set_tags", "start_run"]

_ACTIVE_RUN: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar("autolog_active_run", default=None)
_last_run_id: str | None = None


class ActiveRun(Run):
    """The run a ``with start_run():`` block made: ended (FINISHED, or FAILED on an exception) when the block exits."""

    def __init__(self, run: Run) -> None:
        super().__init__(run.info, run.data)
        self._token: contextvars.Token[ActiveRun | None] | None = None
        self._id_token: contextvars.Token[str | None] | None = None

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        end_run(RunStatus.FAILED if exc_type is not None else RunStatus.FINISHED)


def start_run(run_id: str | None = None, experiment_id: str | None = None, run_name: str | None = None,
              nested: bool = False, tags: dict[str, Any] | None = None, description: str | None = None) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active one in this context; blocks on the store.

    A run already active here must be ended first unless ``nested=True`` (the new run is
    then tagged with its parent). Params and metrics logged meanwhile go to it.
    """
    global _last_run_id
    parent = _ACTIVE_RUN.get()
    if parent is not None and not nested:
        raise InvalidArgumentError(f"run {parent.info.run_id} is already active: end it first (end_run()), or "
                                   "start this one with nested=True")
    client = get_default_client()
    store = client.store
    if run_id is not None:
        store.update_run(run_id, status=RunStatus.RUNNING)
        run = store.get_run(run_id)
    else:
        all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if parent is not None:
            all_tags["mlflow.parentRunId"] = parent.info.run_id
        if description is not None:
            all_tags["mlflow.note.content"] = description
        new_id = new_run_id()
        info = RunInfo(new_id, str(experiment_id) if experiment_id is not None else client.current_experiment_id(),
                       run_name or f"run-{new_id[:8]}", RunStatus.RUNNING, now_ms(), model_id=get_active_model_id())
        run = store.create_run(info, all_tags)
    active = ActiveRun(run)
    active._token = _ACTIVE_RUN.set(active)
    active._id_token = set_active_run_id(active.info.run_id)  # new traces link to the run
    _last_run_id = active.info.run_id
    return active


def active_run() -> ActiveRun | None:
    """The run active in this context, or None."""
    return _ACTIVE_RUN.get()


def last_active_run() -> Run | None:
    return get_run(_last_run_id) if _last_run_id is not None else None


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run with ``status`` (FINISHED, FAILED or KILLED); nothing if no run is active."""
    run = _ACTIVE_RUN.get()
    if run is None:
        return
    get_default_client().store.update_run(run.info.run_id, status=status, end_time=now_ms())
    run.info.status, run.info.end_time = status, now_ms()
    token, run._token = run._token, None
    if run._id_token is not None:
        reset_active_run_id(run._id_token)
        run._id_token = None
    try:
        if token is not None:
            _ACTIVE_RUN.reset(token)
        else:
            _ACTIVE_RUN.set(None)
    except ValueError:  # ended in another context than it started in
        _ACTIVE_RUN.set(None)


def get_run(run_id: str) -> Run:
    return get_default_client().store.get_run(run_id)


def search_runs(experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                max_results: int = 1000, order_by: list[str] | None = None, output_format: str = "pandas",
                search_all_experiments: bool = False) -> Any:
    """Runs matching ``filter_string`` (``metrics.<k> > 0.5``, ``params.<k> = 'x'``, ``tags.<k>``, ``status``...).

    A pandas DataFrame (``run_id``, ``experiment_id``, ``status``, ``start_time``, ``end_time``,
    ``metrics.<k>``, ``params.<k>``, ``tags.<k>``) or, with ``output_format="list"``, Run objects.
    """
    runs = get_default_client().store.search_runs(experiment_ids, filter_string, order_by, max_results)
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise InvalidArgumentError(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    import pandas as pd

    return pd.DataFrame([{"run_id": r.info.run_id, "experiment_id": r.info.experiment_id, "run_name": r.info.run_name,
                          "status": r.info.status, "start_time": r.info.start_time, "end_time": r.info.end_time,
                          "model_id": r.info.model_id, **{f"metrics.{k}": v for k, v in r.data.metrics.items()},
                          **{f"params.{k}": v for k, v in r.data.params.items()},
                          **{f"tags.{k}": v for k, v in r.data.tags.items()}} for r in runs])


def _require_active(what: str) -> ActiveRun:
    run = _ACTIVE_RUN.get()
    if run is None:
        raise InvalidArgumentError(f"{what} needs an active run: call it inside `with autolog.start_run():`")
    return run


def log_params(params: dict[str, Any], run_id: str | None = None) -> None:
    target = run_id or _require_active("log_params").info.run_id
    values = {str(k): str(v) for k, v in params.items()}
    get_default_client().store.log_run_values(target, params=values)
    _mirror(target, "params", values)


def log_param(key: str, value: Any) -> Any:
    log_params({key: value})
    return value


def log_metrics(metrics: dict[str, float], run_id: str | None = None, model_id: str | None = None) -> None:
    """Log metrics to the active run (or ``run_id``), and to ``model_id`` (default: the run's model) if there is one."""
    try:
        values = {str(k): float(v) for k, v in metrics.items()}
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"metric values must be numbers: {exc}") from exc
    active = _ACTIVE_RUN.get()
    target = run_id or (active.info.run_id if active is not None else None)
    store = get_default_client().store
    if target is None and model_id is None:
        raise InvalidArgumentError("log_metrics needs an active run, run_id= or model_id=")
    if target is not None:
        store.log_run_values(target, metrics=values)
        _mirror(target, "metrics", values)
    linked = model_id or (active.info.model_id if active is not None and target == active.info.run_id else None)
    if linked is not None:
        store.log_model_metrics(linked, values)


def log_metric(key: str, value: float, run_id: str | None = None, model_id: str | None = None) -> None:
    log_metrics({key: value}, run_id=run_id, model_id=model_id)


def set_tags(tags: dict[str, Any], run_id: str | None = None) -> None:
    target = run_id or _require_active("set_tags").info.run_id
    values = {str(k): str(v) for k, v in tags.items()}
    get_default_client().store.log_run_values(target, tags=values)
    _mirror(target, "tags", values)


def set_tag(key: str, value: Any) -> None:
    set_tags({key: value})


def _mirror(run_id: str, attr: str, values: dict[str, Any]) -> None:
    """Keep the active run object's data in step with the store, as MLflow's ActiveRun is not (but users expect)."""
    active = _ACTIVE_RUN.get()
    if active is not None and active.info.run_id == run_id:
        getattr(active.data, attr).update(values)



