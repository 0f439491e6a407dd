"""``autolog.genai.evaluate``: predictions, scorers, the run and the version it records, bad input, concurrency."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

import autolog
import autolog as mlflow
from autolog.genai import scorer
from autolog.genai.scorers import ExactMatch, Latency, RegexMatch, ResponseLength, ToolCallCorrectness


@pytest.fixture
def version() -> autolog.LoggedModel:
    return mlflow.create_external_model(name="agent-v1")


def _data(n: int) -> list[dict[str, Any]]:
    return [{"inputs": {"question": f"q{i}"}, "expectations": {"expected_response": f"Q{i}"}, "tags": {"i": str(i)}}
            for i in range(n)]


def test_an_evaluation_records_traces_feedback_expectations_run_and_version_metrics(
        version: autolog.LoggedModel) -> None:
    @autolog.trace
    def app(question: str) -> str:
        with autolog.start_span("retrieve", span_type="RETRIEVER"):
            pass
        with autolog.start_span("llm", span_type="LLM"):
            pass
        return question.upper() if question != "q3" else "wrong"

    @scorer(aggregations=["mean", "min"])
    def shouts(outputs: str) -> bool:
        return outputs.isupper()

    result = mlflow.genai.evaluate(_data(10), [shouts, ExactMatch()], predict_fn=app, model_id=version.model_id)
    assert result.metrics == {"shouts/mean": 0.9, "shouts/min": 0.0, "exact_match/mean": 0.9}
    assert mlflow.flush()
    run = mlflow.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.info.model_id == version.model_id
    assert run.data.metrics == result.metrics and run.data.tags["mlflow.runType"] == "genai_evaluate"
    assert run.info.dataset_digest and run.info.dataset_version is None
    assert {m.key: m.value for m in mlflow.get_logged_model(version.model_id).metrics} == result.metrics

    df = result.result_df
    assert df["outputs"].tolist() == [f"Q{i}" if i != 3 else "wrong" for i in range(10)]
    assert df["exact_match/value"].tolist() == [i != 3 for i in range(10)]
    traces = {t.info.trace_id: t for t in mlflow.search_traces(model_id=version.model_id, return_type="list")}
    assert sorted(traces) == sorted(df["trace_id"])
    for row in df.itertuples():
        trace = traces[row.trace_id]
        assert trace.info.trace_metadata["mlflow.sourceRun"] == result.run_id
        assert [s.name for s in trace.data.spans] == ["app", "retrieve", "llm"]
        by_name = {(a.kind, a.name): a for a in trace.info.assessments}
        assert set(by_name) == {("feedback", "shouts"), ("feedback", "exact_match"),
                                ("expectation", "expected_response")}
        feedback = by_name[("feedback", "exact_match")]
        assert (feedback.run_id, feedback.source.source_type, feedback.source.source_id) == (result.run_id, "CODE",
                                                                                             "exact_match")
        assert feedback.metadata == {"mlflow.assessment.sourceRunId": result.run_id}
    failing = mlflow.search_traces(filter_string="feedback.exact_match = 'false'", return_type="list")
    assert [t.info.trace_id for t in failing] == [df["trace_id"][3]]


def test_quality_criteria_gate_a_deploy(version: autolog.LoggedModel) -> None:
    def app(question: str) -> str:
        return question.upper()

    good = mlflow.genai.evaluate(_data(5), [ExactMatch(), Latency()], predict_fn=app, model_id=version.model_id,
                                 quality_criteria="exact_match/mean >= 0.9 AND `latency/p90` <= 2")
    assert good.passed is True and "exact_match/mean >= 0.9" in (good.reason or "")
    bad = mlflow.genai.evaluate(_data(5), [RegexMatch("^Q[0-2]$", name="early")], predict_fn=app,
                                quality_criteria="early/mean >= 0.9 AND missing/mean <= 1")
    assert bad.passed is False
    assert bad.reason == ("early/mean = 0.6, needs >= 0.9; missing/mean was not measured (metrics: early/mean)")
    with pytest.raises(autolog.InvalidArgumentError, match="cannot read"):
        mlflow.genai.evaluate(_data(1), [ExactMatch()], predict_fn=app, quality_criteria="accuracy is high")


def test_an_untraced_predict_fn_is_traced_and_row_tags_are_set_on_its_trace(version: autolog.LoggedModel) -> None:
    def app(question: str) -> str:
        return question + "!"

    result = mlflow.genai.evaluate(_data(3), [ResponseLength()], predict_fn=app, model_id=version.model_id)
    assert result.metrics == {"response_length/mean": 3.0}
    assert mlflow.flush()
    for row in result.result_df.itertuples():
        trace = mlflow.get_trace(row.trace_id)
        (root,) = trace.data.spans
        assert (root.name, root.inputs, root.outputs) == ("app", row.inputs, row.outputs)
        assert trace.info.tags["i"] == row.inputs["question"][1:]
        assert trace.info.trace_metadata["mlflow.modelId"] == version.model_id


def test_async_predict_fn_and_static_outputs_and_existing_traces() -> None:
    async def app(question: str) -> str:
        await asyncio.sleep(0)
        with autolog.start_span("inner"):
            pass
        return question.upper()

    result = mlflow.genai.evaluate(_data(4), [ExactMatch()], predict_fn=app)
    assert result.metrics == {"exact_match/mean": 1.0}
    assert mlflow.flush()
    assert [len(mlflow.get_trace(t).data.spans) for t in result.result_df["trace_id"]] == [2] * 4

    static = [{"inputs": {"q": "a"}, "outputs": "A", "expectations": {"expected_response": "A"}},
              {"inputs": {"q": "b"}, "outputs": "x", "expectations": {"expected_response": "B"}}]
    result = mlflow.genai.evaluate(static, [ExactMatch()])
    assert result.result_df["exact_match/value"].tolist() == [True, False]
    minimal = mlflow.get_trace(result.result_df["trace_id"][0])
    assert [(s.name, s.inputs, s.outputs) for s in minimal.data.spans] == [("evaluate_row", {"q": "a"}, "A")]

    # Existing traces (a search_traces DataFrame) are scored as they are: no new trace.
    before = len(mlflow.search_traces(return_type="list"))
    again = mlflow.genai.evaluate(mlflow.search_traces(), [ResponseLength()])
    assert len(mlflow.search_traces(return_type="list")) == before
    assert sorted(again.result_df["trace_id"]) == sorted(t.info.trace_id for t in
                                                         mlflow.search_traces(return_type="list"))


def test_a_scorer_failure_is_that_rows_feedback_error_and_a_predict_failure_that_rows_error() -> None:
    @scorer
    def fragile(outputs: str) -> float:
        if outputs == "Q1":
            raise ZeroDivisionError("no")
        return 1.0

    @scorer
    def wrong_type(outputs: str) -> Any:
        return {"not": "a judgement"}

    def app(question: str) -> str:
        if question == "q2":
            raise RuntimeError("model down")
        return question.upper()

    result = mlflow.genai.evaluate(_data(3), [fragile, wrong_type], predict_fn=app)
    df = result.result_df
    assert df["fragile/error"][1].startswith("ZeroDivisionError: no")
    assert df["wrong_type/error"][0].startswith("ScorerReturnError: scorer 'wrong_type' returned a dict")
    assert (df["state"].tolist(), df["error"][2]) == (["OK", "OK", "ERROR"], "RuntimeError: model down")
    assert mlflow.get_trace(df["trace_id"][2]).info.state == "ERROR"
    assert result.metrics == {"fragile/mean": 1.0}, "failed scorers are not averaged in"


@pytest.mark.parametrize(("data", "scorers", "predict", "message"), [
    ([{"question": "no inputs key"}], "exact", True, "row 0 of the data has neither 'inputs' nor 'trace'"),
    ([{"inputs": "a string"}], "exact", True, "row 0: 'inputs' must be a dict"),
    ([{"inputs": {"wrong_name": 1}, "expectations": {"expected_response": "x"}}], "exact", True,
     "predict_fn cannot take row 0's inputs"),
    ([{"inputs": {"question": "q"}}], "needs_expectations", True, "scorer 'needs_expectations' needs expectations"),
    ([{"inputs": {"question": "q"}}], "exact", False, "row 0 has no 'outputs'"),
    ([{"inputs": {"question": "q"}, "outputs": "x"}], "exact", True, "pass one or the other"),
    ([{"inputs": {"question": "q"}, "outputs": "x"}], "plain_function", False, "decorate it with"),
    ([], "exact", True, "is empty"),
])
def test_bad_input_is_refused_before_anything_runs(data: list[Any], scorers: str, predict: bool, message: str) -> None:
    calls: list[Any] = []

    def app(question: str) -> str:
        calls.append(question)
        return question

    @scorer
    def needs_expectations(outputs: Any, expectations: dict[str, Any]) -> bool:
        return True

    chosen = {"exact": [ExactMatch()], "needs_expectations": [needs_expectations],
              "plain_function": [lambda outputs: True]}[scorers]
    with pytest.raises(autolog.InvalidArgumentError, match=message.replace("(", r"\(")):
        mlflow.genai.evaluate(data, chosen, predict_fn=app if predict else None)
    assert calls == [] and mlflow.search_runs(output_format="list") == [], "nothing ran, no run was written"


def test_200_rows_on_threads_lose_and_unlink_nothing(version: autolog.LoggedModel) -> None:
    @autolog.trace
    def app(question: str) -> str:
        # A threaded agent: a tool runs on a thread started from the prediction's context.
        results: list[str] = []
        ctx_thread = threading.Thread(target=lambda: results.append(tool(question)))
        ctx_thread.start()
        ctx_thread.join()
        return results[0]

    @autolog.trace(span_type="TOOL")
    def tool(question: str) -> str:
        return question.upper()

    @scorer
    def length(outputs: str) -> int:
        return len(outputs)

    @scorer
    def starts_with_q(outputs: str) -> bool:
        return outputs.startswith("Q")

    data = _data(200)
    result = mlflow.genai.evaluate(data, [ExactMatch(), length, starts_with_q, ResponseLength(max_chars=3)],
                                   predict_fn=app, model_id=version.model_id, max_workers=8)
    assert result.metrics["exact_match/mean"] == 1.0 and result.metrics["starts_with_q/mean"] == 1.0
    assert mlflow.flush()
    linked = mlflow.search_traces(filter_string=f"run_id = '{result.run_id}'", return_type="list", max_results=1000)
    assert len(linked) == 200 and {t.info.trace_metadata["mlflow.modelId"] for t in linked} == {version.model_id}
    assert sorted(t.info.trace_id for t in linked) == sorted(result.result_df["trace_id"])
    assert all(len(t.info.assessments) == 5 for t in linked)  # 4 feedbacks + 1 expectation


def test_tool_call_correctness_reads_the_trace() -> None:
    @autolog.trace
    def agent(question: str) -> str:
        search(question)
        return "done"

    @autolog.trace(span_type="TOOL")
    def search(query: str) -> str:
        return "hits"

    data = [{"inputs": {"question": "weather"}, "expectations": {"expected_tool_calls": [
        {"name": "search", "arguments": {"query": "weather"}}]}},
            {"inputs": {"question": "news"}, "expectations": {"expected_tool_calls": ["search", "calendar"]}}]
    result = mlflow.genai.evaluate(data, [ToolCallCorrectness()], predict_fn=agent)
    assert result.result_df["tool_call_correctness/value"].tolist() == [True, False]
    assert result.result_df["tool_call_correctness/rationale"][1] == (
        "expected tool calls: search, calendar; made: search")


class _RateLimitedChat:
    """An OpenAI-compatible server that answers 429 to every other request."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls += 1
            refuse = self.calls % 2 == 1
        if refuse:
            return httpx.Response(429, json={"error": {"message": "slow down", "type": "rate_limit"}})
        question = json.loads(request.content)["messages"][-1]["content"]
        return httpx.Response(200, json={
            "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                                                                          "content": question.upper()}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})


@pytest.fixture
def openai_patched() -> Iterator[None]:
    autolog.openai()
    yield
    autolog.openai(disable=True)


def test_an_openai_predict_fn_is_retried_on_429_and_its_llm_spans_counted(
        openai_patched: None, version: autolog.LoggedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOLOG_GENAI_EVAL_MAX_RETRIES", "3")
    server = _RateLimitedChat()
    client = openai.OpenAI(api_key="sk-test", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(server)))

    def app(question: str) -> str:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content or ""

    result = mlflow.genai.evaluate(_data(4), [ExactMatch()], predict_fn=app, model_id=version.model_id, max_workers=1)
    assert result.metrics == {"exact_match/mean": 1.0}
    assert server.calls == 8, "each row: a 429, then the answer"
    assert mlflow.flush()
    for trace_id in result.result_df["trace_id"]:
        trace = mlflow.get_trace(trace_id)
        assert [s.span_type for s in trace.data.spans].count("CHAT_MODEL") == 2  # the refused call and the answer
        assert trace.info.token_usage == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}


def test_a_langchain_predict_fn(version: autolog.LoggedModel) -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    autolog.langchain()
    try:
        chain = (ChatPromptTemplate.from_messages([("user", "{question}")])
                 | GenericFakeChatModel(messages=iter([AIMessage(content=f"Q{i}") for i in range(3)]))
                 | StrOutputParser())
        result = mlflow.genai.evaluate(_data(3), [ExactMatch()], predict_fn=lambda question: chain.invoke(
            {"question": question}), model_id=version.model_id, max_workers=1)
    finally:
        autolog.langchain(disable=True)
    assert result.metrics == {"exact_match/mean": 1.0}
    assert mlflow.flush()
    trace = mlflow.get_trace(result.result_df["trace_id"][0])
    assert [s.name for s in trace.data.spans][:2] == ["<lambda>", "RunnableSequence"]
    assert trace.info.trace_metadata["mlflow.modelId"] == version.model_id


def test_an_evaluation_of_a_dataset_records_the_exact_version_it_used(version: autolog.LoggedModel) -> None:
    dataset = mlflow.genai.datasets.create_dataset("support-questions")
    dataset.merge_records(_data(3))
    v1 = (dataset.version, dataset.digest)
    dataset.merge_records([{"inputs": {"question": "q9"}, "expectations": {"expected_response": "Q9"}}])

    def app(question: str) -> str:
        return question.upper()

    first = mlflow.genai.evaluate(mlflow.genai.datasets.get_dataset("support-questions", version=v1[0]),
                                  [ExactMatch()], predict_fn=app, model_id=version.model_id)
    latest = mlflow.genai.evaluate(mlflow.genai.datasets.get_dataset("support-questions"), [ExactMatch()],
                                   predict_fn=app, model_id=version.model_id)
    assert len(first.result_df) == 3 and len(latest.result_df) == 4
    assert mlflow.flush()
    runs = {r.info.run_id: r.info for r in mlflow.search_runs(output_format="list")}
    assert (runs[first.run_id].dataset_version, runs[first.run_id].dataset_digest) == v1
    assert runs[latest.run_id].dataset_version == dataset.version and runs[latest.run_id].dataset_name == \
        "support-questions"
    assert runs[latest.run_id].dataset_id == dataset.dataset_id
    assert mlflow.search_runs(filter_string=f"dataset_version = {v1[0]}", output_format="list")[0].info.run_id == \
        first.run_id


class _JudgeServer:
    """An OpenAI-compatible judge: a 429 with ``retry-after-ms`` first, then a verdict per prompt."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.refused = False
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["messages"][-1]["content"]
        with self.lock:
            if not self.refused:
                self.refused = True
                return httpx.Response(429, headers={"retry-after-ms": "10"}, json={"error": {"message": "later"}})
            self.prompts.append(prompt)
        relevant = "Lyon" not in prompt  # the document about Lyon is off-topic; every answer is correct
        verdict = {"rationale": "checked", "result": "yes" if relevant else "no"}
        return httpx.Response(200, json={
            "id": "j", "object": "chat.completion", "created": 1, "model": "judge-1",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps(verdict)}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59}})


def test_llm_judges_inside_an_evaluation_of_an_openai_app(
        openai_patched: None, version: autolog.LoggedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    from autolog.genai.judges import make_judge
    from autolog.genai.scorers import Correctness, RetrievalRelevance

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    judge_server = _JudgeServer()
    judge_http = httpx.Client(transport=httpx.MockTransport(judge_server))
    app_server = _RateLimitedChat()
    app_server.calls = 1  # no 429 for the app: every call answers
    app_client = openai.OpenAI(api_key="sk-test", max_retries=0,
                               http_client=httpx.Client(transport=httpx.MockTransport(app_server)))

    @autolog.trace
    def app(question: str) -> str:
        with autolog.start_span("search", span_type="RETRIEVER") as span:
            span.set_outputs([{"page_content": "Paris is in France."}, {"page_content": "Lyon has good food."}])
        reply = app_client.chat.completions.create(model="gpt-4o-mini",
                                                   messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content or ""

    polite = make_judge("polite", "Is {{ outputs }} a polite answer to {{ inputs }}?", model="openai:/judge-1",
                        feedback_value_type=bool, http_client=judge_http)
    correctness = Correctness(model="openai:/judge-1", http_client=judge_http)
    relevance = RetrievalRelevance(model="openai:/judge-1", http_client=judge_http)
    result = mlflow.genai.evaluate(_data(3), [correctness, relevance, polite], predict_fn=app,
                                   model_id=version.model_id, max_workers=2)
    assert mlflow.flush()
    # 3 rows x (1 correctness + 2 documents + 1 polite) judge calls, after one refused and retried
    assert len(judge_server.prompts) == 12
    assert result.metrics == {"correctness/mean": 1.0, "retrieval_relevance/mean": 0.5, "polite/mean": 1.0}
    assert result.result_df["retrieval_relevance/value"].tolist() == [["yes", "no"]] * 3
    assert {m.key: m.value for m in mlflow.get_logged_model(version.model_id).metrics} == result.metrics
    for trace_id in result.result_df["trace_id"]:
        trace = mlflow.get_trace(trace_id)
        # the judges' own calls are not part of the app's trace
        assert [(s.name, s.span_type) for s in trace.data.spans] == [
            ("app", "UNKNOWN"), ("search", "RETRIEVER"), ("Completions", "CHAT_MODEL")]
        feedback = sorted((a.name, a.value, a.source.source_type, a.source.source_id, a.span_id)
                          for a in trace.info.assessments if a.kind == "feedback")
        search_span = trace.data.spans[1].span_id
        assert feedback == [("correctness", "yes", "LLM_JUDGE", "openai:/judge-1", None),
                            ("polite", True, "LLM_JUDGE", "openai:/judge-1", None),
                            ("retrieval_relevance", "no", "LLM_JUDGE", "openai:/judge-1", search_span),
                            ("retrieval_relevance", "yes", "LLM_JUDGE", "openai:/judge-1", search_span)]
    judge_http.close()
