"""Store records → an OTLP ``ExportTraceServiceRequest`` (opentelemetry-proto messages, no OpenTelemetry SDK).

Runs on the export worker, from the records the pipeline already made (also the spool's
format, so a batch replayed from the spool encodes the same way). Each span carries:

* MLflow's attributes as MLflow's own OpenTelemetry spans carry them: ``mlflow.traceRequestId``,
  ``mlflow.spanType``, ``mlflow.spanInputs``, ``mlflow.spanOutputs`` and every recorded
  attribute (``mlflow.chat.tokenUsage``, ``mlflow.llm.model``, ``mlflow.llm.cost``...), each
  a JSON string, so a receiver that knows MLflow (autolog's own OTLP ingest, MLflow) reads
  them back unchanged;
* on LLM, CHAT_MODEL, EMBEDDING, TOOL and AGENT spans also the OpenTelemetry GenAI semantic
  conventions (``gen_ai.operation.name``, ``gen_ai.provider.name``, models, usage, and the
  messages when the content was captured), which generic backends show;
* on the root span the trace's tags (``mlflow.trace.tag.<key>``), metadata
  (``mlflow.trace.metadata.<key>``), its version (``mlflow.modelId``) and session/user also as
  ``session.id``/``user.id``: OTLP has no place for trace-level data but its spans.

``native_values=True`` (the MLflow tracking server's ``/v1/traces``) sends the attribute
values decoded instead (strings, numbers, key/value lists): MLflow's handler JSON-encodes
every value it receives, so a JSON string would be stored encoded twice; and tags also go as
``mlflow.traceTag.<key>``, the name that handler reads.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import platform
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from autolog._store.records import METADATA_FIELD, RECORD_FIELDS, SET_FIELD, SPANS_FIELD, TAGS_FIELD, Record
from autolog.entities import keys

__all__ = ["METADATA_PREFIX", "MLFLOW_TAG_PREFIX", "TAG_PREFIX", "encode_request", "genai_attributes",
           "request_json", "resource_attributes", "span_id_bytes", "trace_id_bytes", "trace_metadata", "trace_tags"]

TAG_PREFIX = "mlflow.trace.tag."
METADATA_PREFIX = "mlflow.trace.metadata."
MLFLOW_TAG_PREFIX = "mlflow.traceTag."  # what MLflow's /v1/traces handler reads into the trace's tags
_FIELD = {name: i for i, name in enumerate(RECORD_FIELDS)}
_STATUS = {"OK": Status.STATUS_CODE_OK, "ERROR": Status.STATUS_CODE_ERROR}
_OPERATIONS = {"CHAT_MODEL": "chat", "LLM": "text_completion", "EMBEDDING": "embeddings", "TOOL": "execute_tool",
               "AGENT": "invoke_agent"}
_CLIENT_TYPES = {"CHAT_MODEL", "LLM", "EMBEDDING"}  # calls out to a model provider: SPAN_KIND_CLIENT (semconv)
# Model-name prefixes → gen_ai.provider.name (the semconv's well-known values), when the span does not say.
_PROVIDERS = (("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("text-embedding", "openai"),
              ("chatgpt", "openai"), ("davinci", "openai"), ("babbage", "openai"), ("claude", "anthropic"),
              ("gemini", "gcp.gemini"), ("mistral", "mistral_ai"), ("mixtral", "mistral_ai"), ("command", "cohere"),
              ("deepseek", "deepseek"), ("grok", "x_ai"))


def _package_version() -> str:
    try:
        return importlib.metadata.version("autolog-genai")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "0"


_VERSION = _package_version()


def trace_id_bytes(trace_id: str) -> bytes:
    """``tr-<32 hex>`` → the 16 bytes of the OpenTelemetry trace id (another id: 16 bytes of its hash)."""
    try:
        raw = bytes.fromhex(trace_id[3:] if trace_id.startswith("tr-") else trace_id)
    except ValueError:
        raw = b""
    return raw if len(raw) == 16 else hashlib.blake2b(trace_id.encode("utf-8"), digest_size=16).digest()


def span_id_bytes(span_id: str) -> bytes:
    try:
        raw = bytes.fromhex(span_id)
    except ValueError:
        raw = b""
    return raw if len(raw) == 8 else hashlib.blake2b(span_id.encode("utf-8"), digest_size=8).digest()


def resource_attributes(service_name: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """The resource of this process: ``service.name``, the SDK and the process (``extra``: OTEL_RESOURCE_ATTRIBUTES)."""
    attributes: dict[str, Any] = dict(extra or {})
    attributes.update({"service.name": service_name, "telemetry.sdk.name": "autolog",
                       "telemetry.sdk.language": "python", "telemetry.sdk.version": _VERSION,
                       "process.pid": os.getpid(), "process.runtime.name": platform.python_implementation().lower(),
                       "process.runtime.version": platform.python_version()})
    return attributes


def _set_value(target: AnyValue, value: Any) -> None:
    if isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int) and -2**63 <= value < 2**63:
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, dict):
        for k, v in value.items():
            kv = target.kvlist_value.values.add()
            kv.key = str(k)
            _set_value(kv.value, v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _set_value(target.array_value.values.add(), v)
    elif value is not None:
        target.string_value = json.dumps(value, default=str)


def _add(attributes: Any, key: str, value: Any) -> None:
    kv: KeyValue = attributes.add()
    kv.key = key
    _set_value(kv.value, value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def encode_request(records: Sequence[Record], metadata_sets: dict[str, dict[str, str]],
                   resource: dict[str, Any], native_values: bool = False) -> ExportTraceServiceRequest:
    """One request holding every span of ``records`` (one resource, one scope)."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in resource.items():
        _add(resource_spans.resource.attributes, key, value)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "autolog"
    scope_spans.scope.version = _VERSION
    spans = scope_spans.spans
    for record in records:
        _encode_trace(spans, record, metadata_sets, native_values)
    return request


