"""MLflow 3.17's API shapes (issue 17), as checked against a control installation of MLflow 3.17.2.

Signatures and DataFrame columns below were read from the control (``inspect.signature`` and
``.columns``); behaviours (None from get_trace, logged warnings, FutureWarnings, the active
experiment as the default search scope, the ``mlflow.model.isExternal`` tag) were observed there.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import autolog
import autolog as mlflow
from autolog._tracing import current_trace

# inspect.signature(mlflow.search_traces) in MLflow 3.17.2
MLFLOW_SEARCH_TRACES = ["experiment_ids", "filter_string", "max_results", "order_by", "extract_fields", "run_id",
                        "return_type", "model_id", "sql_warehouse_id", "include_spans", "locations", "flush"]
# mlflow.search_traces(...).columns
MLFLOW_TRACE_COLUMNS = ["trace_id", "trace", "client_request_id", "state", "request_time", "execution_duration",
                        "request", "response", "trace_metadata", "tags", "spans", "assessments"]
# mlflow.search_logged_models().columns
MLFLOW_MODEL_COLUMNS = ["artifact_location", "creation_timestamp", "experiment_id", "last_updated_timestamp",
                        "metrics", "model_id", "model_type", "name", "params", "source_run_id", "status",
                        "status_message", "tags"]


@mlflow.trace
def answer(question: str) -> dict[str, str]:
    with mlflow.start_span("retrieve") as span:
        span.set_inputs({"query": question})
        span.set_outputs({"docs": ["d1"], "n": 1})
    return {"text": f"re: {question}"}


def _params(f: object) -> list[str]:
    return list(inspect.signature(f).parameters)  # type: ignore[arg-type]


def test_search_traces_takes_mlflows_arguments_in_mlflows_order() -> None:
    assert _params(mlflow.search_traces)[:len(MLFLOW_SEARCH_TRACES)] == MLFLOW_SEARCH_TRACES
    extra = inspect.signature(mlflow.search_traces).parameters["page_token"]
    assert extra.kind is inspect.Parameter.KEYWORD_ONLY
    assert _params(mlflow.search_logged_models) == ["experiment_ids", "filter_string", "datasets", "max_results",
                                                    "order_by", "output_format"]
    # MlflowClient.search_traces / search_logged_models in MLflow 3.17.2
    assert _params(mlflow.MlflowClient.search_traces)[1:] == [
        "experiment_ids", "filter_string", "max_results", "order_by", "page_token", "run_id", "include_spans",
        "model_id", "locations", "flush"]
    assert _params(mlflow.Client.search_traces) == _params(mlflow.MlflowClient.search_traces)
    assert _params(mlflow.MlflowClient.search_logged_models)[1:] == [
        "experiment_ids", "filter_string", "datasets", "max_results", "order_by", "page_token"]


def test_positional_search_traces_as_in_mlflow() -> None:
    for q in ("a", "b", "c"):
        answer(q)
    assert mlflow.flush()
    # positional: experiment_ids, filter_string, max_results, order_by (MLflow's order)
    found = mlflow.search_traces(["0"], "name = 'answer'", 2, ["timestamp_ms DESC"], return_type="list")
    assert len(found) == 2 and all(isinstance(t, mlflow.Trace) for t in found)


def test_dataframe_is_the_default_with_mlflows_columns_first() -> None:
    answer("hello")
    assert mlflow.flush()
    df = mlflow.search_traces()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == [*MLFLOW_TRACE_COLUMNS, "status", "execution_time_ms", "token_usage"]
    row = df.iloc[0]
    assert row["request"] == {"question": "hello"} and row["response"] == {"text": "re: hello"}
    assert row["state"] == "OK" and row["client_request_id"] is None
    empty = mlflow.search_traces(filter_string="name = 'nothing'")
    assert list(empty.columns)[:12] == MLFLOW_TRACE_COLUMNS and len(empty) == 0


def test_the_active_experiment_is_searched_by_default() -> None:
    answer("in default")
    exp = mlflow.set_experiment("parity")
    answer("in parity")
    assert mlflow.flush()

    def questions(**kw: object) -> list[str]:
        return sorted(t.data.spans[0].inputs["question"] for t in mlflow.search_traces(return_type="list", **kw))

    assert questions() == ["in parity"]  # set_experiment's
    assert questions(locations=["0"]) == ["in default"]
    assert questions(experiment_ids=["0"]) == ["in default"]
    assert questions(locations=["0", exp.experiment_id]) == ["in default", "in parity"]
    mlflow.set_experiment(experiment_id="0")
    assert questions() == ["in default"]  # nothing set: MLflow's default experiment "0"
    with pytest.raises(mlflow.InvalidArgumentError, match="locations"):
        mlflow.search_traces(locations="0")


def test_include_spans_false_returns_info_only() -> None:
    answer("q")
    assert mlflow.flush()
    [trace] = mlflow.search_traces(return_type="list", include_spans=False)
    assert trace.data.spans == [] and trace.info.state == "OK" and trace.info.trace_id
    [full] = mlflow.search_traces(return_type="list")
    assert len(full.data.spans) == 2 and full.info.trace_id == trace.info.trace_id


def test_extract_fields_is_deprecated_but_works_as_mlflows() -> None:
    answer("q1")
    assert mlflow.flush()
    with pytest.warns(FutureWarning, match="extract_fields"):
        df = mlflow.search_traces(extract_fields=["retrieve.inputs", "retrieve.outputs.n", "retrieve.outputs.zzz",
                                                  "`answer`.inputs.question"])
    assert list(df.columns)[:16] == [*MLFLOW_TRACE_COLUMNS, "retrieve.inputs", "retrieve.outputs.n",
                                     "retrieve.outputs.zzz", "answer.inputs.question"]
    row = df.iloc[0]
    assert row["retrieve.inputs"] == {"query": "q1"} and row["retrieve.outputs.n"] == 1
    assert row["retrieve.outputs.zzz"] is None and row["answer.inputs.question"] == "q1"
    with pytest.warns(FutureWarning), pytest.raises(mlflow.InvalidArgumentError, match="pandas"):
        mlflow.search_traces(extract_fields=["retrieve.inputs"], return_type="list")
    with pytest.warns(FutureWarning), pytest.raises(mlflow.InvalidArgumentError, match=r"retrieve\.params"):
        mlflow.search_traces(extract_fields=["retrieve.params"])
    with pytest.raises(mlflow.InvalidArgumentError, match="sql_warehouse_id"):
        mlflow.search_traces(sql_warehouse_id="abc")


def test_search_logged_models_is_a_dataframe_without_a_default_limit() -> None:
    for i in range(105):  # more than autolog's old default limit of 100
        mlflow.create_external_model(name=f"m{i}")
    df = mlflow.search_logged_models()
    assert isinstance(df, pd.DataFrame) and len(df) == 105
    assert list(df.columns) == [*MLFLOW_MODEL_COLUMNS, "model_uri"]
    models = mlflow.search_logged_models(output_format="list", max_results=3)
    assert len(models) == 3 and all(isinstance(m, mlflow.LoggedModel) for m in models)
    assert mlflow.search_logged_models(experiment_ids=["0"], filter_string="name = 'm7'")["name"].tolist() == ["m7"]
    mlflow.set_experiment("elsewhere")
    assert len(mlflow.search_logged_models()) == 0  # the active experiment, as MLflow
    with pytest.raises(mlflow.InvalidArgumentError, match="output_format"):
        mlflow.search_logged_models(output_format="json")


def test_get_trace_of_an_unknown_id_is_none_with_a_logged_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="autolog"):
        assert mlflow.get_trace("tr-0123456789abcdef0123456789abcdef") is None
    assert "tr-0123456789abcdef0123456789abcdef" in caplog.text
    caplog.clear()
    assert mlflow.get_trace("tr-0123456789abcdef0123456789abcdef", silent=True) is None
    assert caplog.text == ""
    with pytest.raises(mlflow.exceptions.MlflowException) as err:  # MlflowClient.get_trace raises, as MLflow's
        mlflow.MlflowClient().get_trace("tr-0123456789abcdef0123456789abcdef")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    answer("q")
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    found = mlflow.get_trace(trace_id)
    assert found is not None and found.info.trace_id == trace_id


def test_update_current_trace_outside_a_trace_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    current_trace._last_outside_warning[0] = 0.0  # the warning is logged at most once a minute
    with caplog.at_level(logging.WARNING, logger="autolog"):
        mlflow.update_current_trace(tags={"a": "b"})  # MLflow: a logged warning, no exception, no warnings.warn
    assert "outside of a trace" in caplog.text


def test_trace_tags_accept_mlflows_old_request_id_keyword() -> None:
    answer("q")
    trace_id = mlflow.get_last_active_trace_id()
    with pytest.warns(FutureWarning, match="request_id"):
        mlflow.set_trace_tag(request_id=trace_id, key="k", value="v")
    got = mlflow.get_trace(trace_id)
    assert got is not None and got.info.tags["k"] == "v"
    with pytest.warns(FutureWarning, match="request_id"):
        mlflow.delete_trace_tag(request_id=trace_id, key="k")
    got = mlflow.get_trace(trace_id)
    assert got is not None and "k" not in got.info.tags
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="not both"):
        mlflow.set_trace_tag(trace_id, "k", "v", request_id=trace_id)


def test_exceptions_module_and_error_codes() -> None:
    from autolog.exceptions import MlflowException, MlflowTraceDataNotFound

    assert MlflowException is autolog.AutologError
    with pytest.raises(MlflowException) as err:
        mlflow.get_logged_model("m-00000000000000000000000000000000")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST" and "m-000" in err.value.message
    assert isinstance(err.value, MlflowTraceDataNotFound)
    with pytest.raises(MlflowException) as bad:
        mlflow.search_traces(filter_string="name = ")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_get_active_trace_id() -> None:
    assert mlflow.get_active_trace_id() is None
    seen: list[str | None] = []

    @mlflow.trace
    def f() -> None:
        seen.append(mlflow.get_active_trace_id())

    f()
    assert seen == [mlflow.get_last_active_trace_id()] and seen[0] is not None


def test_create_external_model_sets_mlflows_is_external_tag() -> None:
    external = mlflow.create_external_model(name="ext", tags={"team": "a"})
    assert external.tags == {"team": "a", "mlflow.model.isExternal": "true"}
    assert mlflow.get_logged_model(external.model_id).tags["mlflow.model.isExternal"] == "true"
    pending = mlflow.initialize_logged_model(name="init")
    assert "mlflow.model.isExternal" not in pending.tags  # MLflow sets it only on external models
    active = mlflow.set_active_model(name="by-name")
    assert mlflow.get_logged_model(active.model_id).tags["mlflow.model.isExternal"] == "true"


# -- tracking URI ------------------------------------------------------------------------------------------------

# http(s):// (an MLflow tracking server) and postgresql:// are destinations now: tests/export, tests/store.
UNSUPPORTED = ["databricks", "databricks://profile", "databricks-uc", "mysql://h/db", "file:///tmp/mlruns",
               "file:mlruns"]
# Runs in a fresh process: configure() (which every test's fixture calls) wins over the environment.
_URI_PROBE = """
import json, os, sys
import autolog
out = {"resolved": autolog.get_tracking_uri()}
for var in ("MLFLOW_TRACKING_URI", "AUTOLOG_TRACKING_URI"):
    os.environ.pop("AUTOLOG_TRACKING_URI", None)
    for uri in json.loads(sys.argv[1]):
        os.environ[var] = uri
        try:
            autolog.Client()
            out[var + " " + uri] = "opened"
        except autolog.InvalidArgumentError as exc:
            out[var + " " + uri] = str(exc)
    os.environ.pop(var)
