"""``compare_versions`` and ``compare_evaluations``, checked against independent computations over ``search_traces``."""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

import numpy as np
import pytest

import autolog
import autolog as mlflow
from autolog._client import get_default_client
from autolog.genai import compare_evaluations, compare_versions
from autolog.genai.comparison import RegressionError
from autolog.genai.scorers import ExactMatch, ResponseLength

T0_NS = 1_700_000_000_000_000_000


def _record(model_id: str, i: int, duration_ms: int, error: bool, env: str, model: str,
            usage: tuple[int, int] | None) -> str:
    """One trace of a version with an exact latency, an LLM child span with usage, a tag and maybe an error."""
    client = get_default_client()
    start = T0_NS + i * 10_000_000_000
    with autolog.set_active_model(model_id=model_id):
        root = client.start_trace("agent", inputs={"question": f"q{i}"}, tags={"environment": env},
                                  start_time_ns=start)
    attributes: dict[str, Any] = {"mlflow.llm.model": model}
    if usage is not None:
        attributes["mlflow.chat.tokenUsage"] = {"input_tokens": usage[0], "output_tokens": usage[1],
                                                "total_tokens": sum(usage)}
    llm = client.start_span("chat", root.trace_id, root.span_id, span_type="CHAT_MODEL", start_time_ns=start)
    client.end_span(root.trace_id, llm.span_id, outputs="hi", attributes=attributes, end_time_ns=start + 1000)
    client.end_trace(root.trace_id, outputs="answer", status="ERROR" if error else "OK",
                     end_time_ns=start + duration_ms * 1_000_000)
    return root.trace_id


@pytest.fixture
def two_versions() -> tuple[str, str]:
    rng = random.Random(7)
    v1 = mlflow.create_external_model(name="bot-v1").model_id
    v2 = mlflow.create_external_model(name="bot-v2").model_id
    for i in range(60):
        tid = _record(v1, i, rng.randint(100, 900), i % 10 == 0, "prod" if i % 3 else "staging", "gpt-4o-mini",
                      (rng.randint(50, 300), rng.randint(10, 80)))
        if i % 2 == 0:
            mlflow.log_feedback(trace_id=tid, name="helpful", value=rng.random() < 0.6)
        if i % 4 == 0:
            mlflow.log_feedback(trace_id=tid, name="score", value=rng.randint(1, 5))
    for i in range(60, 100):
        model = "my-private-model" if i % 5 == 0 else "gpt-4.1"
        tid = _record(v2, i, rng.randint(50, 400), i % 20 == 0, "prod", model,
                      (rng.randint(50, 300), rng.randint(10, 80)) if i % 7 else None)
        mlflow.log_feedback(trace_id=tid, name="helpful", value="yes" if rng.random() < 0.9 else "no")
    mlflow.log_feedback(trace_id=tid, name="helpful", value=True, error=None, rationale="a second opinion")
    return v1, v2


def _expected(model_id: str, **search: Any) -> dict[str, Any]:
    """The comparison row computed independently, from the traces search_traces returns."""
    assert mlflow.flush()
    traces = mlflow.search_traces(model_id=model_id, return_type="list", max_results=10_000, **search)
    latencies = [t.info.execution_time_ms for t in traces if t.info.execution_time_ms is not None]
    row: dict[str, Any] = {"traces": len(traces), "errors": sum(t.info.state == "ERROR" for t in traces)}
    row["error_rate"] = row["errors"] / len(traces) if traces else None
    for q in (50, 95, 99):
        row[f"latency_p{q}_ms"] = float(np.percentile(latencies, q)) if latencies else None
    row["latency_mean_ms"] = float(np.mean(latencies)) if latencies else None
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        values = [t.info.token_usage[key] for t in traces if t.info.token_usage]
        row[f"{key}_mean"] = float(np.mean(values)) if values else None
        row[f"{key}_sum"] = int(sum(values))
    costs = [json.loads(t.info.trace_metadata["mlflow.trace.cost"])["total_cost"] for t in traces
             if "mlflow.trace.cost" in t.info.trace_metadata]
    row.update({"cost_mean": float(np.mean(costs)) if costs else None, "cost_total": float(sum(costs)),
                "priced_traces": len(costs)})
    feedback: dict[str, list[float]] = {}
    for t in traces:
        for a in t.info.assessments:
            if a.kind == "feedback" and a.valid and a.error is None:
                v = a.value
                number = (1.0 if v in (True, "yes") else 0.0 if v in (False, "no") else float(v))
                feedback.setdefault(a.name, []).append(number)
    for name, values in feedback.items():
        row[f"{name}/mean"], row[f"{name}/n"] = float(np.mean(values)), len(values)
    return row


