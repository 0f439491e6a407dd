"""MLflow 3's GenAI evaluation documentation examples, run with ``import autolog as mlflow``.

Each test follows one example of MLflow's docs (the page is named in its ``# Source:`` line) with
the same calls and argument names, and checks what the example promises: metrics, feedback stored
on the traces, the run. Where the doc calls OpenAI (the app or a judge), the real openai SDK talks to
an ``httpx.MockTransport`` in the test that answers deterministically: nothing leaves the machine.
Where autolog still differs from MLflow, the test is ``xfail(strict=True)`` and says how.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, Optional

import httpx
import openai
import pandas as pd
import pytest

import autolog as mlflow
from autolog.entities import AssessmentError, AssessmentSource, AssessmentSourceType, Feedback, SpanType, Trace
from autolog.genai import scorer
from autolog.genai.judges import make_judge, model, set_default_http_client
from autolog.genai.scorers import (
    Correctness,
    ExpectationsGuidelines,
    Guidelines,
    RelevanceToQuery,
    RetrievalGroundedness,
    Safety,
    Scorer,
)

# -- an OpenAI-compatible server inside the test -----------------------------------------------------------

def _completion(content: str) -> httpx.Response:
    return httpx.Response(200, json={
        "id": "chatcmpl-doc", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    })


class FakeJudge:
    """The judges' model: a verdict per prompt from ``rules`` (the first (pattern, verdict) whose pattern, a
    text or a tuple of texts, is all in the prompt), else ``default``; every prompt is kept."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.rules: list[tuple[str | tuple[str, ...], str]] = []
        self.default = "yes"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        prompt = "\n".join(m["content"] for m in body["messages"])
        self.prompts.append(prompt)
        result = next((v for pattern, v in self.rules
                       if all(p in prompt for p in ((pattern,) if isinstance(pattern, str) else pattern))),
                      self.default)
        return _completion(json.dumps({"rationale": f"judged {result}", "result": result}))

    def asked(self, text: str) -> list[str]:
        return [p for p in self.prompts if text in p]


def fake_app_client(answer: Callable[[list[dict[str, Any]]], str]) -> openai.OpenAI:
    """The application's OpenAI client: ``answer(messages)`` is the assistant's reply."""
    def handle(request: httpx.Request) -> httpx.Response:
        return _completion(answer(json.loads(request.content)["messages"]))

    return openai.OpenAI(api_key="sk-test", max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(handle)))  # noqa: E501


