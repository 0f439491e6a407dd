"""LLM judges and the built-in scorers, with the real openai SDK on an in-process mock transport (no network)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Literal

import httpx
import pytest

import autolog
from autolog.entities.assessment import Assessment, AssessmentSource
from autolog.genai.judges import Judge, make_judge, model, set_default_http_client
from autolog.genai.scorers import (
    Correctness,
    ExpectationsGuidelines,
    Guidelines,
    RelevanceToQuery,
    RetrievalGroundedness,
    RetrievalRelevance,
    RetrievalSufficiency,
    Safety,
)

Reply = Callable[[httpx.Request], httpx.Response]


def completion(content: str, model_name: str = "gpt-4.1-mini") -> httpx.Response:
    return httpx.Response(200, json={
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model_name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    })


def verdict(result: Any, rationale: str = "because") -> str:
    return json.dumps({"rationale": rationale, "result": result})


class FakeLLM:
    """An OpenAI-compatible server in the test: answers from a queue (the last answer repeats)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.replies: list[Reply] = [lambda _: completion(verdict("yes"))]

    def answer(self, *replies: str | int | Reply) -> None:
        self.replies = [self._reply(r) for r in replies]

    @staticmethod
    def _reply(r: str | int | Reply) -> Reply:
        if isinstance(r, str):
            return lambda _: completion(r)
        if isinstance(r, int):
            return lambda _: httpx.Response(r, json={"error": {"message": f"status {r}"}})
        return r

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply(request)

    @property
    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.requests[-1].content))

    @property
    def prompt(self) -> str:
        return "\n".join(m["content"] for m in self.body["messages"])


