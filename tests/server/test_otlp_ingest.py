"""``POST /v1/traces`` as the OTLP/HTTP specification has it: encodings, answers, errors, idempotence, split traces."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

import autolog
from autolog._server.app import create_app
from autolog._server.otlp_ingest import MAX_BODY_BYTES, MAX_DECODED_BYTES

from .conftest import SCRIPT

TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
TRACE_ID = "tr-5b8efff798038103d269b633813fc60c"
ROOT, CHILD, LATE = (bytes.fromhex(h) for h in ("eee19b7ec3c1b174", "eee19b7ec3c1b173", "0102030405060708"))
T0 = 1_700_000_000_000_000_000
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def span(name: str, span_id: bytes, parent: bytes = b"", trace: bytes = TRACE, start: int = T0, end: int | None = None,
         error: str | None = None, **attributes: Any) -> trace_pb2.Span:
    s = trace_pb2.Span(trace_id=trace, span_id=span_id, parent_span_id=parent, name=name, start_time_unix_nano=start,
                       end_time_unix_nano=start + 5_000_000 if end is None else end,
                       attributes=[KeyValue(key=k.replace("__", "."), value=_value(v)) for k, v in attributes.items()])
    if error:
        s.status.code, s.status.message = trace_pb2.Status.STATUS_CODE_ERROR, error
    return s


def request(*spans: trace_pb2.Span, service: str = "shop") -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    scope_spans.spans.extend(spans)
    return message


def post(api: TestClient, message: ExportTraceServiceRequest, headers: dict[str, str] | None = None) -> Any:
    response = api.post("/v1/traces", content=message.SerializeToString(), headers={**PROTOBUF, **(headers or {})})
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse()
    answer.ParseFromString(response.content)
    return answer


def status_of(response: Any) -> Any:
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    return status


def test_protobuf_request_stores_the_trace_and_answers_an_empty_response(api: TestClient,
                                                                         store: autolog.Client) -> None:
    answer = post(api, request(span("root", ROOT, mlflow__trace__tag__env="prod"),
                               span("llm", CHILD, ROOT, start=T0 + 1_000_000, gen_ai__operation__name="chat",
                                    gen_ai__usage__input_tokens=3, gen_ai__usage__output_tokens=4)))
    assert not answer.HasField("partial_success")
    trace = store.get_trace(TRACE_ID)
    assert (trace.info.state, trace.info.request_time, trace.info.execution_duration) == ("OK", T0 // 10**6, 5)
    assert trace.info.tags["env"] == "prod" and trace.info.trace_metadata["otel.service.name"] == "shop"
    assert {(s.span_id, s.parent_id, s.span_type) for s in trace.data.spans} == {
        (ROOT.hex(), None, "UNKNOWN"), (CHILD.hex(), ROOT.hex(), "CHAT_MODEL")}
    assert json.loads(trace.info.trace_metadata["mlflow.trace.tokenUsage"])["total_tokens"] == 7


def _otlp_json(message: ExportTraceServiceRequest) -> dict[str, Any]:
    """OTLP/JSON as the specification writes it: protobuf's JSON mapping with hex ids (not base64)."""
    document = json_format.MessageToDict(message)
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for s in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in s:
                        s[key] = base64.b64decode(s[key]).hex()
    return document


