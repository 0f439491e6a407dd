"""autolog.openai() with the real SDK on in-process mock transports: every path a call can take."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pydantic
import pytest
import wrapt

import autolog
from tests.trees import span_tree

REPO = Path(__file__).resolve().parents[2]
OPENAI_MAJOR = int(openai.__version__.split(".")[0])
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
         "prompt_tokens_details": {"cached_tokens": 8}, "completion_tokens_details": {"reasoning_tokens": 3}}


def chat_body(content: str = "Hello!", model: str = "gpt-4o-2024-08-06", **message: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content, **message}}], "usage": USAGE}


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-2024",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


STREAM = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}), chunk({"content": "lo"}),
          chunk({}, "stop")]
USAGE_CHUNK = {**chunk({}), "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}


def sse(events: list[dict[str, Any]]) -> bytes:
    return ("".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n").encode()


class Server:
    """A fake OpenAI API: records requests, answers chat (plain or SSE), embeddings, responses, completions."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_status: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.fail_status:
            return httpx.Response(self.fail_status, json={"error": {"message": "boom", "type": "server_error"}})
        path = request.url.path
        if path.endswith("/embeddings"):
            return httpx.Response(200, json={"object": "list", "model": "text-embedding-3-small",
                                             "data": [{"object": "embedding", "index": i, "embedding": [0.1] * 8}
                                                      for i, _ in enumerate(body["input"])],
                                             "usage": {"prompt_tokens": 4, "total_tokens": 4}})
        if path.endswith("/responses"):
            return httpx.Response(200, json=RESPONSE)
        if path.endswith("/v1/completions"):
            return httpx.Response(200, json={"id": "cmpl-1", "object": "text_completion", "created": 1,
                                             "model": "gpt-3.5-turbo-instruct", "choices": [
                                                 {"index": 0, "text": "legacy text", "finish_reason": "stop",
                                                  "logprobs": None}],
                                             "usage": {"prompt_tokens": 3, "completion_tokens": 2,
                                                       "total_tokens": 5}})
        if body.get("stream"):
            events = list(STREAM)
            if (body.get("stream_options") or {}).get("include_usage"):
                events.append(USAGE_CHUNK)
            return httpx.Response(200, content=sse(events), headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=chat_body())


RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1, "model": "o4-mini-2025", "status": "completed",
            "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": "Paris", "annotations": []}]}],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "usage": {"input_tokens": 20, "output_tokens": 30, "total_tokens": 50,
                      "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens_details": {"reasoning_tokens": 24}}}


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-secret", max_retries=0,
                         http_client=httpx.Client(transport=httpx.MockTransport(server)))


@pytest.fixture
def aclient(server: Server) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-secret", max_retries=0,
                              http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)))


@pytest.fixture(autouse=True)
def patched() -> Iterator[None]:
    autolog.openai()
    yield
    autolog.openai(disable=True)


def only_trace() -> autolog.Trace:
    (trace,) = autolog.search_traces(return_type="list")
    return trace