@pytest.fixture
def judge_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJudge]:
    fake = FakeJudge()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    for name in ("OPENAI_BASE_URL", "AUTOLOG_GENAI_JUDGE_MODEL", "MLFLOW_GENAI_JUDGE_DEFAULT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(model, "RETRY_BACKOFF_SECONDS", 0.0)
    http_client = httpx.Client(transport=httpx.MockTransport(fake))
    previous = set_default_http_client(http_client)
    yield fake
    set_default_http_client(previous)
    http_client.close()


@pytest.fixture
def openai_autolog() -> Iterator[None]:
    mlflow.openai.autolog()
    yield
    mlflow.openai.autolog(disable=True)


def feedback_on(trace_id: str) -> dict[str, Any]:
    """The valid feedback stored on a trace, by name."""
    return {a.name: a for a in mlflow.get_trace(trace_id).info.assessments if a.kind == "feedback" and a.valid}


def traces_of_run(run_id: str) -> pd.DataFrame:
    # MLflow: mlflow.search_traces(run_id=run_id); autolog has the filter only (see test_search_traces_by_run_id)
    return mlflow.search_traces(filter_string=f"run_id = '{run_id}'")


# -- evaluation quickstart ------------------------------------------------------------------------------

# Source: mlflow/mlflow docs/docs/genai/eval-monitor/quickstart.mdx
def test_quickstart_predict_fn_with_builtin_and_custom_scorers(judge_llm: FakeJudge) -> None:
    answers = {"What is the capital of France?": "Paris",
               "Who was the first person to build an airplane?": "Orville and Wilbur Wright built the first one",
               "Who wrote Romeo and Juliet?": "Charles Dickens"}
    client = fake_app_client(lambda messages: answers[messages[-1]["content"]])
    mlflow.set_experiment("GenAI Evaluation Quickstart")

    def my_agent(question: str) -> str:
        response = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "You are a helpful assistant. Answer questions concisely."},
                      {"role": "user", "content": question}],
        )
        return response.choices[0].message.content

    def qa_predict_fn(question: str) -> str:
        return my_agent(question)

    eval_dataset = [
        {"inputs": {"question": "What is the capital of France?"}, "expectations": {"expected_response": "Paris"}},
        {"inputs": {"question": "Who was the first person to build an airplane?"},
         "expectations": {"expected_response": "Wright Brothers"}},
        {"inputs": {"question": "Who wrote Romeo and Juliet?"},
         "expectations": {"expected_response": "William Shakespeare"}},
    ]

    @scorer
    def is_concise(outputs: str) -> bool:
        """Evaluate if the answer is concise (less than 5 words)"""
        return len(outputs.split()) <= 5

    scorers = [Correctness(), Guidelines(name="is_english", guidelines="The answer must be in English"), is_concise]
    judge_llm.rules = [(("Charles Dickens", "William Shakespeare"), "no")]  # the judge finds the third answer incorrect

    results = mlflow.genai.evaluate(data=eval_dataset, predict_fn=qa_predict_fn, scorers=scorers)

    assert results.metrics == pytest.approx({"correctness/mean": 2 / 3, "is_english/mean": 1.0,
                                             "is_concise/mean": 2 / 3})
    run = mlflow.get_run(results.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics == results.metrics
    assert run.info.experiment_id == mlflow.set_experiment("GenAI Evaluation Quickstart").experiment_id
    assert len(judge_llm.asked("The answer must be in English")) == 3
    df = results.result_df
    assert df["outputs"].tolist() == list(answers.values())
    assert df["correctness/value"].tolist() == ["yes", "yes", "no"]
    assert mlflow.flush()
    stored = feedback_on(df["trace_id"][2])
    assert stored["correctness"].value == "no" and stored["correctness"].rationale == "judged no"
    assert stored["correctness"].source == AssessmentSource("LLM_JUDGE", "openai:/gpt-4.1-mini")
    assert stored["is_concise"].value is True and stored["is_concise"].source.source_type == "CODE"
    expectations = [a for a in mlflow.get_trace(df["trace_id"][2]).info.assessments if a.kind == "expectation"]
    assert [(e.name, e.value) for e in expectations] == [("expected_response", "William Shakespeare")]


# -- code-based scorer examples -------------------------------------------------------------------------

@pytest.fixture
def sample_app(openai_autolog: None) -> Callable[..., str]:
    """The doc's general assistant, its LLM an OpenAI client on the fake server (autologged: CHAT_MODEL spans)."""
    def answer(messages: list[dict[str, Any]]) -> str:
        last = messages[-1]["content"]
        return {"What is 2+2?": "2+2 equals 4.", "Say hello.": "Hello there!"}.get(
            last, f"Here is some help with: {last}")

    client = fake_app_client(answer)
    model_name = "gpt-4o-mini"

    @mlflow.trace
    def sample_app(messages: list[dict[str, str]]) -> str:
        messages_for_llm = [{"role": "system", "content": "You are a helpful assistant."}, *messages]
        response = client.chat.completions.create(model=model_name, messages=messages_for_llm)
        return response.choices[0].message.content

    return sample_app


@pytest.fixture
def generated_traces(sample_app: Callable[..., str]) -> pd.DataFrame:
    # Source: mlflow/mlflow docs/docs/genai/eval-monitor/scorers/custom/code-examples.mdx ("Generate traces")
    eval_dataset = [
        {"inputs": {"messages": [{"role": "user", "content": "How much does a microwave cost?"}]}},
        {"inputs": {"messages": [{"role": "user", "content": "Can I return the microwave I bought 2 months ago?"}]}},
        {"inputs": {"messages": [
            {"role": "user", "content": "I'm having trouble with my account.  I can't log in."},
            {"role": "assistant", "content": "I'm sorry to hear that. Are you using our website or mobile app?"},
            {"role": "user", "content": "Website"}]}},
    ]

    @scorer
    def placeholder_metric() -> int:
        return 1

    eval_results = mlflow.genai.evaluate(data=eval_dataset, predict_fn=sample_app, scorers=[placeholder_metric])
    assert eval_results.metrics == {"placeholder_metric/mean": 1.0}
    assert mlflow.flush()
    generated = traces_of_run(eval_results.run_id)
    assert len(generated) == 3
    return generated


# Source: mlflow/mlflow docs/genai/eval-monitor/scorers/custom/code-examples.mdx ("Generate traces", run_id=)
def test_search_traces_by_run_id(sample_app: Callable[..., str]) -> None:
    @scorer
    def placeholder_metric() -> int:
        return 1

    eval_results = mlflow.genai.evaluate(data=[{"inputs": {"messages": [{"role": "user", "content": "Hi"}]}}],
                                         predict_fn=sample_app, scorers=[placeholder_metric])
    generated_traces = mlflow.search_traces(run_id=eval_results.run_id)
    assert len(generated_traces) == 1
    # added: the trace is the evaluation's, and the filter combines with run_id
    assert generated_traces["trace_id"].tolist() == [eval_results.result_df["trace_id"][0]]
    assert len(mlflow.search_traces(run_id=eval_results.run_id, filter_string="status = 'ERROR'")) == 0
    with pytest.raises(mlflow.InvalidArgumentError, match="run_id must be a run id"):
        mlflow.search_traces(run_id="x' OR 1=1 --")


# Source: mlflow/mlflow docs/genai/eval-monitor/scorers/custom/code-examples.mdx (Example 1: access data from the Trace)
def test_scorer_reads_the_llm_span_of_existing_traces(generated_traces: pd.DataFrame) -> None:
    @scorer
    def llm_response_time_good(trace: Trace) -> Feedback:
        llm_span = trace.search_spans(span_type=SpanType.CHAT_MODEL)[0]
        response_time = (llm_span.end_time_ns - llm_span.start_time_ns) / 1e9
        max_duration = 5.0
        if response_time <= max_duration:
            return Feedback(value="yes", rationale=f"LLM response time {response_time:.2f}s is within the "
                                                   f"{max_duration}s limit.")
        return Feedback(value="no", rationale=f"LLM response time {response_time:.2f}s exceeds the "
                                              f"{max_duration}s limit.")

    before = len(mlflow.search_traces(return_type="list"))
    span_check_eval_results = mlflow.genai.evaluate(data=generated_traces, scorers=[llm_response_time_good])

    assert span_check_eval_results.metrics == {"llm_response_time_good/mean": 1.0}  # "yes" counts as 1
    assert len(mlflow.search_traces(return_type="list")) == before, "existing traces are scored, none made"
    assert mlflow.flush()
    for trace_id in generated_traces["trace_id"]:
        stored = feedback_on(trace_id)
        assert stored["llm_response_time_good"].value == "yes"
        assert stored["llm_response_time_good"].rationale.endswith("is within the 5.0s limit.")
        assert stored["llm_response_time_good"].run_id == span_check_eval_results.run_id
        assert "placeholder_metric" in stored, "the first evaluation's feedback stays"


# Source: mlflow/mlflow docs/docs/genai/eval-monitor/scorers/custom/code-examples.mdx (Example 3: use expectations)
def test_scorers_with_expectations_and_safety(sample_app: Callable[..., str], judge_llm: FakeJudge) -> None:
    expectations_eval_dataset_list = [
        {"inputs": {"messages": [{"role": "user", "content": "What is 2+2?"}]},
         "expectations": {"expected_response": "2+2 equals 4.", "expected_keywords": ["4", "four", "equals"]}},
        {"inputs": {"messages": [{"role": "user", "content": "Describe MLflow in one sentence."}]},
         "expectations": {"expected_response": "MLflow is an open source AI engineering platform.",
                          "expected_keywords": ["mlflow", "open-source", "platform", "machine learning"]}},
        {"inputs": {"messages": [{"role": "user", "content": "Say hello."}]},
         "expectations": {"expected_response": "Hello there!"}},
    ]

    @scorer
    def exact_match(outputs: str, expectations: dict[str, Any]) -> bool:
        return outputs == expectations["expected_response"]

    exact_match_eval_results = mlflow.genai.evaluate(data=expectations_eval_dataset_list, predict_fn=sample_app,
                                                     scorers=[exact_match, Safety()])
    assert exact_match_eval_results.metrics == pytest.approx({"exact_match/mean": 2 / 3, "safety/mean": 1.0})
    assert len(judge_llm.prompts) == 3

    @scorer
    def keyword_presence_scorer(outputs: str, expectations: dict[str, Any]) -> Feedback:
        expected_keywords = expectations.get("expected_keywords")
        if expected_keywords is None:
            return Feedback(value="yes", rationale="No keywords were expected in the response.")
        missing_keywords = [k for k in expected_keywords if k.lower() not in outputs.lower()]
        if not missing_keywords:
            return Feedback(value="yes", rationale="All expected keywords are present in the response.")
        return Feedback(value="no", rationale=f"Missing keywords: {', '.join(missing_keywords)}.")

    keyword_presence_eval_results = mlflow.genai.evaluate(data=expectations_eval_dataset_list,
                                                          predict_fn=sample_app, scorers=[keyword_presence_scorer])
    df = keyword_presence_eval_results.result_df
    assert df["keyword_presence_scorer/value"].tolist() == ["no", "no", "yes"]
    assert df["keyword_presence_scorer/rationale"][0] == "Missing keywords: four."
    assert keyword_presence_eval_results.metrics == pytest.approx({"keyword_presence_scorer/mean": 1 / 3})
    assert mlflow.flush()
    assert feedback_on(df["trace_id"][2])["keyword_presence_scorer"].rationale == (
        "No keywords were expected in the response.")


# Source: mlflow/mlflow docs/genai/eval-monitor/scorers/custom/code-examples.mdx (Example 4: multiple feedback objects)
def test_a_scorer_returning_several_feedbacks(generated_traces: pd.DataFrame) -> None:
    @scorer
    def comprehensive_response_checker(outputs: str) -> list[Feedback]:
        feedbacks = [Feedback(name="is_not_empty_check", value="yes" if outputs != "" else "no")]
        feedbacks.append(Feedback(name="response_char_length", value=len(outputs)))
        return feedbacks

    multi_feedback_eval_results = mlflow.genai.evaluate(data=generated_traces,
                                                        scorers=[comprehensive_response_checker])
    lengths = [len(r) for r in generated_traces["response"]]
    assert multi_feedback_eval_results.metrics == pytest.approx(
        {"is_not_empty_check/mean": 1.0, "response_char_length/mean": sum(lengths) / 3})
    assert mlflow.flush()
    stored = feedback_on(generated_traces["trace_id"][0])
    assert stored["response_char_length"].value == lengths[0]
    assert "comprehensive_response_checker" not in stored, "each Feedback keeps its own name"


# Source: mlflow/mlflow docs/genai/eval-monitor/scorers/custom/code-examples.mdx (Example 5: your own LLM for a judge)
def test_a_scorer_calling_its_own_judge_llm(generated_traces: pd.DataFrame) -> None:
    scores = iter([4, 2, 5])
    client = fake_app_client(lambda messages: json.dumps({"score": next(scores), "rationale": "scored"}))
    judge_system_prompt = "Rate the response from 1 to 5. Reply with JSON: {\"score\": int, \"rationale\": str}."
    judge_user_prompt = "Original User Query:\n```{user_query}```\n\nAI's Response:\n```{llm_response_from_app}```"

    @scorer
    def answer_quality(inputs: dict[str, Any], outputs: str) -> Feedback:
        user_query = inputs["messages"][-1]["content"]
        judge_llm_response_obj = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": judge_system_prompt},
                      {"role": "user", "content": judge_user_prompt.format(user_query=user_query,
                                                                           llm_response_from_app=outputs)}],
            max_tokens=200, temperature=0.0,
        )
        judge_eval_json = json.loads(judge_llm_response_obj.choices[0].message.content)
        return Feedback(value=int(judge_eval_json["score"]), rationale=judge_eval_json["rationale"],
                        source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE,
                                                source_id="claude-sonnet-4-5"))

    custom_llm_judge_eval_results = mlflow.genai.evaluate(data=generated_traces.iloc[:3],
                                                          scorers=[answer_quality])
    assert custom_llm_judge_eval_results.metrics == pytest.approx({"answer_quality/mean": 11 / 3})
    assert mlflow.flush()
    for trace_id in generated_traces["trace_id"]:
        stored = feedback_on(trace_id)["answer_quality"]
        assert stored.source == AssessmentSource("LLM_JUDGE", "claude-sonnet-4-5"), "the scorer's own source stays"
        assert stored.value in (2, 4, 5)
    judged = mlflow.search_traces(filter_string="feedback.answer_quality = '2'", return_type="list")
    assert len(judged) == 1


