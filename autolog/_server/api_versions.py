"""The Versions and evaluation-runs endpoints of ``autolog ui`` (see docs/ui-api.md).

Numbers come from the library's own comparisons (``compare_versions``' rows, ``compare_evaluations``'
paired tests), computed over the app's store: the UI shows what the Python API answers.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from autolog._client import Client
from autolog._errors import InvalidArgumentError, ResourceDoesNotExist
from autolog._server.api_traces import model_names
from autolog._store.comparison import version_list, version_samples
from autolog.entities.logged_model import LoggedModel
from autolog.entities.run import Run
from autolog.genai.comparison.evaluations import ROW_MEASURES, RunRow, compare_pairs, pair_runs
from autolog.genai.comparison.plot import feedback_intervals
from autolog.genai.comparison.versions import version_data, version_rows

__all__ = ["MAX_SAMPLES", "router"]

router = APIRouter(tags=["versions"])

MAX_SAMPLES = 2_000  # latency and cost values per version for a distribution chart
MAX_RUNS = 1_000
EVALUATION_RUN_TYPE = "genai_evaluate"  # the mlflow.runType tag of a run evaluate() starts


def _client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def _version(model: LoggedModel, traces: int, last_trace_time: int | None) -> dict[str, Any]:
    return {"model_id": model.model_id, "name": model.name, "experiment_id": model.experiment_id,
            "creation_timestamp": model.creation_timestamp, "params": model.params, "tags": model.tags,
            "metrics": {m.key: m.value for m in model.metrics}, "traces": traces, "last_trace_time": last_trace_time}


def _versions(client: Client, experiment_id: str | None, model_ids: list[str] | None = None) -> list[dict[str, Any]]:
    listed = version_list(client.store.connections, experiment_id, model_ids)
    if not listed:
        return []
    found = {m.model_id: m for m in client.store.get_logged_models([row[0] for row in listed])}
    return [_version(found[m], n, last) for m, _, _, n, last in listed if m in found]


@router.get("/versions")
def list_versions(request: Request, experiment_id: str | None = None) -> list[dict[str, Any]]:
    """Every version (LoggedModel), newest first, with its trace count and last trace time."""
    return _versions(_client(request), experiment_id)


@router.get("/versions/compare")
def compare(request: Request, model_id: Annotated[list[str] | None, Query()] = None, filter: str | None = None,
            by: str | None = None) -> dict[str, Any]:
    """``compare_versions``' rows, each version's latency and cost values (its newest traces in scope, at most
    ``MAX_SAMPLES`` each), and each feedback's mean with its 95% interval."""
    if not model_id:
        raise InvalidArgumentError("model_id: give the versions to compare, as model_id=m-...&model_id=m-...")
    client = _client(request)
    data = version_data(model_id, filter_string=filter, by=by, client=client)
    distributions = {}
    for m in data.model_ids:  # one query per version
        latencies, costs = version_samples(client.store.connections, m, None, filter, MAX_SAMPLES)
        distributions[m] = {"latency_ms": latencies, "cost": costs}
    return {"rows": version_rows(data), "distributions": distributions, "feedback": feedback_intervals(data)}


@router.get("/versions/{model_id}")
def get_version(request: Request, model_id: str) -> dict[str, Any]:
    client = _client(request)
    found = _versions(client, None, [model_id])
    if not found:
        raise ResourceDoesNotExist(f"logged model {model_id!r} does not exist in {client.store.uri}")
    return found[0]


def _is_evaluation(run: Run) -> bool:
    """Runs evaluate() started carry its run type; an evaluation inside the caller's own run names its dataset."""
    return run.data.tags.get("mlflow.runType") == EVALUATION_RUN_TYPE or run.info.dataset_digest is not None


@router.get("/runs")
def list_runs(request: Request, experiment_id: str | None = None) -> list[dict[str, Any]]:
    """Evaluation runs, newest first (at most ``MAX_RUNS``)."""
    store = _client(request).store
    runs = [r for r in store.search_runs([experiment_id] if experiment_id else None, None, None, MAX_RUNS)
            if _is_evaluation(r)]
    names = model_names(request, [r.info.model_id for r in runs])
    out = []
    for r in runs:
        i = r.info
        dataset = None if i.dataset_name is None and i.dataset_digest is None else {
            "dataset_id": i.dataset_id, "name": i.dataset_name, "version": i.dataset_version,
            "digest": i.dataset_digest}
        out.append({"run_id": i.run_id, "run_name": i.run_name, "model_id": i.model_id,
                    "model_name": names.get(i.model_id) if i.model_id else None, "status": i.status,
                    "start_time": i.start_time, "end_time": i.end_time, "metrics": dict(r.data.metrics),
                    "dataset": dataset})
    return out


def _number(value: float | None) -> float | None:
    """JSON has no NaN: a statistic that could not be computed is null."""
    return None if value is None or math.isnan(value) else value


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _side(row: RunRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"trace_id": row.trace_id, "outputs": _json(row.outputs_json), "scores": row.scores}


@router.get("/runs/compare")
def compare_runs(request: Request, candidate: str, baseline: str) -> dict[str, Any]:
    """``compare_evaluations(candidate, baseline)`` as a summary table, and its rows paired as it pairs them."""
    pairs = pair_runs(candidate, baseline, client=_client(request))
    result = compare_pairs(pairs, candidate, baseline)
    summary = [{"metric": c.name, "baseline": _number(c.baseline_mean), "candidate": _number(c.candidate_mean),
                "difference": _number(c.difference), "ci_low": _number(c.ci_low), "ci_high": _number(c.ci_high),
                "p_value": _number(c.p_value), "test": c.test, "pairs": c.n_pairs, "verdict": c.verdict}
               for c in result.comparisons]
    scorers = [c for c in result.comparisons if c.name not in ROW_MEASURES]
    rows = []
    for before, after in pairs.rows():
        regressed = []
        if before is not None and after is not None:
            for c in scorers:  # worse in the direction compare_evaluations judged this scorer by
                b, a = before.numbers.get(c.name), after.numbers.get(c.name)
                if a is not None and b is not None and (a < b if c.higher_is_better else a > b):
                    regressed.append(c.name)
        either = before if before is not None else after
        rows.append({"inputs": _json(either.inputs_json) if either is not None else None,
                     "baseline": _side(before), "candidate": _side(after), "regressed": regressed})
    return {"summary": summary, "rows": rows}
