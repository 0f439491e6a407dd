"""The store's methods on both backends (``backend_uri``: SQLite, PostgreSQL): the same calls, the same answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import autolog
from autolog._store.comparison import unpriced_models, version_feedback, version_list, version_totals
from autolog._store.records import RECORD_FIELDS
from autolog._store.span_views import read_span, span_skeletons
from autolog._store.stores import open_store
from autolog.entities.assessment import Assessment
from autolog.entities.dataset import dataset_record_dicts
from autolog.entities.logged_model import LoggedModel, Metric
from autolog.entities.run import RunInfo


@pytest.fixture
def db(backend_uri: str) -> Iterator[Any]:
    store = open_store(backend_uri)
    yield store
    store.close()


def _record(i: int, model_id: str | None = None, **fields: Any) -> tuple[Any, ...]:
    values: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    usage = {"input_tokens": 10, "output_tokens": i, "total_tokens": 10 + i}
    llm = {"inputs": {"q": i}, "attributes": {"mlflow.llm.model": "gpt-x", "mlflow.chat.tokenUsage": usage},
           "events": [{"name": "exception", "timestamp_ns": 5, "attributes": {}}], "status_message": "boom"}
    values.update(trace_id=f"tr-{i:04d}", experiment_id="0", name=f"t{i}", request_time=1000 + i,
                  execution_duration=10 * i, state="ERROR" if i == 2 else "OK", model_id=model_id,
                  token_usage=json.dumps(usage), input_tokens=10, output_tokens=i, total_tokens=10 + i,
                  cost=None if i == 3 else 0.5 * i, tags=(("env", "prod" if i % 2 else "dev"),),
                  metadata=(("tenant", f"c{i}"),),
                  spans=(("s0", None, "root", "CHAIN", "OK", 1, 9, json.dumps({"inputs": {"q": i}, "outputs": "a"})),
                         ("s1", "s0", "llm", "CHAT_MODEL", "ERROR", 2, 8, json.dumps(llm))))
    values.update(fields)
    return tuple(values[f] for f in RECORD_FIELDS)


def test_traces_tags_assessments_and_deletes(db: Any) -> None:
    assert db.write_records([_record(i) for i in range(1, 5)]) == 4
    trace = db.get_trace("tr-0001")
    assert [s.name for s in trace.data.spans] == ["root", "llm"] and trace.info.tags["env"] == "prod"
    db.set_trace_tag("tr-0001", "mlflow.traceName", "renamed")  # a tag that is a column
    db.set_trace_tag("tr-0001", "x", "1")
    db.set_trace_tag("tr-0001", "x", "2")
    assert db.get_trace("tr-0001").info.tags["x"] == "2"
    db.delete_trace_tag("tr-0001", "x")
    with pytest.raises(autolog.ResourceDoesNotExist):
        db.delete_trace_tag("tr-0001", "x")
    db.log_assessment(Assessment("correct", True, trace_id="tr-0001"))
    db.log_assessment(Assessment("score", 0.75, trace_id="tr-0002"))
    db.log_assessment(Assessment("label", "good", trace_id="tr-0003"))
    assert db.search_trace_ids(None, "feedback.correct = 'true'", None, 10) == ["tr-0001"]
    assert db.search_trace_ids(None, "feedback.score > 0.5", None, 10) == ["tr-0002"]
    assert db.search_trace_ids(None, "feedback.label = 'good'", None, 10) == ["tr-0003"]
    assert db.search_trace_ids(None, "name = 'renamed' AND metadata.tenant = 'c1'", None, 10) == ["tr-0001"]
    assert db.search_trace_ids(None, "span.status = 'ERROR' AND span.name = 'llm'", ["cost DESC"], 10) == [
        "tr-0004", "tr-0002", "tr-0001", "tr-0003"]  # no cost last, as MLflow orders
    assert db.search_trace_ids(None, "trace.text ILIKE '%BOOM%'", ["timestamp_ms ASC"], 2) == ["tr-0001", "tr-0002"]
    assert db.search_trace_ids(None, "span.content RLIKE '\"q\": [34]'", None, 10) == ["tr-0004", "tr-0003"]
    assert db.delete_traces(["tr-0001", "tr-9999"]) == 1
    assert db.count_traces() == 3 and db.count_traces(None, "feedback.correct IS NOT NULL") == 0


def test_experiments_in_number_order(db: Any) -> None:
    for name in [f"e{i}" for i in range(1, 12)]:
        db.get_or_create_experiment(name)
    assert db.get_or_create_experiment("e3").experiment_id == "3"
    assert [e.experiment_id for e in db.list_experiments()] == [str(i) for i in range(12)]
    assert db.get_experiment_by_name("nope") is None


def test_logged_models_and_runs(db: Any) -> None:
    for i, mid in enumerate(["m-a", "m-b", "m-c"]):
        db.create_logged_model(LoggedModel(mid, "app", "0", 5, 5, params={"temp": str(i)}, tags={"t": "x"},
                                           metrics=[Metric("acc", 0.5 + i / 10, 5, 0, mid)]))
    assert db.find_newest_logged_model("0", "app").model_id == "m-c"  # one millisecond: creation order breaks it
    found = db.search_logged_models(None, "params.temp != '1'", ["metrics.acc DESC"], 10)
    assert [m.model_id for m in found] == ["m-c", "m-a"]
    db.set_logged_model_tags("m-a", {"t": "y"})
    assert db.get_logged_model("m-a").tags == {"t": "y"}
    db.create_run(RunInfo("r1", "0", "eval", "RUNNING", 10, model_id="m-a"), tags={"k": "v"})
    db.log_run_values("r1", params={"p": "1"}, metrics={"score": 0.9})
    assert [r.info.run_id for r in db.search_runs(None, "metrics.score > 0.5 AND tags.k = 'v'", None, 10)] == ["r1"]
    assert db.get_run("r1").data.metrics["score"] == 0.9
    listed = version_list(db.connections, "0")
    assert [row[0] for row in listed] == ["m-c", "m-b", "m-a"]


def test_datasets(db: Any) -> None:
    ds = db.create_dataset("golden", ["0", "7"], {"team": "Search"})
    db.create_dataset("other", ["1"], {"team": "ops"})
    ds = db.merge_dataset_records(ds.dataset_id, dataset_record_dicts([
        {"inputs": {"q": "a"}, "expectations": {"answer": "1"}}, {"inputs": {"q": "b"}}]))
    assert ds.version == 1 and len(db.load_dataset_records(ds.dataset_id, 1)) == 2
    assert [d.name for d in db.search_datasets(["7"])] == ["golden"]
    assert [d.name for d in db.search_datasets(None, "tags.team LIKE 'S%'")] == ["golden"]
    assert [d.name for d in db.search_datasets(None, "tags.team ILIKE 's%'")] == ["golden"]
    assert sorted(d.name for d in db.search_datasets(None, "name != 'x'")) == ["golden", "other"]


def test_labeling_sessions_and_resubmitted_answers(db: Any) -> None:
    db.write_records([_record(1), _record(2)])
    db.put_label_schema("0", {"name": "q", "type": "feedback"})
    session = db.create_labeling_session("0", "s", [{"name": "q"}], ["ann"], ["tr-0001", "tr-0002"])
    sid = session["labeling_session_id"] if "labeling_session_id" in session else session["id"]
    assert [item[0] for item in db.labeling_items(sid)] == ["tr-0001", "tr-0002"]
    for value in ("yes", "no"):
        answer = Assessment("q", value, trace_id="tr-0001", metadata={"labeling_session_id": sid})
        db.submit_labeling_item(sid, "tr-0001", "ann", "COMPLETED", [answer])
    assert db.search_trace_ids(None, "feedback.q = 'no'", None, 10) == ["tr-0001"]
    assert db.search_trace_ids(None, "feedback.q = 'yes'", None, 10) == []  # overridden, not current
    assert db.labeling_progress(sid) == {"total": 2, "completed": 1, "skipped": 0, "pending": 1}


def test_span_views_and_version_comparison(db: Any) -> None:
    db.write_records([_record(i, model_id="m-1" if i < 3 else "m-2") for i in range(1, 5)])
    skeleton = span_skeletons(db.connections, "tr-0001")
    assert [(s["name"], s["n_events"], s["has_exception"], s["status_message"]) for s in skeleton] == [
        ("root", 0, False, ""), ("llm", 1, True, "boom")]
    assert skeleton[1]["token_usage"] == {"input_tokens": 10, "output_tokens": 1, "total_tokens": 11}
    span = read_span(db.connections, "tr-0001", "s1")
    assert span is not None and span.attributes["mlflow.llm.model"] == "gpt-x"
    totals = {t.model_id: t for t in version_totals(db.connections, ["m-1", "m-2"], None, None, None, None, None)}
    assert totals["m-1"].traces == 2 and totals["m-1"].errors == 1 and totals["m-1"].latency_counts == {10: 1, 20: 1}
    assert totals["m-2"].token_sums["total_tokens"] == 27 and totals["m-2"].priced == 1
    assert totals["m-2"].used_tokens_unpriced == 1 and isinstance(totals["m-2"].cost_sum, float)
    assert unpriced_models(db.connections, "m-2") == ["gpt-x"]
    db.log_assessment(Assessment("good", True, trace_id="tr-0001"))
    db.log_assessment(Assessment("good", False, trace_id="tr-0002"))
    feedback = version_feedback(db.connections, ["m-1"], None, None, None, None, None)
    assert feedback == [("m-1", None, "good", 0.5, 2, 0.5)]