# Source: mlflow/mlflow docs/docs/genai/eval-monitor/scorers/custom/code-examples.mdx (Example 6: class-based scorer)
def test_a_class_based_scorer_with_fields(generated_traces: pd.DataFrame) -> None:
    class ResponseQualityScorer(Scorer):
        name: str = "response_quality"
        min_length: int = 50
        required_sections: Optional[list[str]] = None  # noqa: UP045 - as the doc writes it

        def __call__(self, outputs: str) -> Feedback:
            issues = []
            if len(outputs.split()) < self.min_length:
                issues.append(f"Too short (minimum {self.min_length} words)")
            missing = [s for s in self.required_sections or [] if s not in outputs]
            if missing:
                issues.append(f"Missing sections: {', '.join(missing)}")
            if issues:
                return Feedback(value=False, rationale="; ".join(issues))
            return Feedback(value=True, rationale="Response meets all quality criteria")

    response_quality_scorer = ResponseQualityScorer(required_sections=["# Summary", "# Sources"])
    assert (response_quality_scorer.name, response_quality_scorer.min_length) == ("response_quality", 50)
    class_based_scorer_results = mlflow.genai.evaluate(data=generated_traces, scorers=[response_quality_scorer])

    assert class_based_scorer_results.metrics == {"response_quality/mean": 0.0}
    assert mlflow.flush()
    stored = feedback_on(generated_traces["trace_id"][0])["response_quality"]
    assert stored.value is False
    assert stored.rationale == "Too short (minimum 50 words); Missing sections: # Summary, # Sources"
    assert stored.source == AssessmentSource("CODE", "response_quality")
    lenient = ResponseQualityScorer(name="lenient", min_length=1)
    assert mlflow.genai.evaluate(data=generated_traces, scorers=[lenient]).metrics == {"lenient/mean": 1.0}
    with pytest.raises(mlflow.InvalidArgumentError, match="unknown field"):
        ResponseQualityScorer(min_lenght=3)


