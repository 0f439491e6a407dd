"""The Versions and evaluation-runs endpoints, checked against compare_versions and compare_evaluations."""

from __future__ import annotations

import math
from typing import Any

from fastapi.testclient import TestClient

import autolog
from autolog.genai import compare_evaluations, compare_versions
from tests.server.conftest import Recorded


def test_versions_are_listed_newest_first(api: TestClient, recorded: Recorded) -> None:
    autolog.log_model_params({"prompt": "be brief"}, model_id=recorded.v1)
    versions = api.get("/api/versions", params={"experiment_id": recorded.experiment_id}).json()
    assert [v["model_id"] for v in versions] == [recorded.v2, recorded.v1]
    v1 = versions[1]
    stored = autolog.get_logged_model(recorded.v1)
    traces = autolog.search_traces(model_id=recorded.v1, return_type="list")
    assert v1 == {"model_id": recorded.v1, "name": "bot-v1", "experiment_id": recorded.experiment_id,
                  "creation_timestamp": stored.creation_timestamp, "params": {"prompt": "be brief"},
                  "tags": stored.tags, "metrics": {}, "traces": len(traces),
                  "last_trace_time": max(t.info.request_time for t in traces)}
    assert api.get(f"/api/versions/{recorded.v1}").json() == v1
    assert api.get("/api/versions", params={"experiment_id": "0"}).json() == []
    missing = api.get("/api/versions/m-missing")
    assert missing.status_code == 404 and "m-missing" in missing.json()["message"]


def test_compare_is_compare_versions_with_distributions_and_intervals(api: TestClient, recorded: Recorded) -> None:
    ids = [recorded.v1, recorded.v2]
    body = api.get("/api/versions/compare", params={"model_id": ids}).json()
    assert body["rows"] == compare_versions(ids, return_type="list")
    for model_id in ids:
        traces = autolog.search_traces(model_id=model_id, return_type="list")
        samples = body["distributions"][model_id]
        assert sorted(samples["latency_ms"]) == sorted(t.info.execution_time_ms for t in traces)
        assert len(samples["cost"]) == len(traces) and all(c > 0 for c in samples["cost"])
    helpful = body["feedback"][recorded.v1]["helpful"]
    # Both feedbacks of the first trace count (neither overrides the other), as compare_versions counts them.
    assert (helpful["n"], helpful["mean"]) == (2, 0.5) and helpful["low"] < 0.5 < helpful["high"]
    assert body["feedback"][recorded.v2]["stars"]["mean"] == 4.0
    split = api.get("/api/versions/compare", params={"model_id": ids, "by": "tags.env", "filter": "status = 'OK'"})
    assert split.json()["rows"] == compare_versions(ids, by="tags.env", filter_string="status = 'OK'",
                                                    return_type="list")
    assert api.get("/api/versions/compare").status_code == 400
    assert "model_id" in api.get("/api/versions/compare").json()["message"]
    bad_by = api.get("/api/versions/compare", params={"model_id": ids, "by": "env"})
    assert bad_by.status_code == 400 and "tags.<key>" in bad_by.json()["message"]
    assert api.get("/api/versions/compare", params={"model_id": ["m-missing"]}).status_code == 404


def test_feedback_intervals_are_the_mean_plus_minus_1_96_standard_errors(api: TestClient, recorded: Recorded) -> None:
    values = [1, 2, 5]
    v1_traces = recorded.trace_ids[0:6:2]  # the even questions went to v1
    for trace_id, value in zip(v1_traces, values, strict=True):
        autolog.log_feedback(trace_id=trace_id, name="score", value=value)
    body = api.get("/api/versions/compare", params={"model_id": [recorded.v1]}).json()
    got = body["feedback"][recorded.v1]["score"]
    n, mean = len(values), sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    assert got["n"] == n and math.isclose(got["mean"], mean)
    assert math.isclose(got["low"], mean - 1.959963984540054 * sd / math.sqrt(n))
    assert math.isclose(got["high"], mean + 1.959963984540054 * sd / math.sqrt(n))