print(json.dumps(out))
"""


def _probe(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    repo = Path(__file__).resolve().parents[2]
    full = {k: v for k, v in os.environ.items() if k not in ("AUTOLOG_TRACKING_URI", "MLFLOW_TRACKING_URI")}
    full.update(env, PYTHONPATH=str(repo))
    done = subprocess.run([sys.executable, "-c", _URI_PROBE, json.dumps(UNSUPPORTED)], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, str] = json.loads(done.stdout)
    return result


def test_mlflow_tracking_uri_is_honoured_and_unsupported_uris_are_clear_errors(tmp_path: Path) -> None:
    mlflow_db = f"sqlite:///{tmp_path / 'from-mlflow.db'}"
    out = _probe(tmp_path, {"MLFLOW_TRACKING_URI": mlflow_db})
    assert out["resolved"] == mlflow_db
    for var in ("MLFLOW_TRACKING_URI", "AUTOLOG_TRACKING_URI"):
        for uri in UNSUPPORTED:
            message = out[f"{var} {uri}"]
            assert repr(uri) in message and f"${var}" in message and "not supported" in message, message
    assert sorted(os.listdir(tmp_path)) == []  # never a file named after a URI (nor the store: nothing traced)
    plain = tmp_path / "plain.db"
    assert _probe(tmp_path, {"MLFLOW_TRACKING_URI": mlflow_db, "AUTOLOG_TRACKING_URI": str(plain)})["resolved"] == (
        str(plain))  # AUTOLOG_TRACKING_URI wins; a plain path as today
    assert _probe(tmp_path, {})["resolved"] == "sqlite:///autolog.db"


@pytest.mark.parametrize("uri", UNSUPPORTED)
def test_unsupported_uri_arguments_are_a_clear_error(uri: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(mlflow.InvalidArgumentError, match="the tracking_uri argument") as err:
        mlflow.Client(uri)
    assert repr(uri) in str(err.value)
    with pytest.raises(mlflow.InvalidArgumentError, match="not supported"):
        mlflow.set_tracking_uri(uri)
    assert os.listdir(tmp_path) == []


# -- MlflowClient ------------------------------------------------------------------------------------------------

def test_mlflow_client_is_importable_as_in_mlflow() -> None:
    from autolog.client import MlflowClient

    assert MlflowClient is mlflow.MlflowClient is mlflow.client.MlflowClient
    assert MlflowClient().tracking_uri == mlflow.get_tracking_uri()


def test_mlflow_client_traces_with_explicit_ids() -> None:
    client = mlflow.MlflowClient()
    root = client.start_trace("root", inputs={"q": 1}, tags={"env": "test"}, run_id="run-1")
    child = client.start_span("child", trace_id=root.trace_id, parent_id=root.span_id, span_type="TOOL",
                              inputs={"x": 2})
    assert mlflow.get_active_trace_id() is None  # never made current
    client.end_span(root.trace_id, child.span_id, outputs={"y": 3})
    client.end_trace(root.trace_id, outputs={"a": 1})
    assert mlflow.flush()
    trace = client.get_trace(root.trace_id)
    assert [s.name for s in trace.data.spans] == ["root", "child"]
    assert trace.info.tags["env"] == "test" and trace.info.trace_metadata["mlflow.sourceRun"] == "run-1"
    client.set_trace_tag(root.trace_id, "k", "v")
    assert client.get_trace(root.trace_id).info.tags["k"] == "v"
    client.delete_trace_tag(root.trace_id, "k")
    assert "k" not in client.get_trace(root.trace_id).info.tags
    page = client.search_traces(locations=["0"], max_results=1)
    assert [t.info.trace_id for t in page] == [root.trace_id] and page.token is None
    assert client.search_traces(run_id="run-1", include_spans=False)[0].data.spans == []
    with pytest.raises(mlflow.InvalidArgumentError, match="links"):
        client.start_trace("x", links=["not supported"])
    assert client.delete_traces("0", trace_ids=[root.trace_id]) == 1
    assert mlflow.search_traces(return_type="list") == []


def test_mlflow_client_assessments() -> None:
    answer("q")
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    client = mlflow.MlflowClient()
    logged = client.log_assessment(trace_id, mlflow.Feedback(name="helpful", value=True))
    assert client.get_assessment(trace_id, logged.assessment_id).value is True
    client.update_assessment(trace_id, logged.assessment_id, mlflow.Feedback(name="helpful", value=False))
    assert client.get_assessment(trace_id, logged.assessment_id).value is False
    client.delete_assessment(trace_id, logged.assessment_id)
    with pytest.raises(mlflow.ResourceDoesNotExist):
        client.get_assessment(trace_id, logged.assessment_id)


def test_mlflow_client_logged_models_and_experiments() -> None:
    client = mlflow.MlflowClient()
    exp_id = client.create_experiment("client-exp")
    assert isinstance(exp_id, str) and client.get_experiment(exp_id).name == "client-exp"
    experiment = client.get_experiment_by_name("client-exp")
    assert experiment is not None and experiment.experiment_id == exp_id
    assert client.get_experiment_by_name("nope") is None
    with pytest.raises(mlflow.exceptions.MlflowException) as err:
        client.create_experiment("client-exp")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"

    model = client.create_logged_model(exp_id, name="agent", params={"t": "0.1"}, tags={"a": "1"})
    assert (model.status, model.experiment_id, model.tags) == ("PENDING", exp_id, {"a": "1"})
    client.log_model_params(model.model_id, {"k": "5"})
    client.set_logged_model_tags(model.model_id, {"b": 2})
    client.delete_logged_model_tag(model.model_id, "a")
    final = client.finalize_logged_model(model.model_id, "READY")
    assert (final.status, final.params, final.tags) == ("READY", {"t": "0.1", "k": "5"}, {"b": "2"})
    assert client.get_logged_model(model.model_id) == final
    for i in range(2):
        client.create_logged_model(exp_id, name=f"more-{i}")
    first = client.search_logged_models([exp_id], max_results=2,
                                        order_by=[{"field_name": "name", "ascending": True}])
    assert [m.name for m in first] == ["agent", "more-0"] and first.token is not None
    rest = client.search_logged_models([exp_id], max_results=2, page_token=first.token,
                                       order_by=[{"field_name": "name", "ascending": True}])
    assert [m.name for m in rest] == ["more-1"] and rest.token is None
    assert len(client.search_logged_models([exp_id], filter_string="name = 'agent'")) == 1


def test_mlflow_client_on_another_store(tmp_path: Path) -> None:
    other = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'other.db'}")
    root = other.start_trace("elsewhere")
    other.end_trace(root.trace_id)
    assert other.tracking_uri == f"sqlite:///{tmp_path / 'other.db'}"
    assert [t.info.trace_id for t in other.search_traces()] == [root.trace_id]
    assert mlflow.flush()
    assert mlflow.search_traces(return_type="list") == []  # not in the default store