def _encode_trace(spans: Any, record: Record, metadata_sets: dict[str, dict[str, str]], native: bool) -> None:
    trace_id: str = record[0]
    otel_trace_id = trace_id_bytes(trace_id)
    encode = (lambda v: v) if native else _json
    for row in record[SPANS_FIELD]:
        span_id, parent_id, name, span_type, status_code, start_ns, end_ns, content = row
        body, inputs_text, outputs_text = _split_content(content)
        span: Span = spans.add()
        span.trace_id = otel_trace_id
        span.span_id = span_id_bytes(span_id)
        if parent_id:
            span.parent_span_id = span_id_bytes(parent_id)
        span.name = name or ""
        span.kind = Span.SPAN_KIND_CLIENT if span_type in _CLIENT_TYPES else Span.SPAN_KIND_INTERNAL
        span.start_time_unix_nano = start_ns or 0
        span.end_time_unix_nano = end_ns or 0  # 0: never ended (a trace stored IN_PROGRESS at exit)
        span.status.code = _STATUS.get(status_code, Status.STATUS_CODE_UNSET)
        if body.get("status_message"):
            span.status.message = body["status_message"]
        attributes = span.attributes
        inputs, outputs = body.get("inputs"), body.get("outputs")
        recorded: dict[str, Any] = body.get("attributes") or {}
        _add(attributes, keys.TRACE_REQUEST_ID, encode(trace_id))
        _add(attributes, keys.SPAN_TYPE, encode(span_type or "UNKNOWN"))
        if inputs is not None:  # as JSON: the text the record holds, not parsed and dumped again
            _add(attributes, keys.SPAN_INPUTS, inputs if native else inputs_text or _json(inputs))
        if outputs is not None:
            _add(attributes, keys.SPAN_OUTPUTS, outputs if native else outputs_text or _json(outputs))
        for key, value in recorded.items():
            if key not in (keys.SPAN_TYPE, keys.SPAN_INPUTS, keys.SPAN_OUTPUTS, keys.TRACE_REQUEST_ID):
                _add(attributes, key, encode(value))
        if span_type in _OPERATIONS:
            for key, value in genai_attributes(span_type, name or "", inputs, outputs, recorded):
                _add(attributes, key, value)
        if not parent_id:
            for key, value in _trace_attributes(record, metadata_sets, native):
                _add(attributes, key, value)
        for event in body.get("events") or ():
            otel_event = span.events.add()
            otel_event.name = event.get("name") or ""
            otel_event.time_unix_nano = event.get("timestamp_ns") or 0
            for key, value in (event.get("attributes") or {}).items():
                _add(otel_event.attributes, key, value if isinstance(value, (str, int, float, bool)) else _json(value))


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def request_json(request: ExportTraceServiceRequest) -> bytes:
    """``request`` as OTLP/JSON: protobuf's JSON mapping (lowerCamelCase keys, 64-bit integers as decimal
    strings, other bytes as base64) but enums as integers and trace and span ids as hex, as the OTLP
    specification says (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding)."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in document.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                for holder in (span, *span.get("links", ())):
                    for name in _ID_FIELDS:
                        if name in holder:
                            holder[name] = base64.b64decode(holder[name]).hex()
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_DECODER = json.JSONDecoder()
_INPUTS, _OUTPUTS = '{"inputs":', ',"outputs":'


def _split_content(content: str) -> tuple[dict[str, Any], str | None, str | None]:
    """A span row's content parsed, with the JSON text of its inputs and outputs as it is in the row.

    The row is ``{"inputs":<json>,"outputs":<json>,...}`` (``encode._span_row``); anything else
    is parsed whole (no texts).
    """
    if content.startswith(_INPUTS):
        try:
            inputs, end_in = _DECODER.raw_decode(content, len(_INPUTS))
            if content.startswith(_OUTPUTS, end_in):
                start_out = end_in + len(_OUTPUTS)
                outputs, end_out = _DECODER.raw_decode(content, start_out)
                body: dict[str, Any] = json.loads("{" + content[end_out + 1:]) if content[end_out] == "," else {}
                body["inputs"], body["outputs"] = inputs, outputs
                return body, content[len(_INPUTS):end_in], content[start_out:end_out]
        except (ValueError, IndexError):
            pass
    parsed: dict[str, Any] = json.loads(content)
    return parsed, None, None


def trace_metadata(record: Record, metadata_sets: dict[str, dict[str, str]]) -> dict[str, str]:
    """The trace's whole metadata: its shared set's, its own, and the keys the record keeps as columns."""
    metadata: dict[str, str] = dict(metadata_sets.get(record[SET_FIELD]) or {}) if record[SET_FIELD] else {}
    metadata.update(record[METADATA_FIELD])
    if record[_FIELD["model_id"]]:
        metadata[keys.MODEL_ID] = record[_FIELD["model_id"]]
    if record[_FIELD["token_usage"]]:
        metadata[keys.TOKEN_USAGE] = record[_FIELD["token_usage"]]
    return metadata


def trace_tags(record: Record) -> dict[str, str]:
    tags = dict(record[TAGS_FIELD])
    if record[_FIELD["name"]]:
        tags[keys.TRACE_NAME_TAG] = record[_FIELD["name"]]
    return tags


def _trace_attributes(record: Record, metadata_sets: dict[str, dict[str, str]],
                      native: bool) -> Iterable[tuple[str, Any]]:
    tags = trace_tags(record)
    metadata = trace_metadata(record, metadata_sets)
    for key, value in tags.items():
        yield TAG_PREFIX + key, value
        if native:
            yield MLFLOW_TAG_PREFIX + key, value
    for key, value in metadata.items():
        yield METADATA_PREFIX + key, value
    if metadata.get(keys.MODEL_ID):
        yield keys.MODEL_ID, metadata[keys.MODEL_ID]
    if metadata.get(keys.TRACE_SESSION):
        yield "session.id", metadata[keys.TRACE_SESSION]
    if metadata.get(keys.TRACE_USER):
        yield "user.id", metadata[keys.TRACE_USER]


def genai_attributes(span_type: str, name: str, inputs: Any, outputs: Any,
                     recorded: dict[str, Any]) -> list[tuple[str, Any]]:
    """The OpenTelemetry GenAI semantic-convention attributes of one span (model, tool and agent spans)."""
    out: list[tuple[str, Any]] = []
    ins = inputs if isinstance(inputs, dict) else {}
    outs = outputs if isinstance(outputs, dict) else {}
    operation = _OPERATIONS[span_type]
    if span_type == "LLM" and isinstance(ins.get("messages"), list):
        operation = "chat"  # an LLM span of a chat API (LangChain's, LlamaIndex's)
    out.append(("gen_ai.operation.name", operation))
    if span_type == "TOOL":
        out.append(("gen_ai.tool.name", name))
        return out
    if span_type == "AGENT":
        out.append(("gen_ai.agent.name", name))
        return out
    recorded_model = recorded.get(keys.LLM_MODEL)
    request_model = ins.get("model") if isinstance(ins.get("model"), str) else recorded_model
    response_model = outs.get("model") if isinstance(outs.get("model"), str) else recorded_model
    provider = _provider(recorded, name, request_model or response_model)
    if provider:
        out.append(("gen_ai.provider.name", provider))
        out.append(("gen_ai.system", provider))  # the older name, still what many backends read
    if isinstance(request_model, str):
        out.append(("gen_ai.request.model", request_model))
    if isinstance(response_model, str):
        out.append(("gen_ai.response.model", response_model))
    for key, attribute in (("temperature", "gen_ai.request.temperature"), ("max_tokens", "gen_ai.request.max_tokens"),
                           ("top_p", "gen_ai.request.top_p")):
        value = ins.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((attribute, value))
    if isinstance(outs.get("id"), str):
        out.append(("gen_ai.response.id", outs["id"]))
    usage = recorded.get(keys.TOKEN_USAGE_ATTRIBUTE)
    if isinstance(usage, dict):
        for key, attribute in (("input_tokens", "gen_ai.usage.input_tokens"),
                               ("output_tokens", "gen_ai.usage.output_tokens"),
                               ("cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
                               ("reasoning_tokens", "gen_ai.usage.reasoning.output_tokens")):
            if type(usage.get(key)) is int:
                out.append((attribute, usage[key]))
    messages = _messages(ins, ("messages", "input"))
    if messages is not None:
        out.append(("gen_ai.input.messages", _json(messages)))
    choices = outs.get("choices")
    if isinstance(choices, list) and choices and all(isinstance(c, dict) for c in choices):
        reasons = [c["finish_reason"] for c in choices if isinstance(c.get("finish_reason"), str)]
        if reasons:
            out.append(("gen_ai.response.finish_reasons", reasons))
        output = [c["message"] for c in choices if isinstance(c.get("message"), dict)]
        if output:
            out.append(("gen_ai.output.messages", _json(output)))
    elif (output_items := _messages(outs, ("output",))) is not None:
        out.append(("gen_ai.output.messages", _json(output_items)))
    return out


def _messages(obj: dict[str, Any], fields: tuple[str, ...]) -> list[Any] | None:
    for field in fields:
        value = obj.get(field)
        if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
            return value
        if isinstance(value, str) and field == "input":  # the Responses API's plain-text input
            return [{"role": "user", "content": value}]
    return None


def _provider(recorded: dict[str, Any], name: str, model: Any) -> str | None:
    given = recorded.get(keys.LLM_PROVIDER)
    if isinstance(given, str) and given:
        return given.lower()
    if isinstance(model, str):
        lowered = model.lower().rsplit("/", 1)[-1]
        for prefix, provider in _PROVIDERS:
            if lowered.startswith(prefix):
                return provider
    if "openai" in name.lower() or recorded.get(keys.MESSAGE_FORMAT) == "openai":
        return "openai"
    return None
