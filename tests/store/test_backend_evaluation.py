"""Evaluation and its comparison on both backends: the same data, the same verdicts."""

from __future__ import annotations

import autolog
from autolog.genai import compare_evaluations, compare_versions, evaluate, scorer
from autolog.genai.scorers import ExactMatch

QUESTIONS = [f"question {i}" for i in range(8)]


@scorer
def short(outputs: str) -> bool:
    return len(outputs) <= 10


def test_evaluate_and_compare_on_each_backend(backend_uri: str) -> None:
    autolog.configure(backend_uri)
    autolog.set_experiment("evaluations")
    data = [{"inputs": {"question": q}, "expectations": {"expected_response": q.upper()}} for q in QUESTIONS]
    runs = {}
    for name, app in [("v1", lambda question: "I do not know the answer to that."),
                      ("v2", lambda question: question.upper())]:
        model = autolog.create_external_model(name=name)
        runs[name] = evaluate(data, scorers=[ExactMatch(), short], predict_fn=app, model_id=model.model_id,
                              progress=False).run_id
    assert autolog.flush()
    result = compare_evaluations(candidate_run_id=runs["v2"], baseline_run_id=runs["v1"])
    verdicts = {c.name: (c.baseline_mean, c.candidate_mean, c.n_pairs, c.verdict) for c in result.comparisons}
    assert verdicts["exact_match"] == (0.0, 1.0, 8, "improved")
    assert verdicts["short"] == (0.0, 1.0, 8, "improved")  # "QUESTION 0" is 10 characters; v1's answer is long
    rows = compare_versions([m.model_id for m in autolog.search_logged_models(output_format="list")],
                            return_type="list")
    assert sorted((r["name"], r["traces"], r["exact_match/mean"]) for r in rows) == [("v1", 8, 0.0), ("v2", 8, 1.0)]