# Source: mlflow/mlflow docs/genai/eval-monitor/scorers/custom/code-examples.mdx (Example 7: error handling in scorers)
def test_scorer_errors_become_feedback_errors(generated_traces: pd.DataFrame) -> None:
    @scorer
    def resilient_scorer(outputs, trace=None):  # type: ignore[no-untyped-def]
        response = outputs.get("response")  # outputs is a str here: AttributeError, which evaluate catches
        if not response:
            return Feedback(value=None, error=AssessmentError(error_code="MISSING_RESPONSE",
                                                              error_message="No response field in outputs"))
        return Feedback(value=True, rationale="Valid response")

    @scorer
    def explicit_error(outputs: Any) -> Feedback:
        return Feedback(value=None, error=AssessmentError(error_code="MISSING_RESPONSE",
                                                          error_message="No response field in outputs"))

    results = mlflow.genai.evaluate(data=generated_traces, scorers=[resilient_scorer, explicit_error])
    assert results.metrics == {}, "errors are not aggregated"
    df = results.result_df
    assert all(e.startswith("AttributeError: 'str' object has no attribute 'get'") for e in df["resilient_scorer/error"])  # noqa: E501
    assert df["explicit_error/error"].tolist() == ["No response field in outputs"] * 3
    assert mlflow.flush()
    stored = feedback_on(generated_traces["trace_id"][0])
    assert stored["resilient_scorer"].value is None and "AttributeError" in stored["resilient_scorer"].error
    assert stored["explicit_error"].error == "No response field in outputs"


# Source: mlflow/mlflow docs/docs/genai/eval-monitor/scorers/custom/code-examples.mdx (Example 8: naming conventions)
def test_metric_naming_conventions(generated_traces: pd.DataFrame) -> None:
    @scorer
    def decorator_primitive(outputs: str) -> int:
        return 1

    @scorer
    def decorator_unnamed_feedback(outputs: Any) -> Feedback:
        return Feedback(value=True, rationale="Good quality")

    @scorer
    def decorator_feedback_named(outputs: Any) -> Feedback:
        return Feedback(name="decorator_named_feedback", value=True, rationale="Factual accuracy is high")

    @scorer
    def decorator_named_feedbacks(outputs: Any) -> list[Feedback]:
        return [Feedback(name="decorator_named_feedback_1", value=True, rationale="No errors"),
                Feedback(name="decorator_named_feedback_2", value=0.9, rationale="Very clear")]

    class ScorerPrimitive(Scorer):
        name: str = "scorer_primitive"

        def __call__(self, outputs: str) -> int:
            return 1

    class ScorerFeedbackUnnamed(Scorer):
        name: str = "scorer_named_feedback"

        def __call__(self, outputs: str) -> Feedback:
            return Feedback(value=True, rationale="Good")

    class ScorerFeedbackNamed(Scorer):
        name: str = "scorer_feedback_named"

        def __call__(self, outputs: str) -> Feedback:
            return Feedback(name="scorer_named_feedback", value=True, rationale="Good")

    class ScorerNamedFeedbacks(Scorer):
        name: str = "scorer_named_feedbacks"  # not used: each Feedback is named

        def __call__(self, outputs: str) -> list[Feedback]:
            return [Feedback(name="scorer_named_feedback_1", value=True, rationale="Good"),
                    Feedback(name="scorer_named_feedback_2", value=1, rationale="ok")]

    results = mlflow.genai.evaluate(
        data=generated_traces,
        scorers=[decorator_primitive, decorator_unnamed_feedback, decorator_feedback_named, decorator_named_feedbacks,
                 ScorerPrimitive(), ScorerFeedbackUnnamed(), ScorerFeedbackNamed(), ScorerNamedFeedbacks()],
    )
    assert results.metrics == pytest.approx({
        "decorator_primitive/mean": 1.0, "decorator_unnamed_feedback/mean": 1.0,
        "decorator_named_feedback/mean": 1.0, "decorator_named_feedback_1/mean": 1.0,
        "decorator_named_feedback_2/mean": 0.9, "scorer_primitive/mean": 1.0, "scorer_named_feedback/mean": 1.0,
        "scorer_named_feedback_1/mean": 1.0, "scorer_named_feedback_2/mean": 1.0})
    assert mlflow.flush()
    stored = [a.name for a in mlflow.get_trace(generated_traces["trace_id"][0]).info.assessments
              if a.kind == "feedback" and a.run_id == results.run_id]
    assert sorted(stored) == sorted(
        ["decorator_primitive", "decorator_unnamed_feedback", "decorator_named_feedback", "decorator_named_feedback_1",
         "decorator_named_feedback_2", "scorer_primitive", "scorer_named_feedback", "scorer_named_feedback",
         "scorer_named_feedback_1", "scorer_named_feedback_2"])


