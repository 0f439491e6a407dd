"""A loopback OTLP/HTTP receiver (``http.server``) that decodes what it gets with opentelemetry-proto.

It answers from a script (``respond``: status, headers, body), else 200 with an empty
``ExportTraceServiceResponse``, and can be stopped and started again on the same port to
play a receiver that goes down and comes back.
"""

from __future__ import annotations

import gzip
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def decode_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [decode_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: decode_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def attributes_of(message: Any) -> dict[str, Any]:
    return {kv.key: decode_value(kv.value) for kv in message.attributes}


class Receiver:
    def __init__(self, path: str = "/v1/traces") -> None:
        self.path = path
        self.requests: list[tuple[dict[str, str], ExportTraceServiceRequest]] = []
        self.script: deque[tuple[int, dict[str, str], bytes]] = deque()
        self.not_canonical = 0  # protobuf bodies that opentelemetry-proto would have written otherwise
        self.lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def respond(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"", times: int = 1) -> None:
        for _ in range(times):
            self.script.append((status, headers or {}, body))

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    status, extra, answer = receiver.script.popleft() if receiver.script else (200, {}, None)
                    if status == 200:  # stored: decode and keep it
                        raw = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
                        request = ExportTraceServiceRequest()
                        request.ParseFromString(raw)
                        receiver.requests.append((headers, request))
                        # autolog writes protobuf's wire format itself (otlp_encode): the bytes must be what
                        # opentelemetry-proto writes for the same message, field for field.
                        if headers.get("content-type") == "application/x-protobuf" and (
                                request.SerializeToString(deterministic=True) != raw):
                            receiver.not_canonical += 1
                if answer is None:
                    answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", extra.pop("Content-Type", "application/x-protobuf"))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self.server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def spans(self) -> list[Any]:
        with self.lock:
            return [span for _, request in self.requests for rs in request.resource_spans
                    for ss in rs.scope_spans for span in ss.spans]
