"""``evaluate``: predict (or take) each row's outputs, score them, record it all as a run of the version.

Flow: the rows and scorers are checked first (nothing is written if they are wrong); a run
starts (or the active one is used) with the version active; predictions run on a pool of
``AUTOLOG_GENAI_EVAL_MAX_WORKERS`` threads, each task in a copy of the caller's context (so
every trace is linked to the version and the run, also when ``predict_fn`` starts threads
of its own from that context); each finished prediction is handed to the scorers' own pool
at once. Once all are done, the traces are flushed, every feedback and expectation is
written in one transaction, and the aggregates go to the run and to the LoggedModel.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from autolog import _runs
from autolog._client import get_default_client
from autolog._errors import InvalidArgumentError
from autolog._stats import STATS
from autolog._tracing.context import suppress_tracing
from autolog._tracing.versions import get_active_model_id
from autolog._versions import set_active_model
from autolog.entities.assessment import Assessment, AssessmentSource, Expectation
from autolog.entities.trace import Trace
from autolog.genai.evaluation.aggregation import aggregate, check_aggregations, check_criteria, parse_criteria
from autolog.genai.evaluation.data import NO_OUTPUTS, Row, dataset_info, rows_of
from autolog.genai.evaluation.predict import Prediction, Predictor
from autolog.genai.scorers.base import Scorer

__all__ = ["EvaluationResult", "evaluate"]

_logger = logging.getLogger("autolog")

SOURCE_RUN_KEY = "mlflow.assessment.sourceRunId"


@dataclass
class EvaluationResult:
    """What ``evaluate`` returns: the run, its aggregate metrics, one row per input, and the quality gate."""

    run_id: str
    metrics: dict[str, float]
    result_df: Any  # pandas.DataFrame
    passed: bool | None = None  # None without quality_criteria
    reason: str | None = None

    @property
    def tables(self) -> dict[str, Any]:
        return {"eval_results": self.result_df}


@dataclass
class _Scored:
    row: Row
    prediction: Prediction
    feedbacks: list[Assessment] = field(default_factory=list)
    scorer_seconds: float = 0.0


def _workers(names: tuple[str, ...], given: int | None) -> int:
    if given is not None:
        return max(1, int(given))
    for name in names:
        if os.environ.get(name):
            return max(1, int(os.environ[name]))
    return 10


def _check_scorers(scorers: Sequence[Any] | Scorer) -> list[Scorer]:
    if isinstance(scorers, Scorer) or not isinstance(scorers, Sequence):
        scorers = [scorers]
    checked: list[Scorer] = []
    for i, s in enumerate(scorers):
        if not isinstance(s, Scorer):
            hint = " (decorate it with @autolog.genai.scorer)" if callable(s) else ""
            raise InvalidArgumentError(f"scorers[{i}] is a {type(s).__name__}, not a Scorer{hint}")
        check_aggregations(s.name, s.aggregations or ["mean"])
        checked.append(s)
    names = [s.name for s in checked]
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"two scorers share a name: {sorted(n for n in names if names.count(n) > 1)}")
    return checked


def _check_rows(rows: list[Row], scorers: list[Scorer], predict_fn: Callable[..., Any] | None) -> None:
    """Everything that would fail for every row, raised before anything runs (as MLflow, on the first row)."""
    first = rows[0]
    for row in rows:
        if predict_fn is None and not row.has_outputs and row.trace is None:
            raise InvalidArgumentError(f"row {row.index} has no 'outputs' and no 'trace', and no predict_fn was "
                                       "given: pass predict_fn=, or outputs in every row")
        if predict_fn is not None and row.trace is not None:
            # MLflow's harness does the same: predict_fn runs again on the trace's inputs (a new trace),
            # the old trace's expectations are kept.
            row.trace, row.outputs = None, NO_OUTPUTS
        elif predict_fn is not None and row.has_outputs:
            raise InvalidArgumentError(f"row {row.index} has its own outputs, and predict_fn was given: "
                                       "pass one or the other")
    if predict_fn is not None:
        try:
            inspect.signature(predict_fn).bind(**(first.inputs or {}))
        except TypeError as exc:
            raise InvalidArgumentError(f"predict_fn cannot take row 0's inputs as keyword arguments "
                                       f"({sorted(first.inputs or {})}): {exc}") from exc
        except ValueError:  # no signature (a builtin): found out on the first call
            pass
    for s in scorers:
        if "expectations" in required_parameters(s) and not first.expectations:
            raise InvalidArgumentError(f"scorer {s.name!r} needs expectations, and row 0 has none")


def required_parameters(s: Scorer) -> tuple[str, ...]:
    target = getattr(s, "func", None) or s.__call__
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return ()
    return tuple(p for p in s.parameters if p in params and params[p].default is inspect.Parameter.empty)


def evaluate(data: Any, scorers: Sequence[Scorer] | Scorer, predict_fn: Callable[..., Any] | None = None,
             model_id: str | None = None, quality_criteria: str | None = None, *, run_name: str | None = None,
             max_workers: int | None = None, max_scorer_workers: int | None = None,
             predict_rate_limit: float | None = None, progress: bool | None = None) -> EvaluationResult:
    """Evaluate a version on ``data`` with ``scorers``; returns the run's metrics and one result row per input.

    See the README, "Evaluation". ``predict_rate_limit``: calls of ``predict_fn`` a second at
    most. ``progress``: the bar on a terminal (None: when stderr is a TTY).
    """
    rows = rows_of(data)
    checked = _check_scorers(scorers)
    _check_rows(rows, checked, predict_fn)
    criteria = parse_criteria(quality_criteria) if quality_criteria else None
    client = get_default_client()
    model_id = model_id or get_active_model_id()
    if model_id is not None:
        client.get_logged_model(model_id)  # an unknown version is an error before the run starts
    info = dataset_info(data, rows)
    owns_run = _runs.active_run() is None
    run = _runs.start_run(run_name=run_name, tags={"mlflow.runType": "genai_evaluate"}) if owns_run else \
        _runs.active_run()
    assert run is not None
    store = client.store
    store.update_run(run.info.run_id, model_id=model_id,
                     dataset=(info.dataset_id, info.name, info.version, info.digest))
    try:
        with set_active_model(model_id=model_id) if model_id else _nothing():
            scored = _run_rows(rows, checked, predict_fn, max_workers, max_scorer_workers, predict_rate_limit,
                               progress)
        metrics = _record(scored, checked, run.info.run_id, model_id)
    except BaseException:
        if owns_run:
            _runs.end_run("FAILED")
        raise
    passed = reason = None
    if criteria is not None:
        passed, reason = check_criteria(criteria, metrics)
        _runs.set_tags({"autolog.qualityCriteria": quality_criteria or "", "autolog.passed": str(passed)},
                       run_id=run.info.run_id)
    if owns_run:
        _runs.end_run("FINISHED")
    return EvaluationResult(run.info.run_id, metrics, _result_df(scored), passed, reason)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _run_rows(rows: list[Row], scorers: list[Scorer], predict_fn: Callable[..., Any] | None,
              max_workers: int | None, max_scorer_workers: int | None, rate_limit: float | None,
              progress: bool | None) -> list[_Scored]:
    predictor = Predictor(predict_fn, rate_limit) if predict_fn is not None else None
    predict_pool = ThreadPoolExecutor(_workers(("AUTOLOG_GENAI_EVAL_MAX_WORKERS", "MLFLOW_GENAI_EVAL_MAX_WORKERS"),
                                               max_workers), thread_name_prefix="autolog-eval-predict")
    score_pool = ThreadPoolExecutor(_workers(("AUTOLOG_GENAI_EVAL_MAX_SCORER_WORKERS",
                                              "MLFLOW_GENAI_EVAL_MAX_SCORER_WORKERS"), max_scorer_workers),
                                    thread_name_prefix="autolog-eval-score")
    bar = _progress_bar(len(rows), progress)
    totals = {"predict": 0.0, "score": 0.0}
    scored_futures: list[Future[_Scored]] = []

    def score(row: Row, prediction: Prediction) -> _Scored:
        started = time.perf_counter()
        result = _Scored(row, prediction)
        trace = _trace_for(row, prediction) if any("trace" in s.parameters for s in scorers) else None
        outputs = row.outputs if row.has_outputs else prediction.outputs
        with suppress_tracing():  # a scorer's own calls (judges) are not the app's traces
            for s in scorers:
                result.feedbacks.extend(s.run(inputs=row.inputs, outputs=outputs, expectations=row.expectations,
                                              trace=trace))
        result.scorer_seconds = time.perf_counter() - started
        return result

    def predict(row: Row) -> Prediction:
        if predictor is None:
            return _static_prediction(row)
        return predictor.predict(row.inputs or {}, row.tags)

    def predict_then_score(row: Row) -> None:
        prediction = predict(row)
        totals["predict"] += prediction.seconds
        scored_futures.append(score_pool.submit(contextvars.copy_context().run, score, row, prediction))

    try:
        predicted = [predict_pool.submit(contextvars.copy_context().run, predict_then_score, row) for row in rows]
        for done in predicted:
            done.result()
        results: list[_Scored] = []
        for pending in list(scored_futures):
            r = pending.result()
            totals["score"] += r.scorer_seconds
            results.append(r)
            if bar is not None:
                total = totals["predict"] + totals["score"] or 1.0
                bar.set_postfix_str(f"predict_fn: {totals['predict'] / total:.0%}, scorers: "
                                    f"{totals['score'] / total:.0%}", refresh=False)
                bar.update(1)
    finally:
        predict_pool.shutdown(wait=True)
        score_pool.shutdown(wait=True)
        if bar is not None:
            bar.close()
    results.sort(key=lambda r: r.row.index)
    return results


def _static_prediction(row: Row) -> Prediction:
    """A row with its own outputs gets a minimal trace (one root span); a row with a trace keeps it."""
    if row.trace is not None:
        return Prediction(row.trace.info.trace_id, row.outputs, None, 0.0)
    from autolog._tracing.current_trace import update_current_trace
    from autolog._tracing.fluent import start_span

    with start_span("evaluate_row", span_type="CHAIN") as span:
        span.set_inputs(row.inputs)
        span.set_outputs(row.outputs)
        if row.tags:
            update_current_trace(tags=row.tags)
    return Prediction(span.trace_id or None, row.outputs, None, 0.0)


def _trace_for(row: Row, prediction: Prediction) -> Trace | None:
    if row.trace is not None:
        return row.trace
    if prediction.trace_id is None:
        return None
    client = get_default_client()
    client.flush()
    return client.get_trace(prediction.trace_id)


def _record(scored: list[_Scored], scorers: list[Scorer], run_id: str, model_id: str | None) -> dict[str, float]:
    """Write every assessment (one transaction) and the aggregates; returns the metrics."""
    client = get_default_client()
    stored_all = client.flush()
    assessments: list[Assessment] = []
    for r in scored:
        trace_id = r.prediction.trace_id
        if trace_id is None:
            continue
        for f in r.feedbacks:
            f.trace_id, f.run_id = trace_id, run_id
            # Trace-level unless the scorer named a span (retrieval_relevance: the retriever's), as in MLflow.
            f.metadata = {**(f.metadata or {}), SOURCE_RUN_KEY: run_id}
            assessments.append(f)
        if r.row.trace is None:  # the dataset's expectations, on the trace made for the row
            for name, value in r.row.expectations.items():
                assessments.append(Expectation(name, value, source=AssessmentSource("HUMAN", "dataset"),
                                               trace_id=trace_id, run_id=run_id,
                                               metadata={SOURCE_RUN_KEY: run_id}))
    written = client.store.write_assessments(assessments)
    if written < len(assessments):  # traces that never reached the store: their feedback cannot attach
        STATS.incr("unattached_assessments", len(assessments) - written)
        _logger.warning("autolog evaluation %s: %d of %d assessments were not stored because their traces are not"
                        " in the store (flush %s); see autolog.stats()", run_id, len(assessments) - written,
                        len(assessments), "completed" if stored_all else "timed out or lost traces")
    metrics: dict[str, float] = {}
    by_name: dict[str, list[Any]] = {}
    for r in scored:
        for f in r.feedbacks:
            if f.error is None:
                by_name.setdefault(f.name, []).append(f.value)
    owners = {s.name: s for s in scorers}
    for name, values in by_name.items():
        owner = owners.get(name) or owners.get(name.split("/")[0])
        metrics.update(aggregate(name, values, (owner.aggregations if owner else None) or ["mean"]))
    if metrics:
        _runs.log_metrics(metrics, run_id=run_id, model_id=model_id)
    return metrics


def _result_df(scored: list[_Scored]) -> Any:
    import pandas as pd

    rows = []
    for r in scored:
        error = r.prediction.error
        row: dict[str, Any] = {"trace_id": r.prediction.trace_id, "inputs": r.row.inputs,
                               "outputs": r.row.outputs if r.row.has_outputs else r.prediction.outputs,
                               "expectations": r.row.expectations or None,
                               "state": "ERROR" if error is not None else "OK",
                               "error": f"{type(error).__name__}: {error}" if error is not None else None,
                               "execution_time_ms": round(r.prediction.seconds * 1000, 3)}
        repeated = {name for name, n in Counter(f.name for f in r.feedbacks).items() if n > 1}
        for f in r.feedbacks:
            for part, value in (("value", f.value), ("rationale", f.rationale), ("error", f.error)):
                if f.name in repeated:  # one feedback per document (retrieval_relevance): a list, in order
                    row.setdefault(f"{f.name}/{part}", []).append(value)
                else:
                    row[f"{f.name}/{part}"] = value
        rows.append(row)
    return pd.DataFrame(rows)


def _progress_bar(total: int, progress: bool | None) -> Any:
    if progress is False or os.environ.get("AUTOLOG_GENAI_EVAL_PROGRESS", "") in ("0", "false", "False"):
        return None
    if progress is None and not sys.stderr.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="Evaluating", unit="row", file=sys.stderr)
