"""OTLP/HTTP export to a loopback receiver: the span tree as decoded, retries, refusals, a receiver down and back."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

import autolog
from tests.export.receiver import Receiver, attributes_of

CHAT_INPUTS = {"model": "gpt-4o-mini", "temperature": 0.2,
               "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}
CHAT_OUTPUTS = {"id": "chatcmpl-1", "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"},
                             "finish_reason": "stop"}]}
USAGE = {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15, "cache_read_input_tokens": 4}


def _agent_trace() -> str:
    model = autolog.set_active_model(name="checkout-v7")
    with autolog.start_span("agent", span_type="AGENT") as root:
        root.set_inputs({"question": "Hi"})
        autolog.update_current_trace(tags={"env": "prod"}, metadata={"deploy": "blue"}, session_id="s-1",
                                     user="ada")
        with autolog.start_span("ChatOpenAI", span_type="CHAT_MODEL") as chat:
            chat.set_inputs(CHAT_INPUTS)
            chat.set_attributes({"mlflow.chat.tokenUsage": USAGE, "mlflow.llm.model": "gpt-4o-mini"})
            chat.set_outputs(CHAT_OUTPUTS)
        with pytest.raises(ValueError), autolog.start_span("lookup", span_type="TOOL") as tool:
            tool.set_inputs({"sku": 7})
            raise ValueError("no such sku")
        root.set_outputs({"answer": "Hello!"})
    assert model.model_id
    trace_id = autolog.get_last_active_trace_id()
    assert trace_id is not None
    return trace_id


def _tree(spans: list[Any]) -> list[dict[str, Any]]:
    names = {s.span_id: s.name for s in spans}
    return [{"name": s.name, "parent": names.get(s.parent_span_id), "kind": s.kind, "status": s.status.code,
             "type": json.loads(attributes_of(s)["mlflow.spanType"])} for s in spans]


def _wait_until_spooled(destination: str, n: int) -> None:
    deadline = time.monotonic() + 10
    while autolog.stats()["destinations"][destination]["spooled"] < n and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_span_tree_arrives_whole(otlp_client: autolog.Client, receiver: Receiver) -> None:
    trace_id = _agent_trace()
    assert otlp_client.flush(10)
    headers, request = receiver.requests[-1]
    assert headers["content-encoding"] == "gzip" and headers["x-api-key"] == "k1"
    assert headers["content-type"] == "application/x-protobuf"
    resource = attributes_of(request.resource_spans[0].resource)
    assert resource["service.name"] == "checkout-agent" and resource["telemetry.sdk.name"] == "autolog"
    assert request.resource_spans[0].scope_spans[0].scope.name == "autolog"
    spans = receiver.spans()
    assert {s.trace_id.hex() for s in spans} == {trace_id[3:]}
    assert sorted(_tree(spans), key=lambda s: s["name"]) == [
        {"name": "ChatOpenAI", "parent": "agent", "kind": 3, "status": 1, "type": "CHAT_MODEL"},  # CLIENT, OK
        {"name": "agent", "parent": None, "kind": 1, "status": 1, "type": "AGENT"},
        {"name": "lookup", "parent": "agent", "kind": 1, "status": 2, "type": "TOOL"},  # ERROR
    ]
    by_name = {s.name: s for s in spans}
    chat = attributes_of(by_name["ChatOpenAI"])
    assert {k: v for k, v in chat.items() if k.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.request.temperature": 0.2, "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 3, "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.input.messages": json.dumps(CHAT_INPUTS["messages"]),
        "gen_ai.output.messages": json.dumps([CHAT_OUTPUTS["choices"][0]["message"]]),
        "gen_ai.response.finish_reasons": ["stop"],
    }
    # MLflow's own attributes, JSON strings as MLflow's spans carry them.
    assert json.loads(chat["mlflow.spanInputs"]) == CHAT_INPUTS
    assert json.loads(chat["mlflow.spanOutputs"]) == CHAT_OUTPUTS
    assert json.loads(chat["mlflow.chat.tokenUsage"]) == USAGE
    assert json.loads(chat["mlflow.llm.model"]) == "gpt-4o-mini"
    assert json.loads(chat["mlflow.traceRequestId"]) == trace_id
    assert "mlflow.llm.cost" in chat  # computed on the worker, from genai-prices
    tool = by_name["lookup"]
    assert attributes_of(tool)["gen_ai.operation.name"] == "execute_tool"
    assert attributes_of(tool)["gen_ai.tool.name"] == "lookup"
    assert [e.name for e in tool.events] == ["exception"]
    assert attributes_of(tool.events[0])["exception.type"] == "ValueError"
    assert "no such sku" in tool.status.message
    root = attributes_of(by_name["agent"])
    stored = otlp_client.get_trace(trace_id)
    assert root["gen_ai.operation.name"] == "invoke_agent" and root["gen_ai.agent.name"] == "agent"
    assert root["mlflow.trace.tag.env"] == "prod" and root["mlflow.trace.tag.mlflow.traceName"] == "agent"
    assert root["mlflow.modelId"] == stored.info.trace_metadata["mlflow.modelId"]
    assert root["session.id"] == "s-1" and root["user.id"] == "ada"
    metadata = {k[len("mlflow.trace.metadata."):]: v for k, v in root.items() if k.startswith("mlflow.trace.metadata.")}
    expected = {k: v for k, v in stored.info.trace_metadata.items()
                if k not in ("mlflow.traceInputs", "mlflow.traceOutputs")}  # derived on read, never stored
    assert metadata == expected
    assert json.loads(metadata["mlflow.trace.tokenUsage"])["input_tokens"] == 12
    dest = autolog.stats()["destinations"][receiver.url]
    assert dest["exported"] == 1 and dest["spooled"] == 0 and dest["dropped"] == 0
    assert receiver.requests and receiver.not_canonical == 0


def test_429_and_503_are_retried_honouring_retry_after(otlp_client: autolog.Client, receiver: Receiver) -> None:
    receiver.respond(429, {"Retry-After": "1"})
    receiver.respond(503)
    started = time.monotonic()
    _agent_trace()
    assert otlp_client.flush(15)
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was not waited for"
    assert len({s.span_id for s in receiver.spans()}) == len(receiver.spans()) == 3  # stored once
    dest = autolog.stats()["destinations"][receiver.url]
    assert dest["retries"] == 2 and dest["exported"] == 1 and dest["spooled"] == 0


def test_a_refused_batch_is_counted_with_the_receivers_message(otlp_client: autolog.Client, receiver: Receiver,
                                                                tmp_path: Path) -> None:
    receiver.respond(400, {"Content-Type": "text/plain"}, b"span name too long")
    with autolog.start_span("refused"):
        pass
    assert otlp_client.flush(10) is False, "the receiver refused the trace: flush() must not say True"
    dest = autolog.stats()["destinations"][receiver.url]
    assert dest["quarantined"] == 1 and dest["exported"] == 0 and autolog.stats()["quarantined"] == 1
    quarantine = next((tmp_path / "both.db.spool").glob("otlp-*/quarantine/*.jsonl"))
    reason = json.loads(quarantine.read_text().splitlines()[0])["reason"]
    assert receiver.url in reason and "400" in reason and "span name too long" in reason
    assert otlp_client.get_trace(autolog.get_last_active_trace_id() or "").info.state == "OK"  # the store has it


def test_partial_success_counts_rejected_spans(otlp_client: autolog.Client, receiver: Receiver) -> None:
    answer = ExportTraceServiceResponse()
    answer.partial_success.rejected_spans = 2
    answer.partial_success.error_message = "too old"
    receiver.respond(200, {}, answer.SerializeToString())
    _agent_trace()
    assert otlp_client.flush(10)
    assert autolog.stats()["destinations"][receiver.url]["rejected_spans"] == 2


def test_receiver_down_spools_then_replays_once(otlp_client: autolog.Client, receiver: Receiver,
                                                tmp_path: Path) -> None:
    receiver.stop()
    ids = []
    for i in range(5):
        with autolog.start_span(f"t{i}"):
            pass
        ids.append(autolog.get_last_active_trace_id())
    started = time.monotonic()
    assert len(otlp_client.search_traces(max_results=10)) == 5  # reads never wait for the dead receiver
    assert time.monotonic() - started < 2.0
    _wait_until_spooled(receiver.url, 5)
    assert otlp_client.flush(0.2) is False
    dest = autolog.stats()["destinations"][receiver.url]
    assert dest["spooled"] == 5 and dest["exported"] == 0
    assert list((tmp_path / "both.db.spool").glob("otlp-*/*.jsonl")), "the OTLP spool is its own directory"
    assert autolog.stats()["spooled"] == 0, "the store's counters are not the receiver's"
    receiver.start()
    assert otlp_client.flush(30)
    received = sorted("tr-" + s.trace_id.hex() for s in receiver.spans())
    assert received == sorted(ids), "every trace exactly once"
    assert autolog.stats()["destinations"][receiver.url]["replayed"] == 5


def test_a_locked_store_does_not_hold_otlp_back(otlp_client: autolog.Client, receiver: Receiver,
                                               tmp_path: Path) -> None:
    with autolog.start_span("warm-up"):
        pass
    assert otlp_client.flush(10)
    locker = sqlite3.connect(tmp_path / "both.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with autolog.start_span("while-locked"):
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(s.name == "while-locked" for s in receiver.spans()):
            time.sleep(0.02)
        assert any(s.name == "while-locked" for s in receiver.spans()), "OTLP waited for the locked store"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert otlp_client.flush(30)
    assert [t.info.tags["mlflow.traceName"] for t in otlp_client.search_traces(max_results=5)] == [
        "while-locked", "warm-up"]


def test_local_store_false_sends_traces_only_to_otlp(tmp_path: Path, receiver: Receiver,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOLOG_SPOOL_DIR", str(tmp_path / "spools"))
    client = autolog.configure(f"sqlite:///{tmp_path / 'meta.db'}", schedule_delay_millis=20,
                               otlp_endpoint=f"http://127.0.0.1:{receiver.port}", local_store=False)
    try:
        with autolog.start_span("only-otlp"):
            pass
        assert client.flush(10)
        assert [s.name for s in receiver.spans()] == ["only-otlp"]  # /v1/traces added to a bare endpoint
        assert client.search_traces(max_results=5) == []
        stats = autolog.stats()
        assert stats["exported"] == 1 and list(stats["destinations"]) == [receiver.url]
        receiver.stop()
        with autolog.start_span("spooled"):
            pass
        _wait_until_spooled(receiver.url, 1)
        assert client.flush(0.2) is False
        assert list((tmp_path / "spools").glob("otlp-*/*.jsonl"))
        receiver.start()
        assert client.flush(30)
        assert sorted(s.name for s in receiver.spans()) == ["only-otlp", "spooled"]
    finally:
        autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)
