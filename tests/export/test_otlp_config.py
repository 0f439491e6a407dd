"""OTLP settings from configure() and the standard OTEL_* variables; bad values name the option or variable."""

from __future__ import annotations

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import autolog
from autolog._export.otlp import OtlpExporter, retry_after_seconds
from autolog._export.otlp_config import HTTP_JSON, HTTP_PROTOBUF, otlp_settings
from tests.export.receiver import Receiver, attributes_of
from tests.serving import Served


def test_traces_endpoint_is_used_as_is_and_the_generic_one_gets_v1_traces() -> None:
    assert otlp_settings(environ={}) is None
    only = otlp_settings(environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c.example/custom/path"})
    assert only is not None and only.endpoint == "https://c.example/custom/path"
    generic = otlp_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert generic is not None and generic.endpoint == "http://collector:4318/v1/traces"
    both = otlp_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
                                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/v1/traces"})
    assert both is not None and both.endpoint == "http://b:4318/v1/traces"
    explicit = otlp_settings("http://x:4318", environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"})
    assert explicit is not None and explicit.endpoint == "http://x:4318/v1/traces"
    assert otlp_settings("http://x:4318/ingest", environ={}).endpoint == "http://x:4318/ingest"  # type: ignore[union-attr]


def test_headers_service_name_and_resource() -> None:
    settings = otlp_settings(environ={
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "ignored=1",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "Authorization=Bearer%20tok%3D%3D, x-team = ml ,",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=from-resource",
    })
    assert settings is not None
    assert settings.headers == {"Authorization": "Bearer tok==", "x-team": "ml"}
    assert settings.service_name == "from-resource" and settings.resource == {"deployment.environment": "prod"}
    assert settings.gzip and settings.timeout_seconds == 10.0
    named = otlp_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SERVICE_NAME": "svc",
                                   "OTEL_EXPORTER_OTLP_COMPRESSION": "none", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"})
    assert named is not None and named.service_name == "svc" and not named.gzip and named.timeout_seconds == 2.5
    default = otlp_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert default is not None and default.service_name == "unknown_service" and default.headers == {}
    given = otlp_settings("http://c:4318", {"k": "v"}, environ={"OTEL_EXPORTER_OTLP_HEADERS": "a=b"})
    assert given is not None and given.headers == {"k": "v"}


@pytest.mark.parametrize(("environ", "named"), [
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "$OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://c/v1/traces"}, "$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
     "$OTEL_EXPORTER_OTLP_HEADERS"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "=v"},
     "$OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
     "$OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
     "$OTEL_EXPORTER_OTLP_COMPRESSION"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "$OTEL_EXPORTER_OTLP_TIMEOUT"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_RESOURCE_ATTRIBUTES": "x"}, "$OTEL_RESOURCE_ATTRIBUTES"),
])
def test_bad_variables_name_themselves(environ: dict[str, str], named: str) -> None:
    with pytest.raises(autolog.InvalidArgumentError, match=f"\\{named}"):
        otlp_settings(environ=environ)


def test_bad_configure_arguments_name_the_option(tmp_path: Path) -> None:
    before = autolog.get_tracking_uri()
    with pytest.raises(autolog.InvalidArgumentError, match="otlp_endpoint"):
        autolog.configure(f"sqlite:///{tmp_path / 'x.db'}", otlp_endpoint="localhost:4318")
    with pytest.raises(autolog.InvalidArgumentError, match="otlp_headers"):
        autolog.configure(f"sqlite:///{tmp_path / 'x.db'}", otlp_endpoint="http://c:4318",
                          otlp_headers={"k": 1})  # type: ignore[dict-item]
    with pytest.raises(autolog.InvalidArgumentError, match="local_store"):
        autolog.configure(f"sqlite:///{tmp_path / 'x.db'}", local_store="no")  # type: ignore[arg-type]
    assert autolog.get_tracking_uri() == before, "a bad option changes nothing"


def test_configure_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: never reached here
    client = autolog.configure(f"sqlite:///{tmp_path / 'env.db'}", schedule_delay_millis=20)
    try:
        assert "http://127.0.0.1:9/v1/traces" in autolog.stats()["destinations"]
    finally:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
        client.shutdown(0.1)
        autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)


def test_retry_after_is_read_and_capped() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("3600") == 60.0
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 10) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


# --- OTEL_SDK_DISABLED, OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL (http/json, grpc), compression and timeout ---

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}


