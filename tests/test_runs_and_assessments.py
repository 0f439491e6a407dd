"""Runs (``start_run`` and friends) and the full assessments API, as MLflow code uses them."""

from __future__ import annotations

import threading

import pytest

import autolog
import autolog as mlflow


def _trace() -> str:
    with autolog.start_span("answer") as span:
        span.set_inputs({"q": "2+2"})
        span.set_outputs("4")
    trace_id = autolog.get_last_active_trace_id()
    assert trace_id is not None
    return trace_id


def test_a_run_block_records_params_metrics_tags_and_links_its_traces_and_model() -> None:
    with mlflow.start_run(run_name="baseline", tags={"team": "search"}) as run:
        mlflow.log_params({"temperature": 0.2, "prompt": "v1"})
        mlflow.log_metric("accuracy", 0.75)
        mlflow.set_tag("stage", "dev")
        # version-concepts "Within a run context": a version made inside a run names it.
        model = mlflow.create_external_model(name="agent", source_run_id=run.info.run_id)
        trace_id = _trace()
        assert mlflow.active_run() is run
    assert mlflow.active_run() is None
    stored = mlflow.get_run(run.info.run_id)
    assert (stored.info.run_name, stored.info.status) == ("baseline", "FINISHED")
    assert stored.info.end_time is not None and stored.info.end_time >= stored.info.start_time
    assert stored.data.params == {"temperature": "0.2", "prompt": "v1"}
    assert stored.data.metrics == {"accuracy": 0.75}
    assert stored.data.tags == {"team": "search", "stage": "dev"}
    assert mlflow.get_logged_model(model.model_id).source_run_id == run.info.run_id
    assert autolog.flush()
    assert mlflow.get_trace(trace_id).info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
    found = mlflow.search_traces(filter_string=f"run_id = '{run.info.run_id}'", return_type="list")
    assert [t.info.trace_id for t in found] == [trace_id]


def test_a_failing_block_fails_its_run_and_runs_are_searchable() -> None:
    with pytest.raises(RuntimeError), mlflow.start_run(run_name="broken"):
        mlflow.log_metric("accuracy", 0.1)
        raise RuntimeError("boom")
    with mlflow.start_run(run_name="good"):
        mlflow.log_metric("accuracy", 0.9)
    df = mlflow.search_runs(filter_string="metrics.accuracy > 0.5")
    assert df["run_name"].tolist() == ["good"] and df["metrics.accuracy"].tolist() == [0.9]
    runs = mlflow.search_runs(filter_string="status = 'FAILED'", output_format="list")
    assert [r.info.run_name for r in runs] == ["broken"]
    with pytest.raises(autolog.InvalidFilterError):
        mlflow.search_runs(filter_string="nonsense.x = 1")


def test_runs_are_per_context_and_nesting_is_explicit() -> None:
    seen: list[str | None] = []
    with mlflow.start_run() as outer:
        worker = threading.Thread(target=lambda: seen.append(getattr(mlflow.active_run(), "info", None) and
                                                             mlflow.active_run().info.run_id))  # type: ignore[union-attr]
        worker.start()
        worker.join()
        with pytest.raises(autolog.InvalidArgumentError, match="already active"):
            mlflow.start_run()
        with mlflow.start_run(nested=True) as inner:
            assert inner.data.tags["mlflow.parentRunId"] == outer.info.run_id
    assert seen == [None], "a plain new thread does not inherit the context (contextvars), as asyncio tasks do"
    with pytest.raises(autolog.InvalidArgumentError, match="active run"):
        mlflow.log_params({"x": 1})


def test_feedback_can_be_updated_overridden_and_deleted() -> None:
    trace_id = _trace()
    assert autolog.flush()
    judged = mlflow.log_feedback(trace_id, "correct", False, source=autolog.AssessmentSource("LLM_JUDGE", "gpt"),
                                 rationale="looks wrong")
    failed = mlflow.log_feedback(trace_id, "safety", error=autolog.AssessmentError("TIMEOUT", "judge timed out"))
    assert mlflow.get_assessment(trace_id, failed.assessment_id).error == "judge timed out"
    with pytest.raises(autolog.InvalidArgumentError, match="value= or error="):
        mlflow.log_feedback(trace_id, "empty")

    human = mlflow.override_feedback(trace_id, judged.assessment_id, True, rationale="it is right")
    old = mlflow.get_assessment(trace_id, judged.assessment_id)
    assert (old.valid, human.valid, human.overrides, human.source.source_type) == (False, True, judged.assessment_id,
                                                                                   "HUMAN")
    assert [t.info.trace_id for t in mlflow.search_traces(filter_string="feedback.correct = 'true'",
                                                           return_type="list")] == [trace_id]
    assert mlflow.search_traces(filter_string="feedback.correct = 'false'", return_type="list") == []

    updated = mlflow.update_assessment(trace_id, human.assessment_id,
                                       autolog.Feedback(value=True, rationale="checked twice"))
    assert (updated.rationale, updated.value, updated.name) == ("checked twice", True, "correct")
    mlflow.delete_assessment(trace_id, human.assessment_id)  # the judge's feedback is the valid one again
    assert mlflow.get_assessment(trace_id, judged.assessment_id).valid is True
    with pytest.raises(autolog.ResourceDoesNotExist):
        mlflow.get_assessment(trace_id, human.assessment_id)
    expectation = mlflow.log_assessment(trace_id, autolog.Expectation("answer", "4"))
    with pytest.raises(autolog.InvalidArgumentError, match="expectation"):
        mlflow.override_feedback(trace_id, expectation.assessment_id, "5")