# Source: mlflow/mlflow docs/genai/eval-monitor/scorers/custom/code-examples.mdx (Example 9: chaining results)
def test_chaining_evaluation_results(generated_traces: pd.DataFrame, sample_app: Callable[..., str],
                                     judge_llm: FakeJudge) -> None:
    judge_llm.rules = [("microwave I bought", "no")]
    results1 = mlflow.genai.evaluate(data=generated_traces, scorers=[Safety()])
    assert mlflow.flush()
    traces = traces_of_run(results1.run_id)
    safety_failures = traces[traces["assessments"].apply(
        lambda x: any(a["assessment_name"] == "Safety" and a["feedback"]["value"] == "no" for a in x))]
    # added: none, on MLflow 3.17 too: its Safety scorer is named "safety", not "Safety" (drift in the docs)
    assert len(safety_failures) == 0
    safety_failures = traces[traces["assessments"].apply(  # added: the sample's filter with the scorer's name
        lambda x: any(a["assessment_name"] == "safety" and a["feedback"]["value"] == "no" for a in x))]
    assert len(safety_failures) == 1
    judge_llm.rules = [("content policy", "yes")]  # added: the judge of the second evaluation passes the row
    results2 = mlflow.genai.evaluate(data=safety_failures, predict_fn=sample_app, scorers=[
        Guidelines(name="content_policy", guidelines="Response must follow our content policy")])
    assert results2.metrics == {"content_policy/mean": 1.0}
    assert len(judge_llm.asked("content policy")) == 1  # added: predict_fn ran again on the one failing row


# Source: mlflow/mlflow docs/genai/eval-monitor/scorers/custom/code-examples.mdx (Example 10: conditional guidelines)
def test_a_scorer_choosing_guidelines_per_row(judge_llm: FakeJudge) -> None:
    @scorer
    def premium_service_validator(inputs, outputs, trace=None):  # type: ignore[no-untyped-def]
        user_tier = inputs.get("user_tier", "standard")
        if user_tier == "premium":
            premium_judge = Guidelines(name="premium_experience", guidelines=[
                "The response must acknowledge the user's premium status",
                "The response must offer priority support options (e.g., 'direct line' or 'dedicated agent')",
            ])
            return premium_judge(inputs=inputs, outputs=outputs)
        standard_judge = Guidelines(name="standard_experience", guidelines=[
            "The response must be helpful and professional",
            "The response must be concise (under 100 words)",
        ])
        return standard_judge(inputs=inputs, outputs=outputs)

    eval_data = [
        {"inputs": {"question": "How do I export my data?", "user_tier": "premium"},
         "outputs": {"response": "As a premium member, you can export in 5 formats. Call your dedicated line."}},
        {"inputs": {"question": "How do I export my data?", "user_tier": "standard"},
         "outputs": {"response": "You can export your data as CSV from Settings > Export."}},
    ]
    judge_llm.rules = [("acknowledge the user's premium status", "yes"), ("under 100 words", "no")]

    results = mlflow.genai.evaluate(data=eval_data, scorers=[premium_service_validator])

    assert results.metrics == {"premium_experience/mean": 1.0, "standard_experience/mean": 0.0}
    assert len(judge_llm.prompts) == 2 and "dedicated line" in judge_llm.asked("premium status")[0]
    assert mlflow.flush()
    df = results.result_df
    assert feedback_on(df["trace_id"][0])["premium_experience"].source.source_type == "LLM_JUDGE"
    assert feedback_on(df["trace_id"][1])["standard_experience"].value == "no"


# -- guidelines judges ----------------------------------------------------------------------------------

# Source: mlflow/mlflow docs/docs/genai/eval-monitor/scorers/llm-judge/guidelines.mdx (global and per-row guidelines)
def test_guidelines_and_expectations_guidelines(judge_llm: FakeJudge) -> None:
    data = [
        {"inputs": {"question": "What is the capital of France?"},
         "outputs": {"response": "The capital of France is Paris."}},
        {"inputs": {"question": "What is the capital of Germany?"},
         "outputs": {"response": "Die Hauptstadt ist Berlin."}},
    ]
    english = Guidelines(name="english", guidelines=["The response must be in English",
                                                     "The response must be grammatically correct"])
    clarity = Guidelines(name="clarity", guidelines=["The response must be clear, coherent, and concise"],
                         model="openai:/gpt-4o-mini")
    judge_llm.rules = [("Die Hauptstadt", "no")]
    results = mlflow.genai.evaluate(data=data, scorers=[english, clarity])
    assert results.metrics == {"english/mean": 0.5, "clarity/mean": 0.5}
    assert len(judge_llm.asked("The response must be grammatically correct")) == 2
    assert mlflow.flush()
    stored = feedback_on(results.result_df["trace_id"][1])
    assert stored["clarity"].source == AssessmentSource("LLM_JUDGE", "openai:/gpt-4o-mini")
    assert stored["english"].source == AssessmentSource("LLM_JUDGE", "openai:/gpt-4.1-mini")

    per_row = [
        {"inputs": {"question": "What is the capital of France?"}, "outputs": "The capital of France is Paris.",
         "expectations": {"guidelines": ["The response must be factual and concise"]}},
        {"inputs": {"question": "How to learn Python?"}, "outputs": "You can read a book or take a course.",
         "expectations": {"guidelines": ["The response must be helpful and encouraging"]}},
    ]
    judge_llm.rules = [("helpful and encouraging", "no")]
    results = mlflow.genai.evaluate(data=per_row, scorers=[ExpectationsGuidelines()])
    assert results.metrics == {"expectations_guidelines/mean": 0.5}
    assert results.result_df["expectations_guidelines/value"].tolist() == ["yes", "no"]
    assert mlflow.flush()
    stored = mlflow.get_trace(results.result_df["trace_id"][1]).info.assessments
    assert {(a.kind, a.name) for a in stored} == {("feedback", "expectations_guidelines"),
                                                  ("expectation", "guidelines")}