def _missing(value: Any) -> bool:
    """No value: None, or the NaN pandas puts in a float column for it."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _close(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        got = actual[key]
        if value is None:
            assert _missing(got), (key, got)
        elif isinstance(value, float):
            assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-12), (key, got, value)
        else:
            assert got == value, (key, got, value)


def test_compare_versions_matches_an_independent_computation(two_versions: tuple[str, str]) -> None:
    v1, v2 = two_versions
    df = compare_versions([v1, v2])
    assert df["model_id"].tolist() == [v1, v2] and df["name"].tolist() == ["bot-v1", "bot-v2"]
    rows = df.to_dict(orient="records")
    for row, model_id in zip(rows, (v1, v2), strict=True):
        expected = _expected(model_id)
        _close(row, expected)
    assert rows[0]["traces"] == 60 and rows[0]["errors"] == 6 and rows[1]["traces"] == 40
    assert rows[0]["priced_traces"] == 60 and rows[0]["unpriced_models"] == []
    assert rows[1]["unpriced_models"] == ["my-private-model"]
    assert 0 < rows[1]["priced_traces"] < 40
    # v1 has no "score" feedback in v2: the column is there, empty
    assert rows[0]["score/n"] == 15 and rows[1]["score/n"] == 0 and _missing(rows[1]["score/mean"])
    assert rows[1]["helpful/n"] == 41  # the second opinion on the last trace counts too


def test_filters_time_windows_and_splits(two_versions: tuple[str, str]) -> None:
    v1, v2 = two_versions
    only_ok = compare_versions([v1], filter_string="status = 'OK'").to_dict(orient="records")[0]
    _close(only_ok, _expected(v1, filter_string="status = 'OK'"))
    assert only_ok["errors"] == 0 and only_ok["traces"] == 54

    since_ms = (T0_NS + 30 * 10_000_000_000) // 1_000_000
    window = compare_versions([v1, v2], since=since_ms, until=since_ms + 20 * 10_000).to_dict(orient="records")
    assert [r["traces"] for r in window] == [20, 0]
    assert _missing(window[1]["latency_p50_ms"]) and _missing(window[1]["error_rate"])

    split = compare_versions([v1, v2], by="tags.environment")
    assert split[["model_id", "tags.environment", "traces"]].values.tolist() == [
        [v1, "prod", 40], [v1, "staging", 20], [v2, "prod", 40]]
    staging = split.to_dict(orient="records")[1]
    _close(staging, _expected(v1, filter_string="tags.environment = 'staging'"))

    # A tag only some traces have: the rest is its own row (split value None), also correct.
    assert mlflow.flush()
    flagged = mlflow.search_traces(model_id=v1, filter_string="status = 'OK'", return_type="list", max_results=7)
    for t in flagged:
        mlflow.set_trace_tag(t.info.trace_id, "reviewed", "yes")
    partial = compare_versions([v1, v2], by="tags.reviewed", return_type="list")
    assert [(r["model_id"], r["tags.reviewed"], r["traces"]) for r in partial] == [
        (v1, "yes", 7), (v1, None, 53), (v2, None, 40)]  # per version: values in order, then the untagged
    _close(partial[0], _expected(v1, filter_string="tags.reviewed = 'yes'"))
    _close(partial[1], _expected(v1, filter_string="tags.reviewed IS NULL"))


def test_bad_arguments_are_refused_clearly(two_versions: tuple[str, str]) -> None:
    v1, _ = two_versions
    with pytest.raises(autolog.InvalidArgumentError, match=r"tags\.<key>"):
        compare_versions([v1], by="environment")
    with pytest.raises(autolog.InvalidArgumentError, match="list of LoggedModel ids"):
        compare_versions(v1)
    with pytest.raises(autolog.ResourceDoesNotExist, match="m-missing"):
        compare_versions([v1, "m-missing"])
    with pytest.raises(autolog.InvalidFilterError):
        compare_versions([v1], filter_string="status = ")


DATA = [{"inputs": {"question": f"q{i}"}, "expectations": {"expected_response": f"Q{i}"}} for i in range(40)]


def _app(wrong: set[int], delay: float = 0.0) -> Any:
    def app(question: str) -> str:
        if delay:
            time.sleep(delay)
        return "nope" if int(question[1:]) in wrong else question.upper()

    return app


exact, length = ExactMatch(name="exact"), ResponseLength(name="length")


def test_compare_evaluations_pairs_rows_and_tests_the_difference() -> None:
    dataset = mlflow.genai.datasets.create_dataset("questions")
    dataset.merge_records(DATA)
    baseline = mlflow.genai.evaluate(dataset, [exact, length], predict_fn=_app(set(range(0, 40, 3))))
    candidate = mlflow.genai.evaluate(dataset, [exact, length], predict_fn=_app({5}))
    result = compare_evaluations(candidate.run_id, baseline.run_id, lower_is_better=["length"])
    assert (result.n_pairs, result.unpaired_candidate, result.unpaired_baseline) == (40, 0, 0)
    exact_cmp = result["exact"]
    assert (exact_cmp.kind, exact_cmp.test, exact_cmp.n_pairs) == ("pass_fail", "mcnemar", 40)
    assert math.isclose(exact_cmp.baseline_mean, 26 / 40) and math.isclose(exact_cmp.candidate_mean, 39 / 40)
    assert exact_cmp.verdict == "improved" and exact_cmp.p_value is not None and exact_cmp.p_value < 0.05
    assert exact_cmp.ci_low <= exact_cmp.difference <= exact_cmp.ci_high
    # 14 rows fixed, 1 broken: the exact McNemar p of 1 against 14 discordant pairs
    assert math.isclose(exact_cmp.p_value, 2 * sum(math.comb(15, k) for k in range(2)) / 2**15)
    assert [c.name for c in result.comparisons] == ["exact", "length", "trace.latency_ms", "trace.total_tokens",
                                                    "trace.cost"]
    # "Q12" is shorter than "nope": with lower_is_better, shorter answers are an improvement
    assert (result["length"].test, result["length"].verdict) == ("wilcoxon", "improved")
    assert compare_evaluations(candidate.run_id, baseline.run_id)["length"].verdict == "regressed"
    assert result["trace.total_tokens"].verdict == "too few pairs"
    result.assert_no_regression()

    backwards = compare_evaluations(baseline.run_id, candidate.run_id, lower_is_better=["length"])
    assert backwards["exact"].verdict == "regressed"
    with pytest.raises(RegressionError, match="exact, length regressed") as raised:
        backwards.assert_no_regression()
    assert "mcnemar" in str(raised.value) and "40" in str(raised.value)
    backwards.assert_no_regression(scorers=["trace.latency_ms"])  # the latencies do not differ detectably
    with pytest.raises(KeyError, match="not compared: nothing"):
        backwards.assert_no_regression(scorers=["nothing"])
    text = result.table()
    assert text.splitlines()[0].split() == ["metric", "baseline", "candidate", "difference", "95%", "CI", "p",
                                            "test", "pairs", "verdict"]
    assert result.to_df()["verdict"].tolist()[0] == "improved"


def test_a_small_difference_on_few_rows_is_not_called_a_change() -> None:
    few = DATA[:5]
    a = mlflow.genai.evaluate(few, [exact], predict_fn=_app(set()))
    b = mlflow.genai.evaluate(few, [exact], predict_fn=_app({0, 1, 2, 3, 4}))
    assert compare_evaluations(b.run_id, a.run_id)["exact"].verdict == "too few pairs"
    c = mlflow.genai.evaluate(DATA[:20], [exact], predict_fn=_app({3}))
    d = mlflow.genai.evaluate(DATA[:20], [exact], predict_fn=_app({3, 7}))
    result = compare_evaluations(d.run_id, c.run_id)
    assert result["exact"].verdict == "no detectable difference" and result["exact"].p_value == 1.0


def test_rows_pair_by_inputs_and_a_human_override_counts() -> None:
    a = mlflow.genai.evaluate(DATA[:10], [exact], predict_fn=_app(set()))
    b = mlflow.genai.evaluate(list(reversed(DATA[:12])), [exact], predict_fn=_app({0}))
    result = compare_evaluations(b.run_id, a.run_id)
    assert (result.n_pairs, result.unpaired_candidate, result.unpaired_baseline) == (10, 2, 0)
    assert math.isclose(result["exact"].candidate_mean, 0.9)
    assert mlflow.flush()
    wrong = b.result_df[b.result_df["exact/value"] == False]["trace_id"].iloc[0]  # noqa: E712
    feedback = next(x for x in mlflow.get_trace(wrong).info.assessments if x.name == "exact")
    mlflow.override_feedback(trace_id=wrong, assessment_id=feedback.assessment_id, value=True)
    assert compare_evaluations(b.run_id, a.run_id)["exact"].candidate_mean == 1.0
    with pytest.raises(autolog.ResourceDoesNotExist, match="nope"):
        compare_evaluations("nope", a.run_id)


def test_slower_answers_are_a_latency_regression() -> None:
    from autolog.genai.scorers import Latency

    fast = mlflow.genai.evaluate(DATA[:8], [Latency()], predict_fn=_app(set()))
    slow = mlflow.genai.evaluate(DATA[:8], [Latency()], predict_fn=_app(set(), delay=0.02))
    result = compare_evaluations(slow.run_id, fast.run_id)
    assert result["latency"].kind == "numeric" and result["latency"].higher_is_better is False
    assert result["latency"].verdict == "regressed" and result["trace.latency_ms"].verdict == "regressed"
    assert result["latency"].difference > 0.015 and result["trace.latency_ms"].ci_low > 10
    with pytest.raises(RegressionError, match="latency regressed"):
        result.assert_no_regression()