@pytest.mark.parametrize("value", ["true", "TRUE", " True "])
def test_sdk_disabled_turns_off_the_export_the_environment_names(value: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="autolog"):
        assert otlp_settings(environ={**ENDPOINT, "OTEL_SDK_DISABLED": value}) is None
    assert "OTEL_SDK_DISABLED" in caplog.text and "http://c:4318" in caplog.text
    explicit = otlp_settings("http://x:4318", environ={**ENDPOINT, "OTEL_SDK_DISABLED": value})
    assert explicit is not None and explicit.endpoint == "http://x:4318/v1/traces", "an explicit endpoint still counts"


@pytest.mark.parametrize("value", ["false", "FALSE", ""])
def test_sdk_disabled_false_or_empty_changes_nothing(value: str) -> None:
    settings = otlp_settings(environ={**ENDPOINT, "OTEL_SDK_DISABLED": value})
    assert settings is not None and settings.endpoint == "http://c:4318/v1/traces"


def test_an_unreadable_sdk_disabled_is_an_error_that_names_it() -> None:
    with pytest.raises(autolog.InvalidArgumentError, match=r"\$OTEL_SDK_DISABLED must be true or false, got '1'"):
        otlp_settings(environ={**ENDPOINT, "OTEL_SDK_DISABLED": "1"})
    assert otlp_settings(environ={"OTEL_SDK_DISABLED": "1"}) is None, "no OTLP named: the variable has no effect"


def test_sdk_disabled_keeps_the_local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            receiver: Receiver) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    client = autolog.configure(f"sqlite:///{tmp_path / 'off.db'}", schedule_delay_millis=20)
    try:
        with autolog.start_span("root") as span:
            span.set_inputs({"q": 1})
        trace_id = autolog.get_last_active_trace_id()
        assert trace_id is not None and client.flush(10)
        assert client.get_trace(trace_id).info.trace_id == trace_id
        assert receiver.url not in autolog.stats()["destinations"] and receiver.requests == []
    finally:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"])
def test_grpc_is_refused_saying_what_to_use(variable: str) -> None:
    with pytest.raises(autolog.InvalidArgumentError) as caught:
        otlp_settings(environ={**ENDPOINT, variable: "grpc"})
    message = str(caught.value)
    assert f"${variable} is 'grpc'" in message and "gRPC" in message
    assert "http/protobuf" in message and "4318" in message


