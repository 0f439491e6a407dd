"""``POST /v1/traces``: OTLP/HTTP trace ingest, so any OpenTelemetry-instrumented service writes to autolog's store.

As the OTLP/HTTP specification says (https://opentelemetry.io/docs/specs/otlp/#otlphttp):

- the body is an ``ExportTraceServiceRequest``, binary protobuf (``Content-Type: application/x-protobuf``) or
  OTLP/JSON (``application/json``: protobuf's JSON mapping, except that trace and span ids are hex, not base64);
  ``Content-Encoding: gzip`` is accepted; any other content type is answered 415;
- success is 200 with an ``ExportTraceServiceResponse`` in the request's encoding; spans that cannot be stored
  (an id of the wrong length, a time out of range) are counted in its ``partial_success`` with the reasons,
  and the other spans are stored;
- errors carry a ``google.rpc.Status`` (``code``, ``message``) in the request's encoding: 400 for a body that does
  not decode, 404 for an unknown ``x-mlflow-experiment-id``, 413 past ``MAX_BODY_BYTES`` (sent) or
  ``MAX_DECODED_BYTES`` (after gzip), 503 with Retry-After while the store is locked by another writer
  (exporters retry that one).

The experiment is the ``x-mlflow-experiment-id`` header (as MLflow's own endpoint takes it), else the default
experiment; a trace already stored stays in its experiment. The bearer-token guard of the app covers this path.
Ingest is idempotent: writes are keyed by trace and span id, so a request sent twice stores each trace once (see
``otlp_records`` for how spans of one trace sent in several requests become one trace).
"""

from __future__ import annotations

import base64
import json
import threading
import zlib
from typing import Any

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.concurrency import run_in_threadpool

from autolog._errors import ResourceDoesNotExist, StoreBusyError
from autolog._server.otlp_records import TraceParts, trace_record
from autolog._server.otlp_translate import SpanRejected, attributes_of, resource_metadata, translate_span
from autolog._store.schema import DEFAULT_EXPERIMENT_ID
from autolog._store.sqlite import SqliteStore

__all__ = ["MAX_BODY_BYTES", "MAX_DECODED_BYTES", "router"]

router = APIRouter(tags=["OTLP"])

# An exporter's batch is 512 spans by default (a few MB with LLM payloads): 16 MiB leaves room for large
# prompts, and 64 MiB decoded bounds what one gzip body (which compresses text 5-20x) makes the server hold.
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_DECODED_BYTES = 64 * 1024 * 1024
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_MAX_REASONS = 5  # rejected spans named in partial_success's message; the count covers all of them
# gRPC status codes, which google.rpc.Status carries.
_INVALID_ARGUMENT, _NOT_FOUND, _RESOURCE_EXHAUSTED, _UNAVAILABLE = 3, 5, 8, 14
# Merging a trace with what the store holds of it reads and then writes: one request at a time in this process, and
# the store's merge_lock against other processes and servers, so two requests with spans of the same trace never
# each write the trace without the other's spans.
_MERGE_LOCK = threading.Lock()