MESSAGES = [{"role": "user", "content": "Say hello"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def test_chat_call_inside_a_traced_function_is_a_child_span(client: openai.OpenAI) -> None:
    @autolog.trace(span_type="AGENT")
    def agent(question: str) -> str:
        reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS,
                                               extra_headers={"X-Secret": "token"})
        return reply.choices[0].message.content or ""

    assert agent("hi") == "Hello!"
    trace = only_trace()
    assert span_tree(trace, ("name", "span_type", "status", "usage", "model")) == [
        ("agent", "AGENT", "OK", None, None, [
            ("Completions", "CHAT_MODEL", "OK",
             {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17, "cache_read_input_tokens": 8,
              "reasoning_tokens": 3}, "gpt-4o-2024-08-06", []),
        ]),
    ]
    llm = trace.data.spans[1]
    assert llm.inputs == {"model": "gpt-4o", "messages": MESSAGES, "tools": TOOLS}  # no headers, no key
    assert "sk-secret" not in trace.to_json() and "token" not in json.dumps(llm.inputs)
    assert llm.outputs["choices"][0]["message"]["content"] == "Hello!"
    assert llm.attributes["mlflow.chat.tools"] == TOOLS and llm.attributes["mlflow.message.format"] == "openai"
    assert trace.info.token_usage == {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17,
                                      "cache_read_input_tokens": 8, "reasoning_tokens": 3}


def test_request_is_recorded_as_sent_even_if_the_caller_changes_it_afterwards(client: openai.OpenAI,
                                                                             encoded_by: str) -> None:
    """A chat loop appends the reply to the same list it sent: the trace keeps what was sent."""
    messages: list[Any] = [{"role": "user", "content": "Say hello"}]
    reply = client.chat.completions.create(model="gpt-4o", messages=messages)
    messages.append(reply.choices[0].message)
    messages[0]["content"] = "changed"
    second = client.chat.completions.create(model="gpt-4o", messages=messages)
    assert second.choices[0].message.content == "Hello!"
    first_span, second_span = (t.data.spans[0] for t in autolog.search_traces(order_by=["timestamp_ms ASC"],
                                                                               return_type="list"))
    assert first_span.inputs == {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello"}]}
    assert [m["role"] for m in second_span.inputs["messages"]] == ["user", "assistant"]
    assert second_span.inputs["messages"][1]["content"] == "Hello!"


@pytest.fixture(params=["worker", "caller"])
def encoded_by(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Traces are encoded by the export worker, or on the caller's thread when the worker lags behind."""
    if request.param == "caller":
        monkeypatch.setattr("autolog._export.pipeline._ENCODE_ON_CALLER_AT", 0)
    return str(request.param)


def test_a_stored_call_leaves_nothing_for_the_garbage_collector(client: openai.OpenAI, encoded_by: str) -> None:
    """Once stored, spans and traces are freed by reference counting: no cycle is left for the collector."""
    from autolog._tracing.live import LiveSpan, LiveTrace

    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # warm-up: imports, worker
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert autolog.flush(30)
        alive = [o for o in gc.get_objects() if isinstance(o, (LiveTrace, LiveSpan))]
    finally:
        gc.enable()
    assert alive == []
    assert len(autolog.search_traces(return_type="list")) == 21


def test_a_span_started_after_the_call_was_stored_joins_its_trace(client: openai.OpenAI, encoded_by: str) -> None:
    """Work that outlives the call (a task spawned inside it) re-sends the trace with its span and usage."""
    import contextvars

    captured: list[contextvars.Context] = []

    def hook(request: httpx.Request) -> None:
        captured.append(contextvars.copy_context())  # a context in which the OpenAI span is current

    client._client.event_hooks["request"].append(hook)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client._client.event_hooks["request"].remove(hook)
    assert autolog.flush()
    (stored,) = autolog.search_traces(return_type="list")
    assert span_tree(stored) == [("Completions", "CHAT_MODEL", [])]

    def late_work() -> None:
        with autolog.start_span("late", span_type="TOOL"):
            pass

    captured[0].run(late_work)
    trace = only_trace()
    assert span_tree(trace, ("name", "span_type", "usage")) == [
        ("Completions", "CHAT_MODEL", {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17,
                                       "cache_read_input_tokens": 8, "reasoning_tokens": 3},
         [("late", "TOOL", None, [])]),
    ]
    assert trace.info.token_usage == span_tree(trace, ("usage",))[0][0]
    assert trace.info.request_preview == stored.info.request_preview and trace.info.state == "OK"


def test_call_outside_any_span_is_its_own_trace_linked_to_the_active_model(client: openai.OpenAI) -> None:
    model = autolog.set_active_model(name="bot-v1")
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    traces = autolog.search_traces(return_type="list")
    assert len(traces) == 2
    assert all(t.info.trace_metadata["mlflow.modelId"] == model.model_id for t in traces)
    assert all(span_tree(t) == [("Completions", "CHAT_MODEL", [])] for t in traces)


def test_stream_is_unchanged_for_the_caller_and_usage_is_exact(client: openai.OpenAI, server: Server) -> None:
    autolog.openai(disable=True)
    plain = [c.model_dump() for c in client.chat.completions.create(model="m", messages=MESSAGES, stream=True)]
    autolog.openai()
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    traced = [c.model_dump() for c in stream]
    assert traced == plain  # the usage-only chunk we asked for is hidden
    assert server.requests[-1]["stream_options"] == {"include_usage": True}
    assert "stream_options" not in server.requests[0]
    (span,) = only_trace().data.spans
    assert span.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 9, "output_tokens": 2, "total_tokens": 11}
    assert span.outputs["choices"] == [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": "Hello"}}]
    assert span.attributes["mlflow.llm.model"] == "gpt-4o-mini-2024"
    assert span.attributes["autolog.stream.chunks"] == 5


def test_caller_requested_usage_chunk_is_passed_through(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    (span,) = only_trace().data.spans
    assert span.attributes["mlflow.chat.tokenUsage"]["total_tokens"] == 11


def test_include_usage_false_leaves_the_request_alone(client: openai.OpenAI, server: Server) -> None:
    autolog.openai(include_usage=False)
    list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert "stream_options" not in server.requests[-1]
    assert "mlflow.chat.tokenUsage" not in only_trace().data.spans[0].attributes
    autolog.openai(include_usage=True)


@pytest.mark.parametrize("how", ["with", "close", "gc"])
def test_stream_span_ends_once_however_the_caller_stops(client: openai.OpenAI, how: str) -> None:
    if how == "with":
        with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
            next(iter(stream))
    elif how == "close":
        stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        next(iter(stream))
        stream.close()
        stream.close()
    else:
        stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        next(iter(stream))
        next(iter(stream))
        del stream
        gc.collect()
    (span,) = only_trace().data.spans
    assert span.end_time_ns is not None and span.status.status_code == "OK"
    assert span.attributes["autolog.stream.ended_by"] == ("garbage_collected" if how == "gc" else "closed")
    assert span.outputs["choices"][0]["message"]["content"] == ("Hel" if how == "gc" else None)


def test_error_mid_stream_ends_span_as_error_and_propagates(server: Server) -> None:
    class Broken(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield sse(STREAM[:2])[: -len(b"data: [DONE]\n\n")]
            raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Broken(), headers={"content-type": "text/event-stream"})

    client = openai.OpenAI(api_key="k", max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    seen = []
    # openai 3.x wraps a transport error read mid-stream in APIConnectionError (its __cause__); 1.x/2.x raise it as is.
    expected = openai.APIConnectionError if OPENAI_MAJOR >= 3 else httpx.ReadError
    with pytest.raises(expected) as caught:
        for c in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
            seen.append(c.choices[0].delta.content)
    transport_error = caught.value.__cause__ if OPENAI_MAJOR >= 3 else caught.value
    assert isinstance(transport_error, httpx.ReadError) and str(transport_error) == "connection reset"
    assert seen == ["", "Hel"]
    trace = only_trace()
    (span,) = trace.data.spans
    assert trace.info.state == "ERROR" and span.status.status_code == "ERROR"
    assert span.events[0].attributes["exception.type"].endswith(f".{type(caught.value).__name__}")
    assert span.events[0].attributes["exception.message"] == str(caught.value)
    assert span.outputs["choices"][0]["message"]["content"] == "Hel"


async def test_async_chat_and_stream(aclient: openai.AsyncOpenAI) -> None:
    reply = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert reply.choices[0].message.content == "Hello!"
    stream = await aclient.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    async with stream:
        texts = [c.choices[0].delta.content async for c in stream]
    assert texts == ["", "Hel", "lo", None]
    traces = autolog.search_traces(return_type="list", order_by=["timestamp_ms ASC"])
    assert [span_tree(t, ("name", "usage")) for t in traces] == [
        [("AsyncCompletions", {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17,
                               "cache_read_input_tokens": 8, "reasoning_tokens": 3}, [])],
        [("AsyncCompletions", {"input_tokens": 9, "output_tokens": 2, "total_tokens": 11}, [])],
    ]


@pytest.mark.parametrize(("status", "error"), [(400, openai.BadRequestError), (500, openai.InternalServerError)])
def test_api_errors_end_the_span_as_error_and_propagate_unchanged(client: openai.OpenAI, server: Server,
                                                                  status: int, error: type[Exception]) -> None:
    server.fail_status = status
    with pytest.raises(error) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES)
    trace = only_trace()
    (span,) = trace.data.spans
    assert trace.info.state == "ERROR"
    assert span.events[0].name == "exception"
    assert span.events[0].attributes["exception.type"] == f"openai.{error.__name__}"
    assert str(caught.value) in span.events[0].attributes["exception.message"]


def test_timeout_is_recorded_and_propagates() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = openai.OpenAI(api_key="k", max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert only_trace().info.state == "ERROR"


def test_responses_legacy_completions_and_embeddings(client: openai.OpenAI) -> None:
    assert client.responses.create(model="o4-mini", input="Capital of France?").output_text == "Paris"
    assert client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x").choices[0].text == "legacy text"
    emb = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(emb.data[0].embedding) == 8
    traces = autolog.search_traces(return_type="list", order_by=["timestamp_ms ASC"])
    assert [span_tree(t, ("name", "span_type", "usage", "model")) for t in traces] == [
        [("Responses", "CHAT_MODEL", {"input_tokens": 20, "output_tokens": 30, "total_tokens": 50,
                                      "cache_read_input_tokens": 4, "reasoning_tokens": 24}, "o4-mini-2025", [])],
        [("Completions", "LLM", {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
          "gpt-3.5-turbo-instruct", [])],
        [("Embeddings", "EMBEDDING", {"input_tokens": 4, "total_tokens": 4}, "text-embedding-3-small", [])],
    ]
    assert traces[2].data.spans[0].outputs["data"] == [
        {"index": 0, "object": "embedding", "embedding_dimensions": 8},
        {"index": 1, "object": "embedding", "embedding_dimensions": 8}]
    autolog.openai(log_embeddings=True)
    client.embeddings.create(model="text-embedding-3-small", input=["a"])
    newest = autolog.search_traces(return_type="list", max_results=1)[0]
    assert newest.data.spans[0].outputs["data"][0]["embedding"] == [0.1] * 8
    autolog.openai(log_embeddings=False)


def test_parse_with_structured_output(client: openai.OpenAI, server: Server) -> None:
    class City(pydantic.BaseModel):
        name: str

    server_body = chat_body(content='{"name": "Paris"}')

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=server_body)

    parser = openai.OpenAI(api_key="k", max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    parsed = parser.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=City)
    assert parsed.choices[0].message.parsed == City(name="Paris")
    (span,) = only_trace().data.spans  # parse is one span, not parse + create
    assert span.outputs["choices"][0]["message"]["parsed"] == {"name": "Paris"}
    assert span.attributes["mlflow.chat.tokenUsage"]["total_tokens"] == 17


def test_with_raw_response_is_parsed_without_disturbing_the_caller(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert raw.headers["content-type"] == "application/json"
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello!"
    (span,) = only_trace().data.spans
    assert span.outputs["choices"][0]["message"]["content"] == "Hello!"
    assert span.attributes["mlflow.chat.tokenUsage"]["total_tokens"] == 17
    with client.chat.completions.with_streaming_response.create(model="m", messages=MESSAGES) as response:
        assert json.loads(response.read())["id"] == "chatcmpl-1"


def test_azure_client_is_traced(server: Server) -> None:
    azure = openai.AzureOpenAI(api_key="k", api_version="2024-06-01", azure_endpoint="https://x.openai.azure.com",
                               max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(server)))
    azure.chat.completions.create(model="deployment", messages=MESSAGES)
    assert span_tree(only_trace()) == [("Completions", "CHAT_MODEL", [])]


def test_concurrent_threads_and_tasks_never_mix(client: openai.OpenAI, aclient: openai.AsyncOpenAI) -> None:
    @autolog.trace
    def worker(n: int) -> int:
        autolog.update_current_trace(tags={"n": str(n)})
        for _ in range(2):
            client.chat.completions.create(model="m", messages=MESSAGES)
        return n

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(worker, range(160))) == list(range(160))

    @autolog.trace
    async def task(n: int) -> int:
        autolog.update_current_trace(tags={"n": str(1000 + n)})
        await aclient.chat.completions.create(model="m", messages=MESSAGES)
        return n

    async def run_all() -> list[int]:
        return list(await asyncio.gather(*(task(n) for n in range(50))))

    assert asyncio.run(run_all()) == list(range(50))
    traces = autolog.search_traces(return_type="list")
    assert len(traces) == 210
    for t in traces:
        n = int(t.info.tags["n"])
        children = [("Completions", "CHAT_MODEL", [])] * 2 if n < 1000 else [("AsyncCompletions", "CHAT_MODEL", [])]
        assert span_tree(t) == [("worker" if n < 1000 else "task", "UNKNOWN", children)]


def test_log_traces_false_disable_and_double_enable(client: openai.OpenAI) -> None:
    from openai.resources.chat.completions import Completions

    autolog.openai()  # a second enable must not wrap the wrapper
    wrapper = Completions.__dict__["create"]
    assert isinstance(wrapper, wrapt.BaseObjectProxy) and not isinstance(wrapper.__wrapped__, wrapt.BaseObjectProxy)
    autolog.openai(log_traces=False)
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert autolog.search_traces(return_type="list") == []
    autolog.openai(disable=True)
    assert Completions.__dict__["create"] is wrapper.__wrapped__  # the original function, exactly
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert autolog.search_traces(return_type="list") == []
    autolog.openai()
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert len(autolog.search_traces(return_type="list")) == 1


def test_suppressed_calls_are_not_recorded(client: openai.OpenAI) -> None:
    with autolog.suppress_tracing():
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert autolog.search_traces(return_type="list") == []


def test_an_internal_failure_never_changes_the_result(client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    from autolog.integrations import openai as integration

    monkeypatch.delenv("AUTOLOG_RAISE_INTERNAL_ERRORS")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in autolog")

    before = autolog.stats()["internal_errors"]
    monkeypatch.setattr(integration, "response_attributes", broken)
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "Hello!"
    monkeypatch.setattr(integration, "_start", broken)
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "Hello!"
    assert autolog.flush(30)  # usage is read by the export worker
    assert autolog.stats()["internal_errors"] == before + 2
    [trace] = autolog.search_traces(return_type="list")  # the first call is still recorded, without usage
    assert trace.data.spans[0].outputs["choices"][0]["message"]["content"] == "Hello!"


def test_enabling_before_openai_is_imported(tmp_path: Path) -> None:
    code = """
import sys, json, httpx
assert "openai" not in sys.modules
import autolog
autolog.configure(sys.argv[1])
autolog.openai()
assert "openai" not in sys.modules  # enabling does not import the SDK
import openai
def handler(request):
    return httpx.Response(200, json=json.loads(sys.argv[2]))
client = openai.OpenAI(api_key="k", http_client=httpx.Client(transport=httpx.MockTransport(handler)))
client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
print(len(autolog.search_traces(return_type="list")))
"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code, f"sqlite:///{tmp_path / 'x.db'}", json.dumps(chat_body())],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_importing_autolog_never_imports_the_libraries() -> None:
    code = ("import sys, autolog; print(sorted(m for m in ('openai', 'langchain_core', 'llama_index') "
            "if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_stream_from_another_thread_keeps_its_trace(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    thread = threading.Thread(target=lambda: list(stream))
    thread.start()
    thread.join()
    (span,) = only_trace().data.spans
    assert span.outputs["choices"][0]["message"]["content"] == "Hello"


CHAT_SHAPES = [
    # (the request's messages, the reply's content): each previewed the same read off the objects or parsed
    ([{"role": "user", "content": "hi"}], "hello"),
    ([{"role": "system", "content": "be brief"}, {"role": "user", "content": "x" * 1500}], "y" * 1200),
    ([{"role": "user", "content": "first"}, {"role": "assistant", "content": "a"}, {"role": "tool", "content": "t",
                                                                                   "tool_call_id": "1"}], None),
    ([{"role": "user", "content": [{"type": "text", "text": "parts"}]}], ""),
    ([{"role": "user", "content": ""}], "ok"),
    ([{"role": "assistant", "content": "only the assistant"}], "ok"),
    ([{"role": "user"}, {"content": "no role"}], "ok"),
]


@pytest.mark.parametrize(("messages", "reply"), CHAT_SHAPES)
def test_previews_read_off_the_call_equal_the_parsed_ones(store: autolog.Client, messages: list[Any],
                                                          reply: str | None) -> None:
    import httpx
    import openai

    from tests.integrations.test_openai_acceptance import _records_both_ways

    body = {"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    client = openai.OpenAI(api_key="sk-x", max_retries=0, http_client=httpx.Client(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=body))))
    traces: list[Any] = []
    store._enqueue = traces.append
    autolog.openai()
    try:
        reply_message = client.chat.completions.create(model="gpt-4o-mini", messages=messages).choices[0].message
        # An SDK message object in the list (a chat loop appending the reply): the shortcut declines it.
        client.chat.completions.create(model="gpt-4o-mini", messages=[*messages, reply_message])
    finally:
        autolog.openai(disable=True)
    assert len(traces) == 2
    for fast, parsed in _records_both_ways(traces):
        assert fast == parsed
    taken = [t.fast_previews for t in traces]  # set when the outputs were resolved
    if reply and messages[-1].get("content") and messages[-1].get("role") == "user":
        assert taken[0] is not None and taken[0][1] is not None  # the shortcut was taken, not only declined
