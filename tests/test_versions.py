"""Experiments and LoggedModels: the version every trace belongs to."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import autolog

REPO = Path(__file__).resolve().parents[1]


@autolog.trace
def answer(q: str) -> str:
    return q.upper()


def _model_of_last_trace() -> str | None:
    trace_id = autolog.get_last_active_trace_id()
    assert trace_id is not None
    return autolog.get_trace(trace_id).info.trace_metadata.get("mlflow.modelId")


def test_set_active_model_by_name_creates_then_reuses_an_external_model() -> None:
    first = autolog.set_active_model(name="agent-v1")
    assert first.model_id.startswith("m-") and len(first.model_id) == 34
    assert first.status == "READY" and first.model_uri == f"models:/{first.model_id}"
    answer("a")
    assert _model_of_last_trace() == first.model_id
    again = autolog.set_active_model(name="agent-v1")
    assert again.model_id == first.model_id
    assert autolog.get_active_model_id() == first.model_id


def test_set_active_model_by_id_must_exist() -> None:
    model = autolog.create_external_model(name="agent", params={"temperature": "0.2"})
    assert autolog.set_active_model(model_id=model.model_id).model_id == model.model_id
    with pytest.raises(autolog.ResourceDoesNotExist, match="m-missing"):
        autolog.set_active_model(model_id="m-missing")
    with pytest.raises(autolog.InvalidArgumentError, match="name= or model_id="):
        autolog.set_active_model()


def test_active_model_context_manager_restores_previous() -> None:
    v1 = autolog.set_active_model(name="v1")
    with autolog.set_active_model(name="v2") as v2:
        answer("x")
        assert _model_of_last_trace() == v2.model_id
    assert autolog.get_active_model_id() == v1.model_id
    answer("y")
    assert _model_of_last_trace() == v1.model_id
    autolog.clear_active_model()
    assert autolog.get_active_model_id() is None
    answer("z")
    assert _model_of_last_trace() is None


def test_active_model_is_per_thread_and_task_with_a_process_wide_fallback() -> None:
    main_model = autolog.set_active_model(name="main")
    other = autolog.create_external_model(name="other")
    seen: dict[str, str | None] = {}

    def worker() -> None:
        seen["inherited"] = autolog.get_active_model_id()  # new thread: the process-wide fallback
        with autolog.set_active_model(model_id=other.model_id):
            seen["own"] = autolog.get_active_model_id()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"inherited": main_model.model_id, "own": other.model_id}
    assert autolog.get_active_model_id() == main_model.model_id

    async def task(model_id: str) -> str | None:
        autolog._tracing.versions._ACTIVE_MODEL_ID.set(model_id)  # what set_active_model does inside a task
        await asyncio.sleep(0)
        return autolog.get_active_model_id()

    async def both() -> list[str | None]:
        return list(await asyncio.gather(task("m-a"), task("m-b")))

    assert asyncio.run(both()) == ["m-a", "m-b"]
    assert autolog.get_active_model_id() == main_model.model_id


def test_environment_gives_the_production_default(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'env.db'}"
    code = ("import autolog\n@autolog.trace\ndef f(): return 1\nf()\n"
            "print(autolog.get_trace(autolog.get_last_active_trace_id()).info.trace_metadata['mlflow.modelId'])")
    for var in ("AUTOLOG_ACTIVE_MODEL_ID", "MLFLOW_ACTIVE_MODEL_ID"):
        env = {**os.environ, "PYTHONPATH": str(REPO), "AUTOLOG_TRACKING_URI": db, var: "m-from-env"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "m-from-env"


def test_create_external_model_fields_and_param_type_errors() -> None:
    model = autolog.create_external_model(name="rag", source_run_id="run-1", tags={"team": "search", "n": 3},
                                          params={"prompt": "v2", "k": "5"}, model_type="agent")
    loaded = autolog.get_logged_model(model.model_id)
    assert loaded == model
    assert (loaded.name, loaded.experiment_id, loaded.source_run_id, loaded.model_type, loaded.status) == (
        "rag", "0", "run-1", "agent", "READY")
    assert loaded.tags == {"team": "search", "n": "3", "mlflow.model.isExternal": "true"}
    assert loaded.params == {"prompt": "v2", "k": "5"}
    assert loaded.creation_timestamp == loaded.last_updated_timestamp > 0
    with pytest.raises(TypeError, match=r"param 'temperature' must be a str, got float"):
        autolog.create_external_model(name="bad", params={"temperature": 0.7})
    with pytest.raises(TypeError, match=r"param 'config' must be a str, got dict"):
        autolog.create_external_model(name="bad", params={"config": {"a": 1}})
    assert [m.name for m in autolog.search_logged_models(output_format="list")] == ["rag"]


def test_search_logged_models_with_filters() -> None:
    a = autolog.create_external_model(name="agent", params={"temperature": "0.2"}, tags={"stage": "prod"})
    b = autolog.create_external_model(name="agent", params={"temperature": "0.9"}, tags={"stage": "dev"})
    autolog.create_external_model(name="other")
    found = autolog.search_logged_models(filter_string="name = 'agent' AND params.temperature = '0.9'",
                                         output_format="list")
    assert [m.model_id for m in found] == [b.model_id]
    found = autolog.search_logged_models(filter_string="tags.stage = 'prod'")  # a DataFrame, as MLflow
    assert list(found["model_id"]) == [a.model_id]
    with pytest.raises(autolog.InvalidFilterError):
        autolog.search_logged_models(filter_string="name = ")


def test_experiments_group_traces_and_models() -> None:
    exp = autolog.set_experiment("support-bot")
    assert exp.name == "support-bot" and exp.experiment_id != "0"
    assert autolog.set_experiment("support-bot").experiment_id == exp.experiment_id
    model = autolog.set_active_model(name="bot")
    assert model.experiment_id == exp.experiment_id
    answer("q")
    autolog.set_experiment(experiment_id="0")
    answer("q2")
    in_exp = autolog.search_traces(experiment_ids=[exp.experiment_id], return_type="list")
    assert [t.info.request_preview for t in in_exp] == ['{"q": "q"}']
    assert len(autolog.search_traces(return_type="list")) == 1  # the active experiment ("0"), as MLflow
    assert len(autolog.search_traces(locations=["0", exp.experiment_id], return_type="list")) == 2
    assert len(autolog.search_traces(model_id=model.model_id, locations=["0", exp.experiment_id],
                                     return_type="list")) == 2


def test_model_lifecycle_params_and_tags() -> None:
    pending = autolog.initialize_logged_model(name="agent", params={"prompt": "v1"}, tags={"stage": "dev"})
    assert pending.status == "PENDING"
    ready = autolog.finalize_logged_model(pending.model_id, "READY")
    assert ready.status == "READY" and ready.last_updated_timestamp >= pending.last_updated_timestamp
    with pytest.raises(autolog.InvalidArgumentError, match="READY or FAILED"):
        autolog.finalize_logged_model(pending.model_id, "DONE")
    autolog.log_model_params({"temperature": "0.2"}, model_id=pending.model_id)
    with pytest.raises(TypeError, match="param 'top_k' must be a str, got int"):
        autolog.log_model_params({"top_k": 5}, model_id=pending.model_id)
    with autolog.set_active_model(model_id=pending.model_id):
        autolog.log_model_params({"retriever": "bm25"})  # defaults to the active model
    autolog.clear_active_model()
    with pytest.raises(autolog.InvalidArgumentError, match="active model"):
        autolog.log_model_params({"a": "b"})
    autolog.delete_logged_model_tag(pending.model_id, "stage")
    with pytest.raises(autolog.ResourceDoesNotExist):
        autolog.delete_logged_model_tag(pending.model_id, "stage")
    loaded = autolog.get_logged_model(pending.model_id)
    assert loaded.params == {"prompt": "v1", "temperature": "0.2", "retriever": "bm25"} and loaded.tags == {}
    with pytest.raises(autolog.ResourceDoesNotExist):
        autolog.log_model_params({"a": "b"}, model_id="m-unknown")


def test_update_current_trace_state_and_model_id() -> None:
    other = autolog.create_external_model(name="other")
    autolog.set_active_model(name="active")

    @autolog.trace
    def handled() -> str:
        autolog.update_current_trace(state="ERROR", model_id=other.model_id)
        return "fallback answer"

    handled()
    info = autolog.get_trace(autolog.get_last_active_trace_id() or "").info
    assert info.state == "ERROR" and info.trace_metadata["mlflow.modelId"] == other.model_id
    with pytest.raises(autolog.InvalidArgumentError, match="'OK' or 'ERROR'"):
        autolog.trace(lambda: autolog.update_current_trace(state="MAYBE"))()


def test_client_without_uri_follows_configure(store: autolog.Client) -> None:
    client = autolog.Client()
    assert client.tracking_uri == store.tracking_uri
    client.shutdown()


def test_search_logged_models_orders_by_a_metric_param_or_tag_with_missing_values_last() -> None:
    """MLflow's ``order_by=[{"field_name": "metrics.<key>", "ascending": False}]``: the best version first."""
    scores = {"a": 0.5, "b": 0.9, "c": None, "d": 0.7}
    ids = {}
    for name, score in scores.items():
        ids[name] = autolog.create_external_model(name=name, params={"top_k": str(len(name) * ord(name) % 7)},
                                                  tags={"team": "x"} if name != "d" else None).model_id
        if score is not None:
            with autolog.start_run():
                autolog.log_metrics({"correctness/mean": score}, model_id=ids[name])

    def names(order_by: list[Any]) -> list[str]:
        return [m.name for m in autolog.search_logged_models(order_by=order_by, output_format="list")]

    assert names([{"field_name": "metrics.correctness/mean", "ascending": False}]) == ["b", "d", "a", "c"]
    assert names([{"field_name": "metrics.`correctness/mean`", "ascending": True}]) == ["a", "d", "b", "c"]
    assert names(["metrics.correctness/mean DESC"]) == ["b", "d", "a", "c"]
    # A missing tag sorts last; ties break by the next key (here the name).
    assert names(["tags.team DESC", "name DESC"]) == ["c", "b", "a", "d"]
    assert names(["params.top_k ASC", "name ASC"]) == sorted(
        scores, key=lambda n: (str(len(n) * ord(n) % 7), n))
    assert names(["metrics.`it's quoted` DESC", "name"]) == ["a", "b", "c", "d"]  # quotes are data, not SQL
    with pytest.raises(autolog.InvalidFilterError, match=r"expected ASC or DESC, found .SIDEWAYS."):
        names(["metrics.correctness/mean SIDEWAYS"])
