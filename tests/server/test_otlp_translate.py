"""The conventions ``POST /v1/traces`` reads: MLflow's (JSON-encoded or native), OpenInference's, GenAI's (current
and the older flattened names), OpenLLMetry's; and every OTLP field and attribute kind kept."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

import autolog
from autolog._server.otlp_translate import translate_span

from .test_otlp_ingest import CHILD, ROOT, T0, TRACE, TRACE_ID, post, request, span


def _kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def _attributes(**attributes: Any) -> dict[str, Any]:
    """The recorded attributes of one span translated alone."""
    return translate_span(span("s", ROOT, **attributes)).attributes


def test_a_span_mlflow_or_autolog_exported_reads_back_as_recorded(api: TestClient, store: autolog.Client) -> None:
    """MLflow's exporter (and autolog's) sends every attribute as JSON text, ``mlflow.spanType`` too."""
    usage = {"input_tokens": 1000, "output_tokens": 200, "total_tokens": 1200}
    post(api, request(span("llm", ROOT, mlflow__spanType='"LLM"', mlflow__spanInputs='{"prompt": "hi"}',
                           mlflow__spanOutputs='"yo"', mlflow__chat__tokenUsage=json.dumps(usage),
                           mlflow__llm__model='"gpt-4o-mini"', mlflow__traceRequestId=f'"{TRACE_ID}"',
                           flag="true", note='"plain"', mlflow__trace__tag__team='"search"')))
    trace = store.get_trace(TRACE_ID)
    [llm] = trace.data.spans
    assert (llm.span_type, llm.inputs, llm.outputs) == ("LLM", {"prompt": "hi"}, "yo")
    attributes = llm.recorded_attributes
    assert attributes["mlflow.chat.tokenUsage"] == usage and attributes["mlflow.llm.model"] == "gpt-4o-mini"
    assert attributes["flag"] is True and attributes["note"] == "plain"
    assert "mlflow.traceRequestId" not in attributes and llm.attributes["mlflow.traceRequestId"] == TRACE_ID
    assert attributes["mlflow.llm.cost"]["total_cost"] > 0
    assert trace.info.tags["team"] == "search"


def test_native_mlflow_values_and_mlflows_tag_prefix() -> None:
    inputs = AnyValue(kvlist_value=KeyValueList(values=[_kv("query", AnyValue(string_value="shoes"))]))
    s = span("r", ROOT, mlflow__spanType="RETRIEVER", mlflow__traceTag__env="prod")
    s.attributes.append(_kv("mlflow.spanInputs", inputs))
    data = translate_span(s)
    assert (data.span_type, data.inputs, data.tags) == ("RETRIEVER", {"query": "shoes"}, {"env": "prod"})


def test_span_type_precedence_and_every_convention() -> None:
    def span_type(**attributes: Any) -> str:
        return translate_span(span("s", ROOT, **attributes)).span_type

    assert span_type(mlflow__spanType="PARSER", openinference__span__kind="LLM") == "PARSER"
    assert span_type(openinference__span__kind="CHAIN", gen_ai__operation__name="chat") == "CHAIN"
    assert span_type(openinference__span__kind="LLM") == "LLM"
    assert span_type(openinference__span__kind="LLM", **{"llm__input_messages__0__message__role": "user"}) \
        == "CHAT_MODEL"
    for kind in ("TOOL", "RETRIEVER", "EMBEDDING", "AGENT", "RERANKER", "GUARDRAIL", "EVALUATOR"):
        assert span_type(openinference__span__kind=kind) == kind
    for operation, expected in [("chat", "CHAT_MODEL"), ("text_completion", "LLM"), ("embeddings", "EMBEDDING"),
                                ("execute_tool", "TOOL"), ("invoke_agent", "AGENT"), ("create_agent", "AGENT")]:
        assert span_type(gen_ai__operation__name=operation) == expected
    assert span_type(llm__request__type="chat") == "CHAT_MODEL"
    assert span_type(traceloop__span__kind="workflow") == "WORKFLOW"
    assert span_type(http__method="GET") == "UNKNOWN"


def test_older_genai_flattened_messages_are_reassembled() -> None:
    data = translate_span(span("chat", ROOT, gen_ai__system="openai", gen_ai__request__model="gpt-4o",
                               llm__request__type="chat", gen_ai__usage__prompt_tokens=9,
                               gen_ai__usage__completion_tokens=3, llm__usage__total_tokens=12,
                               **{"gen_ai__prompt__0__role": "system", "gen_ai__prompt__0__content": "Be brief.",
                                  "gen_ai__prompt__1__role": "user", "gen_ai__prompt__1__content": "Hi",
                                  "gen_ai__completion__0__role": "assistant",
                                  "gen_ai__completion__0__finish_reason": "tool_calls",
                                  "gen_ai__completion__0__tool_calls__0__name": "lookup",
                                  "gen_ai__completion__0__tool_calls__0__arguments": '{"q": 1}'}))
    assert data.span_type == "CHAT_MODEL"
    assert data.inputs == {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}
    assert data.outputs == {"messages": [{"role": "assistant", "finish_reason": "tool_calls",
                                          "tool_calls": [{"name": "lookup", "arguments": '{"q": 1}'}]}]}
    assert data.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12}
    assert (data.attributes["mlflow.llm.model"], data.attributes["mlflow.llm.provider"]) == ("gpt-4o", "openai")
    assert not any(k.startswith(("gen_ai.prompt.", "gen_ai.completion.")) for k in data.attributes)
    assert data.attributes["gen_ai.usage.prompt_tokens"] == 9  # counts stay as sent


def test_openinference_values_usage_and_model() -> None:
    data = translate_span(span("llm", ROOT, openinference__span__kind="LLM", llm__model_name="claude-3-5-haiku",
                               llm__provider="anthropic", input__value="plain text question",
                               output__value='{"a": 1}', output__mime_type="application/json",
                               llm__token_count__prompt=20, llm__token_count__completion=4,
                               llm__token_count__total=24, llm__token_count__prompt_details__cache_read=16))
    assert (data.inputs, data.outputs) == ("plain text question", {"a": 1})
    assert data.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 20, "output_tokens": 4, "total_tokens": 24,
                                                         "cache_read_input_tokens": 16}
    assert data.attributes["mlflow.llm.model"] == "claude-3-5-haiku"
    assert data.attributes["mlflow.llm.provider"] == "anthropic"
    assert "input.value" not in data.attributes and "output.mime_type" not in data.attributes
    # text that is not declared JSON stays text
    assert translate_span(span("t", ROOT, input__value='{"x": 1}')).inputs == '{"x": 1}'
    # gen_ai.response.model (what answered) wins over the model asked for
    assert _attributes(gen_ai__request__model="gpt-4o", gen_ai__response__model="gpt-4o-2024-08-06")[
        "mlflow.llm.model"] == "gpt-4o-2024-08-06"


def test_session_user_version_and_trace_fields_of_the_root() -> None:
    data = translate_span(span("root", ROOT, session__id="s-9", user__id="bob", mlflow__modelId="m-3",
                               mlflow__trace__metadata__release="7", mlflow__trace__tag__env="prod"))
    assert data.tags == {"env": "prod"}
    assert data.metadata == {"release": "7", "mlflow.modelId": "m-3", "mlflow.trace.session": "s-9",
                             "mlflow.trace.user": "bob"}
    assert data.attributes["session.id"] == "s-9" and "mlflow.modelId" not in data.attributes


def test_every_otlp_field_and_attribute_kind_is_kept() -> None:
    s = span("client call", CHILD, ROOT, end=T0 + 7)
    s.kind = s.SPAN_KIND_CLIENT
    s.trace_state = "vendor=1"
    s.attributes.extend([
        _kv("list", AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(double_value=2.5)]))),
        _kv("map", AnyValue(kvlist_value=KeyValueList(values=[_kv("ok", AnyValue(bool_value=True))]))),
        _kv("raw", AnyValue(bytes_value=b"\x00\xff")), _kv("empty", AnyValue())])
    link = s.links.add()
    link.trace_id, link.span_id = TRACE, ROOT
    link.attributes.append(_kv("why", AnyValue(string_value="retry")))
    event = s.events.add()
    event.name, event.time_unix_nano = "exception", T0 + 3
    event.attributes.extend([_kv("exception.type", AnyValue(string_value="ValueError")),
                             _kv("exception.message", AnyValue(string_value="bad")),
                             _kv("exception.stacktrace", AnyValue(string_value="Traceback ..."))])

    class Scope:
        name, version = "my.lib", "2.0"

    data = translate_span(s, Scope())
    assert (data.trace_id, data.span_id, data.parent_id) == (TRACE_ID, CHILD.hex(), ROOT.hex())
    assert (data.start_time_ns, data.end_time_ns, data.status_code) == (T0, T0 + 7, "OK")
    assert data.attributes == {
        "list": [1, 2.5], "map": {"ok": True}, "raw": "AP8=", "empty": None, "otel.span.kind": "CLIENT",
        "otel.scope.name": "my.lib", "otel.scope.version": "2.0", "otel.trace_state": "vendor=1",
        "otel.links": [{"trace_id": TRACE.hex(), "span_id": ROOT.hex(), "attributes": {"why": "retry"}}]}
    [e] = data.events
    assert (e.name, e.timestamp_ns, e.attributes) == ("exception", T0 + 3, {
        "exception.type": "ValueError", "exception.message": "bad", "exception.stacktrace": "Traceback ..."})
