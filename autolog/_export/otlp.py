"""OTLP/HTTP (protobuf) as a destination: ``OtlpExporter``, one POST per batch the pipeline makes.

Runs on the pipeline's worker only: the records are turned into a protobuf request there
(``otlp_encode``; sent as OTLP/JSON with ``OTEL_EXPORTER_OTLP_PROTOCOL=http/json``),
gzip-compressed (unless the compression is ``none``) and posted. How each answer is treated:

* 2xx: stored; ``partial_success.rejected_spans`` is counted (``rejected_spans``) and logged;
* 429, 502, 503, 504, 408 and connection errors: retryable. ``Retry-After`` (seconds or an
  HTTP date, capped at 60 s) is honoured: waits of up to 5 s are slept on the worker before
  the next attempt; a longer one, or a receiver failing for more than 2 s, makes the
  exporter say "down" at once, without I/O, until the wait is over or the next probe is due
  (every 2 s): the batch goes to this destination's spool and is replayed when the receiver
  answers again. A dead receiver so costs the worker no time per batch and never lets the
  queue fill up (which would spill on the application's threads);
* 401, 403, 404, 405 and 5xx otherwise: down (a setting or the receiver is wrong, not the
  data): spooled, replayed later;
* other 4xx (400, 413, 422...): the receiver refuses the records: the pipeline bisects the
  batch and quarantines the ones refused alone, with the receiver's message naming the endpoint.
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import httpx
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from autolog._export.exporter import EXPORTED, ExportResult
from autolog._export.otlp_config import HTTP_JSON, OtlpSettings
from autolog._export.otlp_encode import encode_request, resource_attributes
from autolog._stats import STATS, DestinationCounters
from autolog._store.records import Record
from autolog._tracing.guard import log_rate_limited

__all__ = ["OtlpExportError", "OtlpExporter", "request_json"]

_logger = logging.getLogger("autolog")
_RETRYABLE = {408, 429, 502, 503, 504}
_DOWN = {401, 403, 404, 405}
_MAX_RETRY_AFTER_SECONDS = 60.0
_MAX_INLINE_WAIT_SECONDS = 5.0  # a Retry-After up to this is slept on the worker; past it, the batch is spooled
_DOWN_AFTER_SECONDS = 2.0  # failing this long: the receiver is down, batches go to the spool at once
_PROBE_INTERVAL_SECONDS = 2.0  # while down, one request this often tells whether it is back


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def request_json(body: bytes) -> bytes:
    """A serialized request (``encode_request``) as OTLP/JSON: protobuf's JSON mapping (lowerCamelCase keys,
    64-bit integers as decimal strings, other bytes as base64) but enums as integers and trace and span ids
    as hex, as the OTLP specification says (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding)."""
    document = json_format.MessageToDict(ExportTraceServiceRequest.FromString(body), use_integers_for_enums=True)
    for resource_spans in document.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                for holder in (span, *span.get("links", ())):
                    for name in _ID_FIELDS:
                        if name in holder:
                            holder[name] = base64.b64decode(holder[name]).hex()
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class OtlpExportError(Exception):
    """Why a batch did not reach an OTLP receiver (kept in ExportResult.error; logged, never raised to the user)."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header (delay-seconds or an HTTP date) in seconds, capped; None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_SECONDS)


def _status_message(body: bytes) -> str:
    """The text of an error answer: OTLP's google.rpc.Status (field 2, ``message``; or its JSON), else the body."""
    if body[:1] == b"{":  # an OTLP/JSON receiver's Status: {"code": 3, "message": "..."}
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if isinstance(message, str):
            return message
    # A Status is small; reading its field 2 needs no googleapis protos: tag 0x12, a varint length, the UTF-8 text.
    i = 0
    while i < len(body) - 1:
        tag = body[i]
        i += 1
        if tag == 0x08:  # field 1, code: a varint
            while i < len(body) and body[i] & 0x80:
                i += 1
            i += 1
            continue
        if tag != 0x12:
            break
        length = shift = 0
        while i < len(body):
            byte = body[i]
            i += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        try:
            return body[i:i + length].decode("utf-8")
        except UnicodeDecodeError:
            break
    return body[:500].decode("utf-8", "replace").strip()