class _Refused(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@router.post("/v1/traces", summary="Ingest OpenTelemetry traces (OTLP/HTTP, protobuf or JSON, optionally gzip)",
             response_class=Response,
             responses={200: {"description": "ExportTraceServiceResponse (partial_success names rejected spans)"},
                        400: {"description": "the body does not decode"}, 404: {"description": "unknown experiment"},
                        413: {"description": "body too large"}, 415: {"description": "unsupported content type"}})
async def export_traces(request: Request) -> Response:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in (PROTOBUF, JSON):
        return _status_response(JSON, 415, _INVALID_ARGUMENT,
                                f"Content-Type must be {PROTOBUF} or {JSON} (OTLP/HTTP), got {media or 'none'!r}")
    try:
        body = _decompress(await _read_body(request), request.headers.get("content-encoding", ""))
        message = _parse(body, media)
        experiment_id = request.headers.get("x-mlflow-experiment-id", "").strip() or DEFAULT_EXPERIMENT_ID
        store = request.app.state.client.store
        rejected, reasons = await run_in_threadpool(ingest, store, message, experiment_id)
    except _Refused as refused:
        headers = {"Retry-After": "1"} if refused.status == 503 else None
        return _status_response(media, refused.status, refused.code, refused.message, headers)
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        more = f"; and {rejected - len(reasons)} more" if rejected > len(reasons) else ""
        response.partial_success.error_message = (f"{rejected} spans rejected: " + "; ".join(reasons) + more)
    return _message_response(media, response)


async def _read_body(request: Request) -> bytes:
    """The body as sent, refused with 413 past MAX_BODY_BYTES without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _Refused(413, _RESOURCE_EXHAUSTED, f"body of {declared} bytes is over this server's limit of "
                                                 f"{MAX_BODY_BYTES} bytes: send smaller batches")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Refused(413, _RESOURCE_EXHAUSTED, f"body is over this server's limit of {MAX_BODY_BYTES} "
                                                     "bytes: send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise _Refused(415, _INVALID_ARGUMENT, f"Content-Encoding must be gzip or none, got {encoding!r}")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
    try:
        data = inflater.decompress(body, MAX_DECODED_BYTES + 1)
    except zlib.error as exc:
        raise _Refused(400, _INVALID_ARGUMENT, f"body is not valid gzip (Content-Encoding: gzip): {exc}") from exc
    if len(data) > MAX_DECODED_BYTES:
        raise _Refused(413, _RESOURCE_EXHAUSTED, f"gzip body decompresses to more than this server's limit of "
                                                 f"{MAX_DECODED_BYTES} bytes: send smaller batches")
    if not inflater.eof:
        raise _Refused(400, _INVALID_ARGUMENT, "gzip body is truncated")
    return data


def _parse(body: bytes, media: str) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    if media == PROTOBUF:
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            raise _Refused(400, _INVALID_ARGUMENT,
                           f"body is not a protobuf ExportTraceServiceRequest ({PROTOBUF}): {exc}") from exc
        return message
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Refused(400, _INVALID_ARGUMENT, f"body is not JSON ({JSON}): {exc}") from exc
    if not isinstance(document, dict):
        raise _Refused(400, _INVALID_ARGUMENT, f"body must be a JSON object (an ExportTraceServiceRequest), "
                                               f"got {type(document).__name__}")
    _hex_ids_to_base64(document)
    try:
        # Unknown fields are ignored: the specification asks receivers to, so newer senders keep working.
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise _Refused(400, _INVALID_ARGUMENT, f"body is not an OTLP/JSON ExportTraceServiceRequest: {exc}") from exc
    return message


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON writes trace and span ids as hex (protobuf's JSON mapping would read base64): convert them."""
    for r, resource_spans in enumerate(_items(document, "resourceSpans", "resource_spans")):
        for s, scope_spans in enumerate(_items(resource_spans, "scopeSpans", "scope_spans")):
            for n, span in enumerate(_items(scope_spans, "spans")):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                for holder, prefix in [(span, where)] + [(link, f"{where}.links[{i}]")
                                                         for i, link in enumerate(_items(span, "links"))]:
                    for camel, snake in (("traceId", "trace_id"), ("spanId", "span_id"),
                                         ("parentSpanId", "parent_span_id")):
                        for name in (camel, snake):
                            if isinstance(holder.get(name), str):
                                holder[name] = _hex_to_base64(holder[name], f"{prefix}.{camel}")


def _items(obj: Any, *names: str) -> list[Any]:
    if not isinstance(obj, dict):
        return []
    for name in names:
        value = obj.get(name)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict)]
    return []


def _hex_to_base64(text: str, where: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(text)).decode("ascii")
    except ValueError as exc:
        raise _Refused(400, _INVALID_ARGUMENT, f"{where} must be hex (OTLP/JSON ids are hex), got {text!r}") from exc


def ingest(store: SqliteStore, message: ExportTraceServiceRequest, experiment_id: str) -> tuple[int, list[str]]:
    """Store the spans of ``message``; the number of spans rejected and the first reasons why."""
    if experiment_id != DEFAULT_EXPERIMENT_ID:
        try:
            store.get_experiment(experiment_id)
        except ResourceDoesNotExist as exc:
            raise _Refused(404, _NOT_FOUND, f"x-mlflow-experiment-id: experiment {experiment_id!r} does not exist "
                                            f"in this store ({exc}); create it or leave the header out") from exc
    traces: dict[str, TraceParts] = {}
    rejected = 0
    reasons: list[str] = []
    for r, resource_spans in enumerate(message.resource_spans):
        resource = resource_metadata(attributes_of(resource_spans.resource.attributes))
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            for n, span in enumerate(scope_spans.spans):
                try:
                    data = translate_span(span, scope_spans.scope)
                except SpanRejected as exc:
                    rejected += 1
                    if len(reasons) < _MAX_REASONS:
                        reasons.append(f"resource_spans[{r}].scope_spans[{s}].spans[{n}] ({span.name!r}): {exc}")
                    continue
                parts = traces.setdefault(data.trace_id, TraceParts())
                parts.spans[data.span_id] = data
                parts.metadata.update(resource)
    if traces:
        try:
            with _MERGE_LOCK, store.merge_lock(list(traces)):
                stored = {t.info.trace_id: t for t in store.load_traces(list(traces))}
                records = [trace_record(tid, parts, stored.get(tid), experiment_id) for tid, parts in traces.items()]
                store.write_records(records)
        except StoreBusyError as exc:
            raise _Refused(503, _UNAVAILABLE, f"the store is busy, retry: {exc}") from exc
    return rejected, reasons


def _status_response(media: str, status: int, code: int, message: str,
                     headers: dict[str, str] | None = None) -> Response:
    """A ``google.rpc.Status`` (code 1, message 2) in the request's encoding, as OTLP/HTTP errors carry it.

    Encoded by hand: two fields do not warrant googleapis-common-protos as a dependency of the server.
    """
    if media == PROTOBUF:
        text = message.encode("utf-8")
        body = b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    else:
        body = json.dumps({"code": code, "message": message}).encode("utf-8")
    return Response(body, status_code=status, media_type=media, headers=headers)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _message_response(media: str, response: ExportTraceServiceResponse) -> Response:
    if media == PROTOBUF:
        return Response(response.SerializeToString(), media_type=PROTOBUF)
    return Response(json_format.MessageToJson(response, indent=None), media_type=JSON)