def test_evaluation_runs_are_listed(api: TestClient, evaluated: Recorded) -> None:
    runs = api.get("/api/runs").json()
    assert [r["run_id"] for r in runs] == [evaluated.runs["v2"], evaluated.runs["v1"]]
    first = runs[1]
    stored = autolog.get_run(evaluated.runs["v1"])
    assert first == {"run_id": stored.info.run_id, "run_name": stored.info.run_name, "model_id": evaluated.v1,
                     "model_name": "bot-v1", "status": "FINISHED", "start_time": stored.info.start_time,
                     "end_time": stored.info.end_time, "metrics": stored.data.metrics,
                     "dataset": {"dataset_id": stored.info.dataset_id, "name": stored.info.dataset_name,
                                 "version": stored.info.dataset_version, "digest": stored.info.dataset_digest}}
    assert first["metrics"]["exact/mean"] == 1.0
    with autolog.start_run(run_name="not an evaluation"):
        pass
    assert len(api.get("/api/runs").json()) == 2
    assert api.get("/api/runs", params={"experiment_id": "0"}).json() == []


def _summary(result: Any) -> list[dict[str, Any]]:
    def number(x: float | None) -> float | None:
        return None if x is None or math.isnan(x) else x

    return [{"metric": c.name, "baseline": number(c.baseline_mean), "candidate": number(c.candidate_mean),
             "difference": number(c.difference), "ci_low": number(c.ci_low), "ci_high": number(c.ci_high),
             "p_value": number(c.p_value), "test": c.test, "pairs": c.n_pairs, "verdict": c.verdict}
            for c in result.comparisons]


def test_runs_compare_is_compare_evaluations_row_by_row(api: TestClient, evaluated: Recorded) -> None:
    baseline, candidate = evaluated.runs["v1"], evaluated.runs["v2"]
    body = api.get("/api/runs/compare", params={"candidate": candidate, "baseline": baseline}).json()
    expected = compare_evaluations(candidate, baseline)
    # The bootstrap interval is random: compare everything else exactly, and the interval's ends loosely.
    for got, want in zip(body["summary"], _summary(expected), strict=True):
        assert {k: v for k, v in got.items() if not k.startswith("ci_")} == \
            {k: v for k, v in want.items() if not k.startswith("ci_")}
    exact = next(s for s in body["summary"] if s["metric"] == "exact")
    assert (exact["baseline"], exact["candidate"], exact["pairs"]) == (1.0, 0.75, 8)
    rows = body["rows"]
    assert len(rows) == expected.n_pairs == 8
    # rows come in the order the run made its traces (evaluate predicts on several threads): compare as a set
    assert sorted(r["inputs"]["question"] for r in rows) == [f"q{i}" for i in range(8)]
    by_question = {r["inputs"]["question"]: r for r in rows}
    wrong = by_question["q2"]
    assert wrong["regressed"] == ["exact", "shouts"]
    assert wrong["candidate"]["outputs"] == "nope" and wrong["baseline"]["outputs"] == "Q2"
    assert wrong["candidate"]["scores"]["exact"]["value"] is False
    assert wrong["baseline"]["scores"]["exact"]["value"] is True
    assert by_question["q0"]["regressed"] == []
    for row in rows:  # each side is its run's trace of those inputs
        for side, run_id in (("baseline", baseline), ("candidate", candidate)):
            trace = autolog.get_trace(row[side]["trace_id"])
            assert trace.data.spans[0].inputs == row["inputs"]
            assert any(a.run_id == run_id for a in trace.info.assessments)
    unknown = api.get("/api/runs/compare", params={"candidate": "run-missing", "baseline": baseline})
    assert unknown.status_code == 404 and "run-missing" in unknown.json()["message"]
    assert api.get("/api/runs/compare", params={"candidate": candidate}).status_code == 400


def test_unpaired_rows_have_one_side(api: TestClient, evaluated: Recorded) -> None:
    extra = [{"inputs": {"question": f"q{i}"}, "expectations": {"expected_response": f"Q{i}"}} for i in range(6, 10)]
    result = autolog.genai.evaluate(extra, [autolog.genai.scorers.ExactMatch(name="exact")],
                                    predict_fn=lambda question: question.upper())
    assert autolog.flush()
    body = api.get("/api/runs/compare", params={"candidate": result.run_id, "baseline": evaluated.runs["v1"]}).json()
    rows = body["rows"]
    both = [r for r in rows if r["baseline"] and r["candidate"]]
    assert [r["inputs"]["question"] for r in both] == ["q6", "q7"]
    assert [r["inputs"]["question"] for r in rows if r["candidate"] is None] == [f"q{i}" for i in range(6)]
    assert [r["inputs"]["question"] for r in rows if r["baseline"] is None] == ["q8", "q9"]
    assert all(r["regressed"] == [] for r in rows)
