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

import hashlib
import importlib.metadata
import json
import os
import platform
import struct
from collections.abc import Iterable, Sequence
from typing import Any

from autolog._store.records import METADATA_FIELD, RECORD_FIELDS, SET_FIELD, SPANS_FIELD, TAGS_FIELD, Record
from autolog.entities import keys

__all__ = ["METADATA_PREFIX", "MLFLOW_TAG_PREFIX", "TAG_PREFIX", "encode_request", "genai_attributes",
           "resource_attributes", "span_id_bytes", "trace_id_bytes", "trace_metadata", "trace_tags"]

TAG_PREFIX = "mlflow.trace.tag."
METADATA_PREFIX = "mlflow.trace.metadata."
MLFLOW_TAG_PREFIX = "mlflow.traceTag."  # what MLflow's /v1/traces handler reads into the trace's tags
_FIELD = {name: i for i, name in enumerate(RECORD_FIELDS)}
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


# The request is written in protobuf's wire format here, field by field (in field-number order, as
# protobuf serializes): building opentelemetry-proto messages field by field and serializing them
# cost the worker twice as much, holding the GIL. Field numbers are those of opentelemetry-proto's
# trace/v1, common/v1 and collector/trace/v1 messages; ``request_json`` parses the bytes back.
_SMALL = [bytes((i,)) for i in range(128)]
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_KEYS: dict[str, bytes] = {}  # attribute key → its KeyValue.key field (a few hundred distinct keys)
_CONSTANTS: dict[tuple[str, str], bytes] = {}  # (key, value) → KeyValue, for the few-valued attributes
_SPAN_TYPES: dict[tuple[str | None, bool], bytes] = {}  # (span type, native) → its mlflow.spanType attribute
_MAX_CACHED = 4096


def _varint(n: int) -> bytes:
    if n < 128:
        return _SMALL[n]
    out = bytearray()
    while n > 127:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 128 else _varint(n)) + payload


def _any_value(value: Any) -> bytes:
    """An AnyValue; b"" for None and empty containers (an AnyValue with nothing set)."""
    if isinstance(value, str):
        return _field(b"\x0a", value.encode("utf-8"))  # 1: string_value
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"  # 2: bool_value
    if isinstance(value, int) and -2**63 <= value < 2**63:
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)  # 3: int_value, two's complement
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)  # 4: double_value
    if isinstance(value, dict):  # 6: kvlist_value, KeyValueList.values (1)
        return _field(b"\x32", b"".join([_key_value(b"\x0a", str(k), v) for k, v in value.items()])) if value else b""
    if isinstance(value, (list, tuple)):  # 5: array_value, ArrayValue.values (1)
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any_value(v)) for v in value])) if value else b""
    if value is not None:
        return _field(b"\x0a", json.dumps(value, default=str).encode("utf-8"))
    return b""


def _key_value(tag: bytes, key: str, value: Any) -> bytes:
    """A KeyValue (key: 1, value: 2) as the length-delimited field ``tag`` (a KeyValue is always one)."""
    key_field = _KEYS.get(key)
    if key_field is None:
        if len(_KEYS) >= _MAX_CACHED:
            _KEYS.clear()
        key_field = _KEYS[key] = _field(b"\x0a", key.encode("utf-8")) if key else b""
    if type(value) is str:
        text = value.encode("utf-8")
        n = len(text)
        if n < 126:  # the common short string: both lengths one byte
            kv = key_field + b"\x12" + _SMALL[n + 2] + b"\x0a" + _SMALL[n] + text
        else:
            n = len(any_value := b"\x0a" + _varint(n) + text)
            kv = key_field + b"\x12" + _varint(n) + any_value
    else:
        any_value = _any_value(value)
        kv = key_field + b"\x12" + _varint(len(any_value)) + any_value if any_value else key_field
    n = len(kv)
    return tag + (_SMALL[n] if n < 128 else _varint(n)) + kv


def _constant(key: str, value: Any) -> bytes:
    """A span attribute with few distinct values (span types, operations, providers, models, tags): cached."""
    if type(value) is not str or len(value) > 100:
        return _key_value(b"\x4a", key, value)
    cached = _CONSTANTS.get((key, value))
    if cached is None:
        if len(_CONSTANTS) >= _MAX_CACHED:
            _CONSTANTS.clear()
        cached = _CONSTANTS[key, value] = _key_value(b"\x4a", key, value)
    return cached


_json = json.JSONEncoder(ensure_ascii=False, default=str).encode  # json.dumps(value, ensure_ascii=False, default=str)


def encode_request(records: Sequence[Record], metadata_sets: dict[str, dict[str, str]],
                   resource: dict[str, Any], native_values: bool = False) -> bytes:
    """One serialized ``ExportTraceServiceRequest`` holding every span of ``records`` (one resource, one scope)."""
    spans: list[bytes] = []
    for record in records:
        _encode_trace(spans, record, metadata_sets, native_values)
    # ResourceSpans: resource (1: Resource, attributes 1), scope_spans (2: ScopeSpans, scope 1, spans 2).
    resource_field = _field(b"\x0a", b"".join([_key_value(b"\x0a", k, v) for k, v in resource.items()])) \
        if resource else b""
    scope_spans = _field(b"\x12", b"".join((_SCOPE, *spans)))
    return _field(b"\x0a", resource_field + scope_spans)  # ExportTraceServiceRequest.resource_spans (1)