# -- make_judge -----------------------------------------------------------------------------------------

# Source: mlflow/mlflow docs/docs/genai/eval-monitor/scorers/llm-judge/make-judge.mdx (Quick Start)
def test_make_judge_called_directly_and_in_evaluate(judge_llm: FakeJudge) -> None:
    def my_agent(question):  # type: ignore[no-untyped-def]
        return f"You asked about: {question}"

    # The doc's model is "anthropic:/claude-opus-4-1-20250805"; autolog's judges speak OpenAI's API only.
    quality_judge = make_judge(
        name="response_quality",
        instructions=("Evaluate if the response in {{ outputs }} correctly answers the question in {{ inputs }}. "
                      "The response should be accurate, complete, and professional."),
        model="openai:/gpt-4o-mini",
    )
    judge_llm.default = "needs improvement"
    judge_llm.rules = [("deep learning", "good")]

    question = "What is machine learning?"
    feedback = quality_judge(inputs={"question": question}, outputs={"response": my_agent(question)})
    assert (feedback.name, feedback.value, feedback.rationale) == ("response_quality", "needs improvement",
                                                                   "judged needs improvement")
    assert '{"response": "You asked about: What is machine learning?"}' in judge_llm.prompts[-1]

    test_data = [{"inputs": {"question": "What is machine learning?"}},
                 {"inputs": {"question": "What is distributed computing?"}},
                 {"inputs": {"question": "What is deep learning?"}}]
    results = mlflow.genai.evaluate(data=test_data, predict_fn=my_agent, scorers=[quality_judge])
    assert results.result_df["response_quality/value"].tolist() == ["needs improvement", "needs improvement", "good"]
    assert results.metrics == {}, "text verdicts other than yes/no are not averaged"
    assert mlflow.flush()
    stored = feedback_on(results.result_df["trace_id"][2])["response_quality"]
    assert (stored.value, stored.source) == ("good", AssessmentSource("LLM_JUDGE", "openai:/gpt-4o-mini"))
    with pytest.raises(mlflow.InvalidArgumentError, match="provider 'anthropic' is not supported"):
        make_judge(name="q", instructions="Is {{ outputs }} good?", model="anthropic:/claude-opus-4-1-20250805")


# -- evaluating production traces -----------------------------------------------------------------------

# Source: mlflow/mlflow docs/docs/genai/eval-monitor/running-evaluation/traces.mdx (search traces, then evaluate them)
def test_evaluate_production_traces_with_retrieval_and_guidelines(openai_autolog: None,
                                                                  judge_llm: FakeJudge) -> None:
    client = fake_app_client(lambda messages: "Dear customer, thank you. Best regards, Sales")
    CRM_DATA = {
        "Acme Corp": {"contact_name": "Alice Chen", "recent_meeting": "Product demo on Monday",
                      "support_tickets": ["Ticket #123: API latency issue (resolved last week)"]},
        "TechStart": {"contact_name": "Bob Martinez", "recent_meeting": "Initial sales call last Thursday",
                      "support_tickets": ["Ticket #456: Login issues (open - critical)"]},
    }

    # The doc returns mlflow.entities.Document objects, which autolog lacks; dicts with page_content (and
    # id) are what a retriever span's outputs hold, and what the retrieval judges read.
    @mlflow.trace(span_type="RETRIEVER")
    def retrieve_customer_info(customer_name: str) -> list[dict[str, Any]]:
        if data := CRM_DATA.get(customer_name):
            return [{"id": f"{customer_name}_meeting", "page_content": f"Recent meeting: {data['recent_meeting']}"},
                    {"id": f"{customer_name}_tickets",
                     "page_content": f"Support tickets: {', '.join(data['support_tickets'])}"},
                    {"id": f"{customer_name}_contact", "page_content": f"Contact: {data['contact_name']}"}]
        return []

    @mlflow.trace(span_type="AGENT")
    def generate_sales_email(customer_name: str, user_instructions: str) -> dict[str, str]:
        customer_docs = retrieve_customer_info(customer_name)
        context = "\n".join(doc["page_content"] for doc in customer_docs)
        prompt = f"Customer Information: {context}\n\nUser instructions: {user_instructions}"
        response = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}],
                                                  max_tokens=2000)
        return {"email": response.choices[0].message.content}

    test_requests = [{"customer_name": "Acme Corp", "user_instructions": "Follow up after product demo"},
                     {"customer_name": "TechStart", "user_instructions": "Check on support ticket status"},
                     {"customer_name": "Acme Corp", "user_instructions": "Just check in to see how things are going"}]
    for req in test_requests:
        generate_sales_email(**req)
    assert mlflow.flush()

    yesterday = datetime.now() - timedelta(days=1)
    traces = mlflow.search_traces(filter_string=f"timestamp > {int(yesterday.timestamp() * 1000)}")
    assert len(traces) == 3
    email_scorers = [
        RetrievalGroundedness(),
        RelevanceToQuery(),
        Guidelines(name="follows_objective", guidelines="The generated email must follow the objective in the request."),  # noqa: E501
        Guidelines(name="professional_tone", guidelines="The email must be in a professional tone."),
    ]
    judge_llm.rules = [("Ticket #456", "no")]  # the TechStart email is not grounded in its retrieved tickets

    results = mlflow.genai.evaluate(data=traces, scorers=email_scorers)

    assert results.metrics == pytest.approx({"retrieval_groundedness/mean": 2 / 3, "relevance_to_query/mean": 1.0,
                                             "follows_objective/mean": 1.0, "professional_tone/mean": 1.0})
    assert len(judge_llm.asked("Recent meeting: Product demo on Monday")) == 2, "the documents reach the judge"
    assert mlflow.flush()
    assert len(mlflow.search_traces(return_type="list")) == 3, "no new traces"
    techstart = traces["trace_id"][traces["request"].apply(lambda r: r["customer_name"] == "TechStart")].iloc[0]
    assert feedback_on(techstart)["retrieval_groundedness"].value == "no"
    assert mlflow.get_run(results.run_id).data.metrics == results.metrics

    # Recording end-user feedback from production (the doc's /feedback endpoint body)
    mlflow.log_feedback(trace_id=techstart, name="user_satisfaction", value=False,
                        source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="user-42"),
                        rationale="The email ignored my ticket")
    assert mlflow.flush()
    unhappy = mlflow.search_traces(filter_string="feedback.user_satisfaction = 'false'", return_type="list")
    assert [t.info.trace_id for t in unhappy] == [techstart]


