"""Real OpenTelemetry senders into ``POST /v1/traces`` of the app served by uvicorn on a loopback port.

The OpenTelemetry SDK's own OTLP/HTTP exporter (protobuf, batch processor) with GenAI attributes, and
OpenInference's OpenAI instrumentor around the real ``openai`` SDK (its HTTP answered by ``httpx.MockTransport``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

import autolog
from autolog._server.app import create_app
from tests.serving import Served


@pytest.fixture
def server(store: autolog.Client) -> Iterator[str]:
    """The app over the test's store, served by uvicorn in a thread; yields its /v1/traces URL."""
    with Served(create_app(store.tracking_uri)) as served:
        yield f"{served.url}/v1/traces"


def _provider(url: str, service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    return provider


def _tree(trace: Any) -> dict[str, Any]:
    """name -> (type, parent's name, inputs, outputs, usage, model) of every span."""
    names = {s.span_id: s.name for s in trace.data.spans}
    return {s.name: (s.span_type, names.get(s.parent_id), s.inputs, s.outputs,
                     s.recorded_attributes.get("mlflow.chat.tokenUsage"), s.recorded_attributes.get("mlflow.llm.model"))
            for s in trace.data.spans}


def test_the_opentelemetry_sdk_exports_a_genai_span_tree_that_autolog_stores(store: autolog.Client,
                                                                            server: str) -> None:
    provider = _provider(server, "support-bot")
    tracer = provider.get_tracer("my.app", "1.2")
    question = [{"role": "user", "parts": [{"type": "text", "content": "<script>alert(1)</script> reset?"}]}]
    answer = [{"role": "assistant", "parts": [{"type": "text", "content": "Use 'Forgot password'."}]}]
    with tracer.start_as_current_span("agent", attributes={
            "gen_ai.operation.name": "invoke_agent", "session.id": "s-1", "user.id": "ann",
            "mlflow.trace.tag.env": "prod", "mlflow.trace.metadata.release": "7", "app.region": "eu"}) as root:
        with tracer.start_as_current_span("embed", attributes={
                "gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
                "gen_ai.usage.input_tokens": 8}):
            pass
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30, "gen_ai.usage.cache_read.input_tokens": 100,
                "gen_ai.input.messages": json.dumps(question), "gen_ai.output.messages": json.dumps(answer)}):
            pass
        with tracer.start_as_current_span("execute_tool lookup", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup",
                "gen_ai.tool.call.arguments": '{"user": "ann"}', "gen_ai.tool.call.result": '{"found": true}'}
                ) as tool:
            tool.record_exception(KeyError("cache miss"))
            tool.set_status(Status(StatusCode.ERROR, "cache miss"))
        trace_id = f"tr-{root.get_span_context().trace_id:032x}"
    assert provider.force_flush(10_000)
    provider.shutdown()

    trace = store.get_trace(trace_id)
    assert trace.info.state == "OK"
    assert trace.info.experiment_id == "0"
    assert trace.info.tags["mlflow.traceName"] == "agent"
    assert trace.info.tags["env"] == "prod"
    metadata = trace.info.trace_metadata
    assert metadata["release"] == "7"
    assert metadata["otel.service.name"] == "support-bot"
    assert metadata["mlflow.trace.session"] == "s-1" and metadata["mlflow.trace.user"] == "ann"
    # usage summed over the spans that report it: the embedding and the chat
    assert json.loads(metadata["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 128, "output_tokens": 30, "total_tokens": 158, "cache_read_input_tokens": 100}
    usage = {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150, "cache_read_input_tokens": 100}
    assert _tree(trace) == {
        "agent": ("AGENT", None, None, None, None, None),
        "embed": ("EMBEDDING", "agent", None, None, {"input_tokens": 8, "total_tokens": 8}, "text-embedding-3-small"),
        "chat gpt-4o-mini": ("CHAT_MODEL", "agent", {"messages": question}, {"messages": answer}, usage,
                             "gpt-4o-mini-2024-07-18"),
        "execute_tool lookup": ("TOOL", "agent", {"user": "ann"}, {"found": True}, None, None),
    }
    spans = {s.name: s for s in trace.data.spans}
    chat = spans["chat gpt-4o-mini"]
    assert chat.recorded_attributes["mlflow.llm.cost"]["total_cost"] > 0  # priced as autolog prices its own
    assert json.loads(metadata["mlflow.trace.cost"])["total_cost"] > 0
    assert chat.recorded_attributes["gen_ai.usage.input_tokens"] == 120  # the sender's attributes stay
    assert spans["agent"].recorded_attributes["app.region"] == "eu"
    assert spans["agent"].recorded_attributes["otel.scope.name"] == "my.app"
    assert "mlflow.trace.tag.env" not in spans["agent"].recorded_attributes  # moved to the trace's tags
    tool_span = spans["execute_tool lookup"]
    assert (tool_span.status.status_code, tool_span.status.description) == ("ERROR", "cache miss")
    [event] = tool_span.events
    assert event.name == "exception" and event.attributes["exception.type"] == "KeyError"
    assert event.attributes["exception.message"] == "'cache miss'" and event.attributes["exception.stacktrace"]
    found = store.search_traces(filter_string="metadata.`otel.service.name` = 'support-bot'")
    assert [t.info.trace_id for t in found] == [trace_id]


_COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "Paris.", "refusal": None}}],
    "usage": {"prompt_tokens": 14, "completion_tokens": 2, "total_tokens": 16,
              "prompt_tokens_details": {"cached_tokens": 0}},
}


def test_openinference_openai_instrumentor_spans_land_as_a_chat_model_span(store: autolog.Client,
                                                                           server: str) -> None:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    provider = _provider(server, "openinference-app")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=_COMPLETION))
        client = openai.OpenAI(api_key="sk-test", base_url="http://openai.test/v1",
                               http_client=httpx.Client(transport=transport))
        reply = client.chat.completions.create(model="gpt-4o-mini",
                                               messages=[{"role": "user", "content": "Capital of France?"}])
        assert reply.choices[0].message.content == "Paris."
        assert provider.force_flush(10_000)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    [trace] = store.search_traces(filter_string="metadata.`otel.service.name` = 'openinference-app'")
    assert trace.info.state == "OK"
    [span] = trace.data.spans
    assert span.span_type == "CHAT_MODEL"  # an OpenInference LLM span with chat messages
    assert span.inputs["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert span.inputs["model"] == "gpt-4o-mini"
    assert span.outputs["choices"][0]["message"]["content"] == "Paris."
    attributes = span.recorded_attributes
    assert attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 14, "output_tokens": 2, "total_tokens": 16,
                                                    "cache_read_input_tokens": 0}
    assert attributes["mlflow.llm.model"] == "gpt-4o-mini-2024-07-18"
    assert attributes["mlflow.llm.cost"]["total_cost"] > 0
    assert attributes["llm.input_messages.0.message.content"] == "Capital of France?"  # kept as sent
    assert trace.info.request_preview == "Capital of France?"
    assert trace.info.response_preview == "Paris."
    assert json.loads(trace.info.trace_metadata["mlflow.trace.tokenUsage"])["total_tokens"] == 16