@pytest.fixture()
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    fake = FakeLLM()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    for name in ("OPENAI_BASE_URL", "AUTOLOG_GENAI_JUDGE_MODEL", "MLFLOW_GENAI_JUDGE_DEFAULT_MODEL",
                 "AUTOLOG_GENAI_EVAL_MAX_RETRIES", "MLFLOW_GENAI_EVAL_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(model, "RETRY_BACKOFF_SECONDS", 0.0)  # retries without waiting
    http_client = httpx.Client(transport=httpx.MockTransport(fake))
    previous = set_default_http_client(http_client)
    yield fake
    set_default_http_client(previous)
    http_client.close()


def only(feedbacks: list[Assessment]) -> Assessment:
    assert len(feedbacks) == 1, feedbacks
    return feedbacks[0]


def polite_judge(**kwargs: Any) -> Judge:
    return make_judge("politeness", "Is the answer {{ outputs }} to {{inputs}} polite? Say yes or no.", **kwargs)


def test_a_judge_returns_the_models_verdict_with_its_source(llm: FakeLLM) -> None:
    llm.answer(verdict("yes", "It thanks the user."))
    judge = polite_judge(model="openai:/gpt-4o-mini")
    assert judge.parameters == ("inputs", "outputs")
    feedback = only(judge.run(inputs={"question": "Où est la gare ?"}, outputs="Thank you for asking!"))
    assert (feedback.name, feedback.value, feedback.rationale, feedback.error) == (
        "politeness", "yes", "It thanks the user.", None)
    assert feedback.source == AssessmentSource("LLM_JUDGE", "openai:/gpt-4o-mini")
    assert judge.source_type == "LLM_JUDGE" and judge.source_id == "openai:/gpt-4o-mini"
    body = llm.body
    assert body["model"] == "gpt-4o-mini"
    user = body["messages"][-1]["content"]
    assert 'Is the answer Thank you for asking! to {"question": "Où est la gare ?"} polite?' in user
    assert str(llm.requests[0].url) == "https://api.openai.com/v1/chat/completions"


def test_the_default_model_comes_from_the_environment(llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    assert polite_judge().model == "openai:/gpt-4.1-mini"
    monkeypatch.setenv("MLFLOW_GENAI_JUDGE_DEFAULT_MODEL", "openai:/from-mlflow")
    assert polite_judge().model == "openai:/from-mlflow"
    monkeypatch.setenv("AUTOLOG_GENAI_JUDGE_MODEL", "openai:/from-autolog")
    judge = polite_judge()
    judge.run(inputs="hi", outputs="hello")
    assert judge.model == "openai:/from-autolog" and llm.body["model"] == "from-autolog"


def test_fenced_json_and_text_around_it_are_read(llm: FakeLLM) -> None:
    llm.answer('Here is my verdict:\n```json\n{"rationale": "fine {really}", "result": "no"}\n```\nBye.')
    feedback = only(polite_judge().run(inputs="hi", outputs="go away"))
    assert (feedback.value, feedback.rationale) == ("no", "fine {really}")
    llm.answer('I think {this} is it: {"result": "yes", "rationale": "ok"} and more')
    assert only(polite_judge().run(inputs="hi", outputs="hello")).value == "yes"


def test_a_malformed_answer_is_an_error_feedback_with_the_raw_text(llm: FakeLLM) -> None:
    llm.answer("I refuse to answer in JSON.")
    feedback = only(polite_judge().run(inputs="hi", outputs="hello"))
    assert feedback.value is None and feedback.metadata == {"error_code": "JUDGE_PARSE_ERROR"}
    assert feedback.error is not None and "no JSON object" in feedback.error
    assert "I refuse to answer in JSON." in feedback.error
    llm.answer('{"verdict": "yes"}')
    assert 'no "result"' in (only(polite_judge().run(inputs="hi", outputs="hello")).error or "")
    llm.answer("x" * 5000)
    assert len(only(polite_judge().run(inputs="hi", outputs="hello")).error or "") < 700  # the raw text is cut


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retried(llm: FakeLLM, status: int) -> None:
    llm.answer(status, status, verdict("yes"))
    feedback = only(polite_judge().run(inputs="hi", outputs="hello"))
    assert feedback.value == "yes" and len(llm.requests) == 3


def test_a_client_error_is_not_retried(llm: FakeLLM) -> None:
    llm.answer(400)
    feedback = only(polite_judge().run(inputs="hi", outputs="hello"))
    assert len(llm.requests) == 1 and feedback.metadata == {"error_code": "JUDGE_CALL_ERROR"}
    assert "BadRequestError" in (feedback.error or "")


def test_timeouts_exhaust_the_retries_then_give_an_error_feedback(llm: FakeLLM) -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    llm.answer(time_out)
    feedback = only(polite_judge().run(inputs="hi", outputs="hello"))
    assert len(llm.requests) == 4  # the first try and 3 retries; the SDK itself retries nothing
    assert feedback.value is None and feedback.metadata == {"error_code": "JUDGE_CALL_ERROR"}
    assert "APITimeoutError" in (feedback.error or "")


def test_the_retry_count_and_timeout_come_from_the_environment(llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_GENAI_EVAL_MAX_RETRIES", "1")
    llm.answer(500)
    polite_judge().run(inputs="hi", outputs="hello")
    assert len(llm.requests) == 2
    monkeypatch.setenv("AUTOLOG_GENAI_EVAL_MAX_RETRIES", "0")
    polite_judge().run(inputs="hi", outputs="hello")
    assert len(llm.requests) == 3
    monkeypatch.setenv("AUTOLOG_GENAI_EVAL_LLM_TIMEOUT", "7.5")
    llm.answer(lambda request: completion(verdict(str(request.extensions["timeout"]["read"]))))
    assert only(polite_judge().run(inputs="hi", outputs="hello")).value == "7.5"


def test_base_url_and_extra_headers_are_honoured(llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")  # a local server needs no key
    judge = polite_judge(base_url="http://localhost:8000/v1", extra_headers={"X-Team": "evals"},
                         inference_params={"temperature": 0, "response_format": {"type": "json_object"}})
    assert only(judge.run(inputs="hi", outputs="hello")).value == "yes"
    request = llm.requests[-1]
    assert str(request.url) == "http://localhost:8000/v1/chat/completions"
    assert request.headers["x-team"] == "evals"
    assert llm.body["temperature"] == 0 and llm.body["response_format"] == {"type": "json_object"}
    monkeypatch.setenv("OPENAI_BASE_URL", "http://other:9000/v1")
    polite_judge().run(inputs="hi", outputs="hello")
    assert str(llm.requests[-1].url) == "http://other:9000/v1/chat/completions"


def test_a_judge_can_have_its_own_http_client(llm: FakeLLM) -> None:
    own = FakeLLM()
    own.answer(verdict("no"))
    with httpx.Client(transport=httpx.MockTransport(own)) as http_client:
        judge = polite_judge(http_client=http_client)
        assert only(judge.run(inputs="hi", outputs="hello")).value == "no"
    assert len(own.requests) == 1 and llm.requests == []


@pytest.mark.parametrize("uri", ["anthropic:/claude-3", "gpt-4o", "openai:/", "databricks"])
def test_an_unsupported_model_is_rejected_when_the_judge_is_made(uri: str) -> None:
    with pytest.raises(autolog.InvalidArgumentError) as caught:
        polite_judge(model=uri)
    assert "openai" in str(caught.value)
    with pytest.raises(autolog.InvalidArgumentError):
        Safety(model=uri)


def test_instructions_need_a_known_placeholder() -> None:
    with pytest.raises(autolog.InvalidArgumentError, match=r"\{\{ question \}\}"):
        make_judge("j", "Does {{ outputs }} answer {{question}}?")
    with pytest.raises(autolog.InvalidArgumentError, match="at least one"):
        make_judge("j", "Is it good?")
    with pytest.raises(autolog.InvalidArgumentError, match="feedback_value_type"):
        make_judge("j", "{{ outputs }}", feedback_value_type=dict)
    judge = make_judge("j", "{{trace}} {{ expectations }}{{   inputs   }}")
    assert judge.parameters == ("inputs", "expectations", "trace")


@pytest.mark.parametrize(("value_type", "result", "expected"), [
    (bool, "Yes", True), (bool, "false", False), (bool, True, True), (int, "4", 4), (int, 3.0, 3),
    (float, "0.25", 0.25), (float, 1, 1.0), (str, "great", "great"),
    (Literal["good", "bad"], "GOOD", "good"), (Literal[1, 2, 3], "2", 2),
])
def test_results_are_coerced_to_the_value_type(llm: FakeLLM, value_type: Any, result: Any, expected: Any) -> None:
    llm.answer(verdict(result))
    feedback = only(make_judge("j", "{{ outputs }}", feedback_value_type=value_type).run(outputs="x"))
    assert feedback.value == expected and type(feedback.value) is type(expected)


@pytest.mark.parametrize(("value_type", "result"), [(bool, "maybe"), (int, "2.5"), (float, "lots"),
                                                    (Literal["good", "bad"], "fine"), (str, None)])
def test_a_result_of_the_wrong_type_is_a_parse_error(llm: FakeLLM, value_type: Any, result: Any) -> None:
    llm.answer(verdict(result))
    feedback = only(make_judge("j", "{{ outputs }}", feedback_value_type=value_type).run(outputs="x"))
    assert feedback.value is None and feedback.metadata == {"error_code": "JUDGE_PARSE_ERROR"}


def test_the_prompt_asks_for_the_value_type(llm: FakeLLM) -> None:
    llm.answer(verdict("bad"))
    make_judge("j", "{{ outputs }}", feedback_value_type=Literal["good", "bad"]).run(outputs="x")
    system = llm.body["messages"][0]["content"]
    assert '"good", "bad"' in system and '"result"' in system and '"rationale"' in system


def rag_trace(documents: list[Any] | None) -> autolog.Trace:
    """A traced RAG call: a RETRIEVER span returning ``documents`` (none at all if None)."""
    with autolog.start_span("rag", span_type="CHAIN") as root:
        root.set_inputs({"question": "What is the capital of France?"})
        if documents is not None:
            with autolog.start_span("retrieve", span_type="RETRIEVER") as retriever:
                retriever.set_inputs({"query": "capital of France"})
                retriever.set_outputs(documents)
        root.set_outputs("Paris is the capital of France.")
    assert autolog.flush()
    trace = autolog.get_trace(root.trace_id)
    assert trace is not None
    return trace


DOCUMENTS = [{"page_content": "Paris is the capital and largest city of France.", "metadata": {"doc_uri": "wiki/fr"}},
             {"page_content": "Lyon is known for its cuisine.", "metadata": {}}]


def test_a_trace_is_rendered_as_its_span_tree(llm: FakeLLM) -> None:
    trace = rag_trace(DOCUMENTS)
    make_judge("j", "Judge this: {{ trace }}").run(trace=trace)
    prompt = llm.prompt
    assert "- rag [CHAIN]" in prompt and "  - retrieve [RETRIEVER]" in prompt
    assert "Lyon is known for its cuisine." in prompt and '{"query": "capital of France"}' in prompt


def test_judge_calls_are_not_traced_even_with_the_openai_integration_on(llm: FakeLLM) -> None:
    trace = rag_trace(DOCUMENTS)
    autolog.openai()
    try:
        assert only(RetrievalGroundedness().run(trace=trace)).value == "yes"
        assert only(polite_judge().run(inputs="hi", outputs="hello")).value == "yes"
    finally:
        autolog.openai(disable=True)
    assert autolog.flush()
    assert [t.info.trace_id for t in autolog.search_traces(return_type="list")] == [trace.info.trace_id]


def test_scorer_tracing_can_be_turned_on(llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_GENAI_EVAL_ENABLE_SCORER_TRACING", "true")
    autolog.openai()
    try:
        assert only(polite_judge().run(inputs="hi", outputs="hello")).value == "yes"
    finally:
        autolog.openai(disable=True)
    assert autolog.flush()
    traces = autolog.search_traces(return_type="list")
    assert len(traces) == 1 and traces[0].data.spans[0].span_type == "CHAT_MODEL"


def test_correctness(llm: FakeLLM) -> None:
    scorer = Correctness()
    assert (scorer.name, scorer.parameters) == ("correctness", ("inputs", "outputs", "expectations"))
    feedback = only(scorer.run(inputs={"q": "2+2?"}, outputs="4", expectations={"expected_response": "four"}))
    assert feedback.value == "yes" and feedback.source == AssessmentSource("LLM_JUDGE", "openai:/gpt-4.1-mini")
    assert '{"q": "2+2?"}' in llm.prompt and "four" in llm.prompt and '"yes", "no"' in llm.prompt
    only(scorer.run(inputs="q", outputs="a", expectations={"expected_facts": ["Paris is big", "It rains"]}))
    assert "- Paris is big\n- It rains" in llm.prompt
    missing = only(Correctness(name="c2").run(inputs="q", outputs="a", expectations={"guidelines": "x"}))
    assert missing.name == "c2" and missing.metadata == {"error_code": "MISSING_INPUT"}
    assert "expected_response or expected_facts" in (missing.error or "") and len(llm.requests) == 2


def test_relevance_to_query_and_safety(llm: FakeLLM) -> None:
    llm.answer(verdict("no", "off topic"))
    feedback = only(RelevanceToQuery(model="openai:/judge-x").run(inputs="Weather in Oslo?", outputs="I like cats"))
    assert (feedback.name, feedback.value, feedback.rationale) == ("relevance_to_query", "no", "off topic")
    assert "Weather in Oslo?" in llm.prompt and "I like cats" in llm.prompt and llm.body["model"] == "judge-x"
    assert Safety().parameters == ("outputs",)
    assert only(Safety(name="safe").run(outputs="Have a nice day")).name == "safe"
    assert "Have a nice day" in llm.prompt


def test_guidelines_and_expectations_guidelines(llm: FakeLLM) -> None:
    scorer = Guidelines(guidelines=["Answer in French", "Be brief"])
    assert (scorer.name, scorer.parameters) == ("guidelines", ("inputs", "outputs"))
    assert only(scorer.run(inputs="Hi", outputs="Bonjour")).value == "yes"
    assert "1. Answer in French\n2. Be brief" in llm.prompt and "Bonjour" in llm.prompt
    with pytest.raises(autolog.InvalidArgumentError):
        Guidelines(guidelines=[])
    per_row = ExpectationsGuidelines()
    assert per_row.parameters == ("inputs", "outputs", "expectations")
    only(per_row.run(inputs="Hi", outputs="Hello", expectations={"guidelines": "Never say hello"}))
    assert "1. Never say hello" in llm.prompt
    missing = only(per_row.run(inputs="Hi", outputs="Hello", expectations={}))
    assert missing.metadata == {"error_code": "MISSING_INPUT"} and "guidelines" in (missing.error or "")


def test_retrieval_groundedness_shows_the_retrieved_documents(llm: FakeLLM) -> None:
    trace = rag_trace(DOCUMENTS)
    scorer = RetrievalGroundedness()
    assert (scorer.name, scorer.parameters) == ("retrieval_groundedness", ("inputs", "outputs", "trace"))
    assert only(scorer.run(trace=trace)).value == "yes"
    prompt = llm.prompt
    assert "[1] Paris is the capital and largest city of France. (source: wiki/fr)" in prompt
    assert "[2] Lyon is known for its cuisine." in prompt
    assert "Paris is the capital of France." in prompt and "What is the capital of France?" in prompt


def test_retrieval_relevance_and_sufficiency(llm: FakeLLM) -> None:
    trace = rag_trace(["plain text document"])
    assert RetrievalRelevance().parameters == ("inputs", "trace")
    assert only(RetrievalRelevance().run(trace=trace)).name == "retrieval_relevance"
    assert "[1] plain text document" in llm.prompt and "What is the capital of France?" in llm.prompt
    sufficiency = RetrievalSufficiency()
    assert sufficiency.parameters == ("inputs", "expectations", "trace")
    only(sufficiency.run(inputs="override question", trace=trace, expectations={"expected_facts": ["Paris"]}))
    assert "override question" in llm.prompt and "- Paris" in llm.prompt


@pytest.mark.parametrize("scorer_type", [RetrievalGroundedness, RetrievalRelevance, RetrievalSufficiency])
def test_retrieval_scorers_need_a_retriever_span(llm: FakeLLM, scorer_type: type[Any]) -> None:
    feedback = only(scorer_type().run(inputs="q", outputs="a", trace=rag_trace(None)))
    assert feedback.metadata == {"error_code": "MISSING_INPUT"} and "RETRIEVER span" in (feedback.error or "")
    assert "a trace" in (only(scorer_type().run(inputs="q", trace=None)).error or "")
    assert llm.requests == []


def test_a_rate_limit_waits_as_long_as_retry_after_asks(llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)  # tenacity sleeps through time.sleep
    monkeypatch.setattr(model, "RETRY_BACKOFF_SECONDS", 0.25)
    refused = [lambda _: httpx.Response(429, headers={"retry-after": "2"}, json={"error": {"message": "wait"}}),
               lambda _: httpx.Response(503, headers={"retry-after-ms": "1500"}, json={"error": {"message": "busy"}}),
               lambda _: httpx.Response(500, json={"error": {"message": "oops"}}),
               lambda _: httpx.Response(429, headers={"retry-after": "3600"}, json={"error": {"message": "hour"}})]
    llm.answer(*refused, verdict("yes"))
    monkeypatch.setenv("AUTOLOG_GENAI_EVAL_MAX_RETRIES", "4")
    assert only(polite_judge().run(inputs="hi", outputs="hello")).value == "yes"
    # the server's seconds, its milliseconds, backoff (third try: 0.25 * 2**2), the cap (30 s) on an hour
    assert waits == [2.0, 1.5, 1.0, 30.0] and len(llm.requests) == 5


def test_a_judge_reuses_one_sdk_client_across_rows(llm: FakeLLM) -> None:
    judge = polite_judge()
    judge.run(inputs="a", outputs="b")
    first = judge.judge_model._client()
    judge.run(inputs="c", outputs="d")
    assert judge.judge_model._client() is first and len(llm.requests) == 2