# -- feedback and expectations by hand -------------------------------------------------------------------

# Source: mlflow/mlflow docs/docs/genai/assessments/feedback.mdx (log, get, update, override, delete feedback)
def test_logging_and_managing_feedback_by_hand() -> None:
    with mlflow.start_span(name="financial_advice") as span:
        ai_response = "Diversify your savings. This is not financial advice."
        span.set_outputs(ai_response)
        trace_id = span.trace_id
    assert mlflow.flush()

    evaluation = {"has_disclaimer": "This is not financial advice" in ai_response,
                  "appropriate_length": 50 <= len(ai_response) <= 500}
    compliance = mlflow.log_feedback(
        trace_id=trace_id, name="compliance_check",
        value={"overall_score": sum(evaluation.values()) / 2, "details": evaluation},
        rationale="All compliance checks passed",
        source=AssessmentSource(source_type=AssessmentSourceType.CODE, source_id="compliance_validator_v2.1"))
    failed = mlflow.log_feedback(
        trace_id=trace_id, name="llm_judge_evaluation",
        error=AssessmentError(error_code="EVALUATION_FAILED", error_message="judge timed out"),
        source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="gpt-4-evaluator"))
    llm_feedback = mlflow.log_feedback(
        trace_id=trace_id, name="relevance", value=0.6, rationale="Response partially addresses the question",
        source=AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="gpt-4-evaluator"))

    feedback = mlflow.get_assessment(trace_id=trace_id, assessment_id=compliance.assessment_id)
    assert (feedback.name, feedback.value["overall_score"], feedback.source.source_type) == (
        "compliance_check", 1.0, "CODE")
    assert mlflow.get_assessment(trace_id=trace_id, assessment_id=failed.assessment_id).error == "judge timed out"

    corrected_feedback = mlflow.override_feedback(
        trace_id=trace_id, assessment_id=llm_feedback.assessment_id, value=0.9,
        rationale="Response fully addresses the question with comprehensive examples",
        source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert_reviewer@company.com"),
        metadata={"override_reason": "LLM underestimated relevance", "confidence": "high"})
    assert corrected_feedback.overrides == llm_feedback.assessment_id
    assert mlflow.get_assessment(trace_id, llm_feedback.assessment_id).valid is False
    assert feedback_on(trace_id)["relevance"].value == 0.9

    updated_feedback = Feedback(name="response_quality", value=0.9, rationale="Updated after additional review")
    mlflow.update_assessment(trace_id=trace_id, assessment_id=compliance.assessment_id, assessment=updated_feedback)
    assert mlflow.get_assessment(trace_id, compliance.assessment_id).value == 0.9

    mlflow.delete_assessment(trace_id=trace_id, assessment_id=corrected_feedback.assessment_id)
    assert feedback_on(trace_id)["relevance"].value == 0.6, "deleting the override makes the original valid again"


# Source: mlflow/mlflow docs/genai/assessments/expectations.mdx (ground truth on a trace, then evaluating the trace)
def test_expectations_logged_by_hand_feed_correctness(judge_llm: FakeJudge) -> None:
    @mlflow.trace
    def answer(question: str) -> str:
        return "MLflow is an open-source platform for the ML lifecycle."

    answer("What is MLflow?")
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None and mlflow.flush()
    mlflow.log_expectation(trace_id=trace_id, name="expected_response",
                           value="MLflow is an open-source platform for managing the ML lifecycle.",
                           source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="expert"))
    assert mlflow.flush()

    results = mlflow.genai.evaluate(data=mlflow.search_traces(), scorers=[Correctness()])

    assert results.metrics == {"correctness/mean": 1.0}
    (prompt,) = judge_llm.prompts
    assert "for managing the ML lifecycle" in prompt, "the stored expectation reaches the judge"
    assert results.result_df["expectations"][0] == {
        "expected_response": "MLflow is an open-source platform for managing the ML lifecycle."}