class OtlpExporter:
    """Posts batches to an OTLP/HTTP traces endpoint. Called from one pipeline worker at a time."""

    def __init__(self, settings: OtlpSettings, counters: DestinationCounters | None = None, *,
                 native_values: bool = False, extra_headers: dict[str, str] | None = None,
                 send_resource: bool = True) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint
        self.counters = counters or STATS.destination(self.endpoint, primary=False)
        self.native_values = native_values
        self.send_resource = send_resource  # False for MLflow: its handler turns resource attributes into trace tags
        self.json = settings.protocol == HTTP_JSON
        self.headers = {"Content-Type": "application/json" if self.json else "application/x-protobuf",
                        "User-Agent": "autolog-otlp",
                        **settings.headers, **(extra_headers or {})}
        if settings.gzip:
            self.headers["Content-Encoding"] = "gzip"
        self._resource: dict[str, Any] | None = None
        self._http: httpx.Client | None = None
        self._http_pid = -1
        self._failing_since: float | None = None  # monotonic time of the first failure since the last success
        self._not_before = 0.0  # no request before this (Retry-After, or the next probe while down)
        self._down = False  # failing for _DOWN_AFTER_SECONDS: batches go to the spool until a probe succeeds

    @property
    def destination(self) -> str:
        return self.endpoint

    def http(self) -> httpx.Client:
        # One connection pool per process: a forked child must not share the parent's sockets.
        if self._http is None or self._http_pid != os.getpid():
            self._http = httpx.Client(timeout=self.settings.timeout_seconds, trust_env=True)
            self._http_pid = os.getpid()
            self._resource = (resource_attributes(self.settings.service_name, self.settings.resource)
                              if self.send_resource else {})
        return self._http

    def export(self, records: Sequence[Record], metadata_sets: dict[str, dict[str, str]]) -> ExportResult:
        return self.post(records, metadata_sets, {})

    def post(self, records: Sequence[Record], metadata_sets: dict[str, dict[str, str]],
             headers: dict[str, str]) -> ExportResult:
        """Encode and post ``records`` (with ``headers`` added to this request); what the receiver said."""
        wait = self._not_before - time.monotonic()
        if wait > 0:
            if wait > _MAX_INLINE_WAIT_SECONDS or self._down:
                return ExportResult(ok=False, error=OtlpExportError(
                    f"OTLP endpoint {self.endpoint} is not taking traces for {wait:.1f} s more "
                    "(Retry-After, or down): the batch waits in the spool"))
            time.sleep(wait)
        client = self.http()
        assert self._resource is not None
        body = encode_request(records, metadata_sets, self._resource, self.native_values)
        if self.json:
            body = request_json(body)
        if self.settings.gzip:
            body = gzip.compress(body, compresslevel=1)  # level 1: most of the gain, a fraction of the CPU
        try:
            response = client.post(self.endpoint, content=body, headers={**self.headers, **headers})
        except httpx.TransportError as exc:
            return self.failed(OtlpExportError(f"OTLP endpoint {self.endpoint} unreachable: {exc!r}"), None)
        return self.result_of(response)

    def result_of(self, response: httpx.Response, url: str | None = None) -> ExportResult:
        """What an answer of the receiver (at ``url``, default the OTLP endpoint) means for the batch."""
        status = response.status_code
        if 200 <= status < 300:
            self._failing_since, self._not_before, self._down = None, 0.0, False
            if url is None:
                self._count_partial_success(response)
            return EXPORTED
        message = f"OTLP endpoint {url or self.endpoint} answered {status}: {_status_message(response.content)}"
        if status in _RETRYABLE:
            return self.failed(OtlpExportError(message), retry_after_seconds(response.headers.get("retry-after")))
        error = OtlpExportError(message)
        log_rate_limited("export.otlp", logging.WARNING, "autolog: %s", message)
        if status in _DOWN or status >= 500:
            return ExportResult(ok=False, error=error)
        return ExportResult(ok=False, error=error, rejected=True)

    def failed(self, error: OtlpExportError, retry_after: float | None) -> ExportResult:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        self._down = down = now - self._failing_since >= _DOWN_AFTER_SECONDS
        if retry_after is not None:
            self._not_before = now + retry_after
        elif down:
            self._not_before = now + _PROBE_INTERVAL_SECONDS
        retryable = not down and (retry_after is None or retry_after <= _MAX_INLINE_WAIT_SECONDS)
        return ExportResult(ok=False, retryable=retryable, error=error)

    def _count_partial_success(self, response: httpx.Response) -> None:
        media = response.headers.get("content-type", "")
        if not response.content or ("protobuf" not in media and "json" not in media):
            return
        answer = ExportTraceServiceResponse()
        try:
            if "json" in media:
                json_format.Parse(response.content, answer, ignore_unknown_fields=True)
            else:
                answer.ParseFromString(response.content)
        except Exception:  # noqa: BLE001 - a receiver's malformed answer does not undo a stored batch
            return
        rejected = answer.partial_success.rejected_spans
        if rejected:
            self.counters.incr("rejected_spans", rejected)
            log_rate_limited("export.otlp.partial", logging.WARNING, "autolog: OTLP endpoint %s rejected %d spans: %s",
                             self.endpoint, rejected, answer.partial_success.error_message)

    def maintain(self) -> None:
        return None

    def shutdown(self, timeout_seconds: float) -> None:
        http, self._http = self._http, None
        if http is not None and self._http_pid == os.getpid():
            http.close()