def test_a_bad_protocol_names_the_variable_the_value_and_what_is_accepted() -> None:
    with pytest.raises(autolog.InvalidArgumentError) as caught:
        otlp_settings(environ={**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/grpc"})
    assert str(caught.value) == ("$OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf, http/json or grpc "
                                 "(not supported), got 'http/grpc'")
    with pytest.raises(autolog.InvalidArgumentError, match=r"\$OTEL_EXPORTER_OTLP_PROTOCOL.*'grpc'"):
        otlp_settings("http://x:4318", environ={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})  # also with otlp_endpoint=


def test_protocols_are_read_traces_first_and_in_any_case() -> None:
    assert otlp_settings(environ=ENDPOINT).protocol == HTTP_PROTOBUF  # type: ignore[union-attr]
    both = otlp_settings(environ={**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                  "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "HTTP/JSON"})
    assert both is not None and both.protocol == HTTP_JSON


def test_a_bad_protocol_fails_configure_and_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = autolog.get_tracking_uri()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(autolog.InvalidArgumentError, match="gRPC"):
        autolog.configure(f"sqlite:///{tmp_path / 'x.db'}", otlp_endpoint="http://127.0.0.1:4317")
    assert autolog.get_tracking_uri() == before


class _Capture:
    """A loopback HTTP server keeping the raw requests (the OTLP/JSON ones Receiver does not decode)."""

    def __init__(self, answer: bytes = b'{"partialSuccess":{}}') -> None:
        self.bodies: list[tuple[dict[str, str], bytes]] = []
        self.answer = answer
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                capture.bodies.append(({k.lower(): v for k, v in self.headers.items()}, body))
                answer = capture.answer
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"


def _two_spans() -> str:
    with autolog.start_span("agent", span_type="AGENT") as root:
        root.set_inputs({"q": "Hi"})
        with autolog.start_span("chat", span_type="CHAT_MODEL") as chat:
            chat.set_inputs({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
            chat.set_outputs({"choices": [{"message": {"role": "assistant", "content": "Hello"}}]})
    trace_id = autolog.get_last_active_trace_id()
    assert trace_id is not None
    return trace_id


def test_http_json_sends_otlp_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = _Capture(b'{"partialSuccess":{"rejectedSpans":"1","errorMessage":"span too old"}}')
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
    client = autolog.configure(f"sqlite:///{tmp_path / 'json.db'}", schedule_delay_millis=20,
                               otlp_endpoint=capture.url, local_store=False)
    try:
        trace_id = _two_spans()
        assert client.flush(10)
        assert autolog.stats()["destinations"][capture.url]["rejected_spans"] == 1  # the JSON answer is read
    finally:
        autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)
        capture.server.shutdown()
        capture.server.server_close()
    assert len(capture.bodies) == 1
    headers, body = capture.bodies[0]
    assert headers["content-type"] == "application/json" and "content-encoding" not in headers
    document = json.loads(body)
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]  # lowerCamelCase keys
    assert {s["traceId"] for s in spans} == {trace_id[3:]}  # hex, not base64
    by_name = {s["name"]: s for s in spans}
    assert by_name["chat"]["parentSpanId"] == by_name["agent"]["spanId"] and len(by_name["agent"]["spanId"]) == 16
    assert "parentSpanId" not in by_name["agent"]
    assert by_name["chat"]["kind"] == 3 and by_name["agent"]["kind"] == 1  # enums as integers
    assert by_name["agent"]["status"] == {"code": 1}
    assert isinstance(by_name["agent"]["startTimeUnixNano"], str)  # 64-bit integers as decimal strings
    # The same request as the protobuf one: parsed back (ids to base64 for protobuf's JSON mapping), it decodes.
    for span in spans:
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    request = json_format.ParseDict(document, ExportTraceServiceRequest())
    attributes = {s.name: attributes_of(s) for s in request.resource_spans[0].scope_spans[0].spans}
    assert json.loads(attributes["chat"]["mlflow.spanType"]) == "CHAT_MODEL"
    assert attributes["chat"]["gen_ai.operation.name"] == "chat"


def test_http_json_round_trips_through_autologs_own_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autolog._server.app import create_app

    receiving = autolog.Client(f"sqlite:///{tmp_path / 'received.db'}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    try:
        with Served(create_app(receiving.tracking_uri)) as served:
            sender = autolog.configure(f"sqlite:///{tmp_path / 'sent.db'}", schedule_delay_millis=20,
                                       otlp_endpoint=f"{served.url}/v1/traces")
            trace_id = _two_spans()
            assert sender.flush(15)
            name = f"{served.url}/v1/traces"
            assert autolog.stats()["destinations"][name]["exported"] == 1
            received = receiving.get_trace(trace_id)
            sent = sender.get_trace(trace_id)
            assert sorted((s.span_id, s.parent_id, s.name, s.span_type) for s in received.data.spans) == sorted(
                (s.span_id, s.parent_id, s.name, s.span_type) for s in sent.data.spans)
            chat = next(s for s in received.data.spans if s.name == "chat")
            assert chat.inputs == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    finally:
        autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)
        receiving.shutdown(5)


def test_compression_none_and_the_timeout_reach_the_exporter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            receiver: Receiver) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "NONE")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1500")
    settings = otlp_settings(receiver.url)
    assert settings is not None and settings.timeout_seconds == 1.5 and not settings.gzip
    exporter = OtlpExporter(settings)
    assert exporter.http().timeout.read == 1.5
    exporter.shutdown(1)
    client = autolog.configure(f"sqlite:///{tmp_path / 'plain.db'}", schedule_delay_millis=20,
                               otlp_endpoint=receiver.url)
    try:
        _two_spans()
        assert client.flush(10)
        headers, request = receiver.requests[-1]
        assert "content-encoding" not in headers and headers["content-type"] == "application/x-protobuf"
        assert len(request.resource_spans[0].scope_spans[0].spans) == 2
    finally:
        autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)


@pytest.mark.parametrize(("environ", "message"), [
    ({"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "-5"},
     "$OTEL_EXPORTER_OTLP_TRACES_TIMEOUT must be a positive number of milliseconds, got '-5'"),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "deflate"},
     "$OTEL_EXPORTER_OTLP_COMPRESSION must be gzip or none, got 'deflate'"),
])
def test_bad_timeout_and_compression_say_what_is_accepted(environ: dict[str, str], message: str) -> None:
    with pytest.raises(autolog.InvalidArgumentError) as caught:
        otlp_settings(environ={**ENDPOINT, **environ})
    assert str(caught.value) == message