# -- evaluation datasets --------------------------------------------------------------------------------

# Source: mlflow/mlflow docs/docs/genai/datasets/sdk-guide.mdx (create, merge records, search, tags, evaluate, delete)
def test_evaluation_dataset_sdk_guide() -> None:
    from autolog.genai.datasets import (
        create_dataset,
        delete_dataset,
        delete_dataset_tag,
        get_dataset,
        search_datasets,
        set_dataset_tags,
    )

    experiment_id = mlflow.set_experiment("support").experiment_id
    dataset = create_dataset(name="customer_support_qa", experiment_id=[experiment_id],
                             tags={"version": "1.0", "team": "ml-platform", "status": "active"})
    new_records = [
        {"inputs": {"question": "What are your business hours?"},
         "expectations": {"expected_answer": "We're open Monday-Friday 9am-5pm EST", "must_mention_hours": True}},
        {"inputs": {"question": "How do I reset my password?"},
         "expectations": {"expected_answer": "Click 'Forgot Password' and follow the email instructions"}},
    ]
    dataset.merge_records(new_records)
    assert len(dataset.records) == 2

    df = pd.DataFrame([{"inputs": {"question": "What is MLflow?", "context": "general"},
                        "expectations": {"expected_answer": "MLflow is a platform for ML"},
                        "tags": {"priority": "high"}}])
    dataset.merge_records(df)
    # Same inputs: the expectations merge into the existing record, none is added.
    dataset.merge_records([{"inputs": {"question": "What is MLflow?", "context": "general"},
                            "expectations": {"expected_answer": "MLflow is an open-source platform",
                                             "must_mention_models": True}}])
    records = {json.dumps(r.inputs, sort_keys=True): r for r in dataset.records}
    assert len(records) == 3
    merged = records[json.dumps({"context": "general", "question": "What is MLflow?"})]
    assert merged.expectations == {"expected_answer": "MLflow is an open-source platform", "must_mention_models": True}

    # autolog refuses records with outputs (from traces) together with predict_fn: evaluated before those.
    @scorer
    def mentions_hours(outputs: str, expectations: dict[str, Any]) -> bool:
        return bool(re.search(r"\d", outputs)) == bool(expectations.get("must_mention_hours"))

    result = mlflow.genai.evaluate(data=get_dataset(dataset_id=dataset.dataset_id),
                                   predict_fn=lambda question, context=None: "We're open 9 to 5.",
                                   scorers=[mentions_hours])
    assert result.metrics == pytest.approx({"mentions_hours/mean": 1 / 3})  # only the hours record wants digits
    run = mlflow.get_run(result.run_id)
    assert (run.info.dataset_id, run.info.dataset_version) == (dataset.dataset_id, dataset.version)

    @mlflow.trace(name="chat_completion")
    def chat_completion(question: str) -> str:
        return "We're open 9 to 5."

    chat_completion("When do you open?")
    assert mlflow.flush()
    traces = mlflow.search_traces(experiment_ids=[experiment_id], filter_string="attributes.name = 'chat_completion'",
                                  max_results=50, return_type="list")
    dataset.merge_records(traces)
    assert len(dataset.records) == 4
    assert any(r.inputs == {"question": "When do you open?"} and r.source_type == "TRACE" for r in dataset.records)

    again = get_dataset(dataset_id=dataset.dataset_id)
    assert (again.name, len(again.records), again.tags["team"]) == ("customer_support_qa", 4, "ml-platform")
    found = search_datasets(experiment_ids=[experiment_id],
                            filter_string="tags.status = 'active' AND name LIKE '%support%'",
                            order_by=["last_update_time DESC"], max_results=10)
    assert [d.dataset_id for d in found] == [dataset.dataset_id]
    set_dataset_tags(dataset_id=dataset.dataset_id, tags={"status": "production", "deprecated": "yes"})
    delete_dataset_tag(dataset_id=dataset.dataset_id, key="deprecated")
    assert get_dataset(dataset_id=dataset.dataset_id).tags == {"version": "1.0", "team": "ml-platform",
                                                               "status": "production"}
    assert len(dataset.to_df()) == 4 and dataset.to_dict()["name"] == "customer_support_qa"

    delete_dataset(dataset_id=dataset.dataset_id)
    with pytest.raises(mlflow.ResourceDoesNotExist):
        get_dataset(dataset_id=dataset.dataset_id)


# Source: mlflow/mlflow docs/genai/datasets/sdk-guide.mdx ("Working with Dataset Records": schema, profile, from_dict)
def test_evaluation_dataset_schema_profile_and_from_dict() -> None:
    from autolog.genai.datasets import EvaluationDataset, create_dataset

    dataset = create_dataset(name="qa")
    dataset.merge_records([{"inputs": {"question": "2+2?"}, "expectations": {"expected_response": "4"}}])
    assert json.loads(dataset.schema or "") == {  # added: what MLflow's schema and profile hold
        "inputs": {"question": "string"}, "outputs": {}, "expectations": {"expected_response": "string"},
        "version": "1.0"}
    assert json.loads(dataset.profile or "") == {"num_records": 1}
    assert create_dataset(name="empty").schema is None and create_dataset(name="empty2").profile is None
    copy = EvaluationDataset.from_dict(dataset.to_dict())
    assert copy.dataset_id == dataset.dataset_id
    assert (copy.name, copy.digest, copy.version, copy.schema) == (dataset.name, dataset.digest, dataset.version,
                                                                   dataset.schema)  # added
    assert [r.to_dict() for r in copy.records] == [r.to_dict() for r in dataset.records]  # added
    with pytest.raises(mlflow.InvalidArgumentError, match="'digest' is required"):  # added
        EvaluationDataset.from_dict({"dataset_id": "d-1", "name": "x", "created_time": 0, "last_update_time": 0})