def test_otlp_json_with_hex_ids_and_gzip_bodies(api: TestClient, store: autolog.Client) -> None:
    document = _otlp_json(request(span("root", ROOT), span("child", CHILD, ROOT)))
    assert document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] == TRACE.hex()
    response = api.post("/v1/traces", json=document)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {}
    trace = store.get_trace(TRACE_ID)
    assert sorted(s.span_id for s in trace.data.spans) == sorted([ROOT.hex(), CHILD.hex()])

    other = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    zipped = gzip.compress(json.dumps(_otlp_json(request(span("zipped json", ROOT, trace=other)))).encode())
    response = api.post("/v1/traces", content=zipped,
                        headers={"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert store.get_trace("tr-" + other.hex()).info.tags["mlflow.traceName"] == "zipped json"

    third = bytes.fromhex("1af7651916cd43dd8448eb211c80319c")
    response = api.post("/v1/traces", content=gzip.compress(request(span("zipped proto", ROOT, trace=third))
                                                            .SerializeToString()),
                        headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert store.get_trace("tr-" + third.hex()).data.spans[0].name == "zipped proto"


def test_the_same_request_twice_stores_each_trace_once(api: TestClient, store: autolog.Client) -> None:
    message = request(span("root", ROOT), span("child", CHILD, ROOT))
    post(api, message)
    first = store.get_trace(TRACE_ID)
    post(api, message)
    assert store.count_traces() == 1
    again = store.get_trace(TRACE_ID)
    assert again.info.to_dict() == first.info.to_dict()
    assert [s.span_id for s in again.data.spans] == [s.span_id for s in first.data.spans]


def test_spans_of_one_trace_in_several_requests_child_before_root_make_one_trace(api: TestClient,
                                                                                 store: autolog.Client) -> None:
    post(api, request(span("llm", CHILD, ROOT, start=T0 + 1_000_000, llm__model_name="gpt-4o-mini",
                           openinference__span__kind="LLM", llm__token_count__prompt=10,
                           llm__token_count__completion=5)))
    waiting = store.get_trace(TRACE_ID)
    assert waiting.info.state == "IN_PROGRESS"  # its root has not arrived
    assert [s.name for s in waiting.data.spans] == ["llm"]
    store.set_trace_tag(TRACE_ID, "reviewed", "yes")  # a person's tag, made while the trace is still arriving

    post(api, request(span("agent", ROOT, end=T0 + 9_000_000, error="boom", mlflow__modelId="m-1",
                           mlflow__trace__metadata__release="7")))
    trace = store.get_trace(TRACE_ID)
    assert (trace.info.state, trace.info.execution_duration) == ("ERROR", 9)
    assert trace.info.tags["mlflow.traceName"] == "agent" and trace.info.tags["reviewed"] == "yes"
    assert trace.info.trace_metadata["mlflow.modelId"] == "m-1" and trace.info.trace_metadata["release"] == "7"
    assert json.loads(trace.info.trace_metadata["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert [(s.name, s.parent_id) for s in trace.data.spans] == [("agent", None), ("llm", ROOT.hex())]

    post(api, request(span("late tool", LATE, ROOT, start=T0 + 2_000_000, openinference__span__kind="TOOL")))
    late = store.get_trace(TRACE_ID)
    assert [s.name for s in late.data.spans] == ["agent", "llm", "late tool"]
    assert late.info.state == "ERROR" and late.info.trace_metadata["mlflow.modelId"] == "m-1"
    assert late.info.tags["reviewed"] == "yes" and store.count_traces() == 1
    assert store.search_traces(filter_string="metadata.release = '7'")[0].info.trace_id == TRACE_ID


def test_a_span_still_open_leaves_the_trace_in_progress(api: TestClient, store: autolog.Client) -> None:
    post(api, request(span("root", ROOT, end=0)))
    trace = store.get_trace(TRACE_ID)
    assert trace.info.state == "IN_PROGRESS" and trace.data.spans[0].end_time_ns is None


def test_undecodable_bodies_are_400_with_a_message_in_the_requests_encoding(api: TestClient) -> None:
    response = api.post("/v1/traces", content=b"\xff\xff\xff not protobuf", headers=PROTOBUF)
    assert response.status_code == 400 and response.headers["content-type"] == "application/x-protobuf"
    assert "not a protobuf ExportTraceServiceRequest" in status_of(response).message
    assert status_of(response).code == 3  # INVALID_ARGUMENT

    for body, expected in [(b"{not json", "body is not JSON"), (b"[1]", "must be a JSON object"),
                           (b'{"resourceSpans": 3}', "not an OTLP/JSON ExportTraceServiceRequest")]:
        response = api.post("/v1/traces", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and expected in response.json()["message"], response.text
    bad_id = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "01", "name": "x"}]}]}]}
    response = api.post("/v1/traces", json=bad_id)
    assert response.status_code == 400
    assert response.json()["message"] == ("resourceSpans[0].scopeSpans[0].spans[0].traceId must be hex "
                                          "(OTLP/JSON ids are hex), got 'zz'")
    response = api.post("/v1/traces", content=b"not gzip", headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 400 and "not valid gzip" in status_of(response).message


def test_other_content_types_and_encodings_are_415(api: TestClient) -> None:
    response = api.post("/v1/traces", content=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["message"] == ("Content-Type must be application/x-protobuf or application/json "
                                          "(OTLP/HTTP), got 'text/plain'")
    response = api.post("/v1/traces", content=b"x", headers={**PROTOBUF, "Content-Encoding": "br"})
    assert response.status_code == 415 and "Content-Encoding must be gzip" in status_of(response).message


def test_bodies_over_the_limits_are_413(api: TestClient, store: autolog.Client) -> None:
    response = api.post("/v1/traces", content=b"\0" * (MAX_BODY_BYTES + 1), headers=PROTOBUF)
    assert response.status_code == 413 and "over this server's limit" in status_of(response).message
    bomb = gzip.compress(b" " * (MAX_DECODED_BYTES + 1), compresslevel=1)  # small sent, too large decoded
    response = api.post("/v1/traces", content=bomb, headers={"Content-Type": "application/json",
                                                            "Content-Encoding": "gzip"})
    assert response.status_code == 413 and "decompresses to more than" in response.json()["message"]
    assert store.count_traces() == 0


def test_spans_that_cannot_be_taken_are_counted_in_partial_success(api: TestClient, store: autolog.Client) -> None:
    answer = post(api, request(span("good", ROOT), span("short trace id", CHILD, trace=b"\1\2\3"),
                               span("zero span id", b"\0" * 8), span("backwards", LATE, start=T0, end=T0 - 1)))
    assert answer.partial_success.rejected_spans == 3
    message = answer.partial_success.error_message
    assert message.startswith("3 spans rejected: resource_spans[0].scope_spans[0].spans[1] ('short trace id'): "
                              "trace_id must be 16 bytes, not all zero; got 3 bytes '010203'")
    assert "spans[2] ('zero span id'): span_id must be 8 bytes" in message
    assert "spans[3] ('backwards'): span 0102030405060708: end_time_unix_nano" in message
    assert [s.name for s in store.get_trace(TRACE_ID).data.spans] == ["good"]


def test_experiment_header(api: TestClient, store: autolog.Client) -> None:
    experiment_id = store.store.get_or_create_experiment("otel").experiment_id
    post(api, request(span("root", ROOT)), {"x-mlflow-experiment-id": experiment_id})
    assert store.get_trace(TRACE_ID).info.experiment_id == experiment_id
    response = api.post("/v1/traces", content=request(span("root", CHILD)).SerializeToString(),
                        headers={**PROTOBUF, "x-mlflow-experiment-id": "404"})
    assert response.status_code == 404
    assert status_of(response).message.startswith("x-mlflow-experiment-id: experiment '404' does not exist")


@pytest.fixture
def guarded(store: autolog.Client) -> Iterator[TestClient]:
    with TestClient(create_app(store.tracking_uri, token="s3cret")) as client:
        yield client


def test_the_apps_token_is_required(guarded: TestClient, store: autolog.Client) -> None:
    body = request(span("root", ROOT)).SerializeToString()
    response = guarded.post("/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 401 and store.count_traces() == 0
    response = guarded.post("/v1/traces", content=body, headers={**PROTOBUF, "Authorization": "Bearer s3cret"})
    assert response.status_code == 200 and store.count_traces() == 1


def test_script_values_are_stored_and_served_as_data(api: TestClient, store: autolog.Client) -> None:
    post(api, request(span(SCRIPT, ROOT, input__value=SCRIPT, output__value=json.dumps({"html": SCRIPT}),
                           output__mime_type="application/json", mlflow__trace__tag__note=SCRIPT)))
    trace = store.get_trace(TRACE_ID)
    [root] = trace.data.spans
    assert (root.name, root.inputs, root.outputs, trace.info.tags["note"]) == (SCRIPT, SCRIPT, {"html": SCRIPT}, SCRIPT)
    assert trace.info.request_preview == json.dumps(SCRIPT)
    response = api.get(f"/api/traces/{TRACE_ID}/spans/{ROOT.hex()}")
    assert response.headers["content-type"] == "application/json"
    assert response.json()["inputs"] == SCRIPT and response.json()["outputs"] == {"html": SCRIPT}