# InstrumentationScope (name 1, version 2) as ScopeSpans.scope (1).
_SCOPE = _field(b"\x0a", _field(b"\x0a", b"autolog") + _field(b"\x12", _VERSION.encode("utf-8")))
_KIND_CLIENT, _KIND_INTERNAL = b"\x30\x03", b"\x30\x01"  # Span.kind (6): SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL
_STATUS_CODES = {"OK": b"\x18\x01", "ERROR": b"\x18\x02"}  # Status.code (3); UNSET (0) is not written
_SKIPPED = frozenset((keys.SPAN_TYPE, keys.SPAN_INPUTS, keys.SPAN_OUTPUTS, keys.TRACE_REQUEST_ID))


def _encode_trace(spans: list[bytes], record: Record, metadata_sets: dict[str, dict[str, str]],
                  native: bool) -> None:
    """Append each span of ``record``, as ScopeSpans.spans fields (2), to ``spans``."""
    trace_id: str = record[0]
    ids = b"\x0a\x10" + trace_id_bytes(trace_id)  # Span.trace_id (1), 16 bytes
    request_id = _key_value(b"\x4a", keys.TRACE_REQUEST_ID, trace_id if native else _json(trace_id))
    for row in record[SPANS_FIELD]:
        span_id, parent_id, name, span_type, status_code, start_ns, end_ns, content = row
        body, inputs_text, outputs_text = _split_content(content)
        parts = [ids, b"\x12\x08", span_id_bytes(span_id)]  # span_id (2), 8 bytes
        if parent_id:
            parts += (b"\x22\x08", span_id_bytes(parent_id))  # parent_span_id (4)
        if name:
            parts.append(_field(b"\x2a", name.encode("utf-8")))  # name (5)
        parts.append(_KIND_CLIENT if span_type in _CLIENT_TYPES else _KIND_INTERNAL)
        if start_ns:
            parts += (b"\x39", _pack_fixed64(start_ns))  # start_time_unix_nano (7), fixed64
        if end_ns:  # 0: never ended (a trace stored IN_PROGRESS at exit)
            parts += (b"\x41", _pack_fixed64(end_ns))  # end_time_unix_nano (8)
        attributes = [request_id]  # attributes (9), each a KeyValue
        inputs, outputs = body.get("inputs"), body.get("outputs")
        recorded: dict[str, Any] = body.get("attributes") or {}
        type_attribute = _SPAN_TYPES.get((span_type, native))
        if type_attribute is None:
            kind = span_type or "UNKNOWN"
            type_attribute = _constant(keys.SPAN_TYPE, kind if native else _json(kind))
            _SPAN_TYPES[span_type, native] = type_attribute
        attributes.append(type_attribute)
        if inputs is not None:  # as JSON: the text the record holds, not parsed and dumped again
            attributes.append(_key_value(b"\x4a", keys.SPAN_INPUTS, inputs if native else inputs_text or _json(inputs)))
        if outputs is not None:
            attributes.append(_key_value(b"\x4a", keys.SPAN_OUTPUTS,
                                         outputs if native else outputs_text or _json(outputs)))
        for key, value in recorded.items():
            if key not in _SKIPPED:
                attributes.append(_key_value(b"\x4a", key, value if native else _json(value)))
        if span_type in _OPERATIONS:
            for key, value in genai_attributes(span_type, name or "", inputs, outputs, recorded):
                attributes.append(_constant(key, value) if key in _FEW_VALUED else _key_value(b"\x4a", key, value))
        if not parent_id:
            attributes += [_constant(key, value) for key, value in _trace_attributes(record, metadata_sets, native)]
        parts += attributes
        for event in body.get("events") or ():  # events (11): time_unix_nano (1), name (2), attributes (3)
            time_ns, event_name = event.get("timestamp_ns"), event.get("name")
            parts.append(_field(b"\x5a", b"".join((
                b"\x09" + _pack_fixed64(time_ns) if time_ns else b"",
                _field(b"\x12", event_name.encode("utf-8")) if event_name else b"",
                *[_key_value(b"\x1a", k, v if isinstance(v, (str, int, float, bool)) else _json(v))
                  for k, v in (event.get("attributes") or {}).items()]))))
        message = body.get("status_message")  # status (15): message (2), code (3)
        parts.append(_field(b"\x7a", (_field(b"\x12", message.encode("utf-8")) if message else b"")
                            + _STATUS_CODES.get(status_code, b"")))
        spans.append(_field(b"\x12", b"".join(parts)))


_FEW_VALUED = frozenset(("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
                         "gen_ai.response.model"))
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
