"""OTLP spans (``opentelemetry.proto.trace.v1.Span``) as autolog's spans, with MLflow's span types and attributes.

One function per concern, each reading the conventions in the order a sender is most precise with:
autolog's and MLflow's own ``mlflow.*`` attributes first (a span autolog or MLflow exported keeps what it
said), then OpenInference's, then the OpenTelemetry GenAI semantic conventions (current names, then the
older flattened ones OpenLLMetry still sends). What was read into the span's inputs, outputs or type is
taken off its attributes; every other attribute the sender set stays as it was.

=====================================  ==========================================================================
OTLP                                   autolog
=====================================  ==========================================================================
trace_id (16 bytes)                    trace id ``tr-<32 hex>`` (MLflow's id for a trace that came over OTel)
span_id / parent_span_id (8 bytes)     16 hex digits; no parent: the root span
start/end_time_unix_nano               start/end time (ns); no end time: the span is still open
status ERROR + message / OK / UNSET    ERROR + message / OK / OK (UNSET is only a span still open)
events                                 span events, attributes as sent (``exception`` events keep
                                       exception.type/message/stacktrace)
span kind, scope, links, trace_state   attributes ``otel.span.kind`` (not INTERNAL), ``otel.scope.name``/
                                       ``otel.scope.version``, ``otel.links``, ``otel.trace_state``
resource ``service.name``              trace metadata ``otel.service.name``; all resource attributes as JSON
                                       in ``otel.resource.attributes``
=====================================  ==========================================================================

See ``span_type_of``, ``inputs_and_outputs``, ``token_usage_of`` and ``trace_fields_of`` for the attributes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from autolog._serialize import dumps
from autolog.entities import keys
from autolog.entities.span import SpanEvent, SpanStatusCode, SpanType

__all__ = ["SpanData", "SpanRejected", "attributes_of", "resource_metadata", "span_id_hex", "trace_id_of",
           "translate_span"]

_MAX_TIME_NS = (1 << 63) - 1  # the store's times are signed 64-bit

# OpenInference's span kinds (openinference.span.kind) and GenAI's operations (gen_ai.operation.name).
OPENINFERENCE_TYPES = {
    "LLM": SpanType.LLM, "CHAIN": SpanType.CHAIN, "TOOL": SpanType.TOOL, "RETRIEVER": SpanType.RETRIEVER,
    "EMBEDDING": SpanType.EMBEDDING, "AGENT": SpanType.AGENT, "RERANKER": SpanType.RERANKER,
    "GUARDRAIL": SpanType.GUARDRAIL, "EVALUATOR": SpanType.EVALUATOR, "PROMPT": SpanType.PROMPT,
    "UNKNOWN": SpanType.UNKNOWN,
}
GENAI_TYPES = {
    "chat": SpanType.CHAT_MODEL, "text_completion": SpanType.LLM, "generate_content": SpanType.LLM,
    "embeddings": SpanType.EMBEDDING, "execute_tool": SpanType.TOOL, "invoke_agent": SpanType.AGENT,
    "create_agent": SpanType.AGENT,
}
# OpenLLMetry's names from before GenAI had gen_ai.operation.name, and for its workflow decorators.
OPENLLMETRY_REQUEST_TYPES = {"chat": SpanType.CHAT_MODEL, "completion": SpanType.LLM, "embedding": SpanType.EMBEDDING}
OPENLLMETRY_KINDS = {"workflow": SpanType.WORKFLOW, "task": SpanType.TASK, "agent": SpanType.AGENT,
                     "tool": SpanType.TOOL}
# Token counts, each key of mlflow.chat.tokenUsage from the first attribute present.
_GENAI_USAGE = {
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "total_tokens": ("gen_ai.usage.total_tokens", "llm.usage.total_tokens"),
    "cache_read_input_tokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"),
}
_OPENINFERENCE_USAGE = {
    "input_tokens": ("llm.token_count.prompt",), "output_tokens": ("llm.token_count.completion",),
    "total_tokens": ("llm.token_count.total",),
    "cache_read_input_tokens": ("llm.token_count.prompt_details.cache_read",),
}
_MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
_PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider")
# mlflow.* attributes whose value is a JSON document even when a sender left it as JSON text.
_JSON_VALUED = (keys.SPAN_INPUTS, keys.SPAN_OUTPUTS, keys.TOKEN_USAGE_ATTRIBUTE, keys.LLM_COST, keys.CHAT_TOOLS)
TAG_PREFIX = "mlflow.trace.tag."
METADATA_PREFIX = "mlflow.trace.metadata."
MLFLOW_TAG_PREFIX = "mlflow.traceTag."
_SPAN_KINDS = {2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}  # INTERNAL/UNSPECIFIED say nothing


class SpanRejected(ValueError):
    """A span that cannot be stored (its ids or times are not what OTLP allows); the message says why."""


@dataclass
class SpanData:
    """One span ready to be recorded, with the trace tags and metadata its attributes carried."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    span_type: str
    start_time_ns: int
    end_time_ns: int | None
    status_code: str
    status_message: str
    inputs: Any
    outputs: Any
    attributes: dict[str, Any]
    events: list[SpanEvent]
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


def trace_id_of(raw: bytes) -> str:
    """An OTel trace id (16 bytes) as autolog's (and MLflow's) ``tr-<32 hex>``."""
    if len(raw) != 16 or not any(raw):
        raise SpanRejected(f"trace_id must be 16 bytes, not all zero; got {len(raw)} bytes {raw.hex()!r}")
    return "tr-" + raw.hex()


def span_id_hex(raw: bytes, what: str = "span_id") -> str:
    if len(raw) != 8 or not any(raw):
        raise SpanRejected(f"{what} must be 8 bytes, not all zero; got {len(raw)} bytes {raw.hex()!r}")
    return raw.hex()


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a JSON-able Python value (bytes as base64 text, as OTLP/JSON writes them)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)


def attributes_of(key_values: Iterable[Any]) -> dict[str, Any]:
    """OTLP ``KeyValue``s as a dict (a repeated key: the last one wins, as in the SDKs)."""
    return {kv.key: any_value(kv.value) for kv in key_values}


def resource_metadata(resource_attributes: dict[str, Any]) -> dict[str, str]:
    """The trace metadata a resource gives: its service name, and every resource attribute as one JSON object."""
    metadata = {}
    service = resource_attributes.get("service.name")
    if service is not None:
        metadata["otel.service.name"] = _text(service)
    if resource_attributes:
        metadata["otel.resource.attributes"] = dumps(resource_attributes)
    return metadata


def translate_span(span: Any, scope: Any = None) -> SpanData:
    """One OTLP span (and its instrumentation scope) as ``SpanData``; ``SpanRejected`` saying why it cannot be."""
    trace_id = trace_id_of(span.trace_id)
    span_id = span_id_hex(span.span_id)
    parent_id = span_id_hex(span.parent_span_id, "parent_span_id") if span.parent_span_id else None
    start, end = span.start_time_unix_nano, span.end_time_unix_nano or None
    if not 0 < start <= _MAX_TIME_NS:
        raise SpanRejected(f"span {span_id}: start_time_unix_nano must be set and fit in 63 bits, got {start}")
    if end is not None and not start <= end <= _MAX_TIME_NS:
        raise SpanRejected(f"span {span_id}: end_time_unix_nano {end} is before start_time_unix_nano {start}"
                           " or does not fit in 63 bits")
    attributes = attributes_of(span.attributes)
    _decode_mlflow_json(attributes)
    attributes.pop(keys.TRACE_REQUEST_ID, None)  # MLflow's copy of the trace id: autolog derives it on every read
    _add_otel_fields(span, scope, attributes)
    span_type = span_type_of(attributes)
    inputs, outputs = inputs_and_outputs(attributes)
    usage = token_usage_of(attributes)
    if usage:
        attributes[keys.TOKEN_USAGE_ATTRIBUTE] = usage
    # The model and provider price the call (autolog._export.cost) and name it in the UI.
    for key, sources in ((keys.LLM_MODEL, _MODEL_KEYS), (keys.LLM_PROVIDER, _PROVIDER_KEYS)):
        found = next((attributes[k] for k in sources if isinstance(attributes.get(k), str) and attributes[k]), None)
        if found is not None:
            attributes.setdefault(key, found)
    tags, metadata = trace_fields_of(attributes)
    code = {2: SpanStatusCode.ERROR}.get(span.status.code, SpanStatusCode.OK if end else SpanStatusCode.UNSET)
    events = [SpanEvent(e.name, e.time_unix_nano, attributes_of(e.attributes)) for e in span.events]
    return SpanData(trace_id, span_id, parent_id, span.name, span_type, start, end, code,
                    span.status.message if code == SpanStatusCode.ERROR else "", inputs, outputs, attributes, events,
                    tags, metadata)


def _decode_mlflow_json(attributes: dict[str, Any]) -> None:
    """MLflow's exporter sends every attribute as JSON text (``mlflow.spanType`` is ``'"LLM"'``): decode them all
    for such a span, so its attributes read back as MLflow recorded them; elsewhere only mlflow.* documents."""
    span_type = attributes.get(keys.SPAN_TYPE)
    names = attributes if isinstance(span_type, str) and span_type.startswith('"') else _JSON_VALUED
    for key in names:
        value = attributes.get(key)
        if isinstance(value, str):
            attributes[key] = _json_or_text(value)


def _add_otel_fields(span: Any, scope: Any, attributes: dict[str, Any]) -> None:
    """The span's OTel fields autolog has no column for, as attributes, so nothing the sender said is lost."""
    if span.kind in _SPAN_KINDS:
        attributes.setdefault("otel.span.kind", _SPAN_KINDS[span.kind])
    if scope is not None and scope.name:
        attributes.setdefault("otel.scope.name", scope.name)
        if scope.version:
            attributes.setdefault("otel.scope.version", scope.version)
    if span.trace_state:
        attributes.setdefault("otel.trace_state", span.trace_state)
    if span.links:
        attributes.setdefault("otel.links", [{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(),
                                              "attributes": attributes_of(link.attributes)} for link in span.links])


def span_type_of(attributes: dict[str, Any]) -> str:
    """``mlflow.spanType``, else OpenInference's span kind (LLM with chat messages: CHAT_MODEL), else GenAI's
    operation name, else OpenLLMetry's ``llm.request.type`` / ``traceloop.span.kind``, else UNKNOWN.
    ``mlflow.spanType`` is taken off the attributes (it is the span's type)."""
    given = attributes.pop(keys.SPAN_TYPE, None)
    if isinstance(given, str) and given:
        return given
    kind = attributes.get("openinference.span.kind")
    if isinstance(kind, str) and kind.upper() in OPENINFERENCE_TYPES:
        span_type = OPENINFERENCE_TYPES[kind.upper()]
        if span_type == SpanType.LLM and any(k.startswith("llm.input_messages.") for k in attributes):
            return SpanType.CHAT_MODEL
        return span_type
    for key, table in (("gen_ai.operation.name", GENAI_TYPES), ("llm.request.type", OPENLLMETRY_REQUEST_TYPES),
                       ("traceloop.span.kind", OPENLLMETRY_KINDS)):
        value = attributes.get(key)
        if isinstance(value, str) and value in table:
            return table[value]
    return SpanType.UNKNOWN


def inputs_and_outputs(attributes: dict[str, Any]) -> tuple[Any, Any]:
    """The span's inputs and outputs, each from the first convention present (its attributes are taken off):

    - ``mlflow.spanInputs`` / ``mlflow.spanOutputs`` (JSON);
    - OpenInference ``input.value`` / ``output.value`` (parsed when ``*.mime_type`` is ``application/json``);
    - GenAI ``gen_ai.input.messages`` / ``gen_ai.output.messages`` as ``{"messages": [...]}``;
    - GenAI's older ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*``, reassembled as ``{"messages": [...]}``;
    - GenAI tool calls ``gen_ai.tool.call.arguments`` / ``gen_ai.tool.call.result`` (JSON when they parse);
    - OpenLLMetry's workflow decorators' ``traceloop.entity.input`` / ``traceloop.entity.output`` (JSON).
    """
    return _io(attributes, keys.SPAN_INPUTS, "input", "gen_ai.input.messages", "gen_ai.prompt.",
               "gen_ai.tool.call.arguments"), \
        _io(attributes, keys.SPAN_OUTPUTS, "output", "gen_ai.output.messages", "gen_ai.completion.",
            "gen_ai.tool.call.result")


def _io(attributes: dict[str, Any], mlflow_key: str, openinference: str, messages_key: str, flat_prefix: str,
        tool_key: str) -> Any:
    if mlflow_key in attributes:
        return attributes.pop(mlflow_key)
    value_key = f"{openinference}.value"
    if value_key in attributes:
        value = attributes.pop(value_key)
        mime = attributes.pop(f"{openinference}.mime_type", None)
        return _json_or_text(value) if mime == "application/json" and isinstance(value, str) else value
    if messages_key in attributes:
        messages = attributes.pop(messages_key)
        return {"messages": _json_or_text(messages) if isinstance(messages, str) else messages}
    flattened = unflatten(attributes, flat_prefix)
    if flattened:
        return {"messages": flattened}
    for key in (tool_key, f"traceloop.entity.{openinference}"):
        if key in attributes:
            value = attributes.pop(key)
            return _json_or_text(value) if isinstance(value, str) else value
    return None


def unflatten(attributes: dict[str, Any], prefix: str) -> list[Any]:
    """``prefix.N.a.b`` attributes (taken off) as a list, item N a nested dict (``tool_calls.0.name`` too)."""
    found = [k for k in attributes if k.startswith(prefix) and k[len(prefix):].split(".", 1)[0].isdigit()]
    tree: dict[str, Any] = {}
    for key in found:
        node = tree
        *path, last = key[len(prefix):].split(".")
        for part in path:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # "a" and "a.b" both sent: keep the value under ""
                child = node[part] = {"": child}
            node = child
        node[last] = attributes.pop(key)
    listed = _listify(tree)
    return listed if isinstance(listed, list) else []


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


def token_usage_of(attributes: dict[str, Any]) -> dict[str, int] | None:
    """``mlflow.chat.tokenUsage`` as sent, else from GenAI's ``gen_ai.usage.*``, else OpenInference's
    ``llm.token_count.*`` (the count attributes stay: filters and other tools read them by those names)."""
    given = attributes.get(keys.TOKEN_USAGE_ATTRIBUTE)
    if isinstance(given, dict):
        return given
    for table in (_GENAI_USAGE, _OPENINFERENCE_USAGE):
        usage = {}
        for name, sources in table.items():
            value = next((attributes[k] for k in sources if _is_count(attributes.get(k))), None)
            if value is not None:
                usage[name] = int(value)
        if "input_tokens" in usage or "output_tokens" in usage:
            usage.setdefault("total_tokens", usage.get("input_tokens", 0) + usage.get("output_tokens", 0))
            return usage
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def trace_fields_of(attributes: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The trace tags and metadata a span's attributes carry (autolog's OTLP exporter puts them on the root):

    - ``mlflow.trace.tag.<key>`` (or ``mlflow.traceTag.<key>``, the name MLflow's own /v1/traces reads) → tag
      ``<key>``; ``mlflow.trace.metadata.<key>`` → metadata ``<key>``;
      ``mlflow.modelId`` → the trace's version (metadata ``mlflow.modelId``): these are taken off the span;
    - ``session.id`` / ``user.id`` (OpenInference's and OTel's names) → ``mlflow.trace.session`` /
      ``mlflow.trace.user``; these stay on the span too, where their senders put them.
    """
    tags: dict[str, str] = {}
    metadata: dict[str, str] = {}
    for key in [k for k in attributes if k.startswith((TAG_PREFIX, MLFLOW_TAG_PREFIX, METADATA_PREFIX))]:
        prefix = next(p for p in (TAG_PREFIX, MLFLOW_TAG_PREFIX, METADATA_PREFIX) if key.startswith(p))
        if len(key) > len(prefix):
            into = metadata if prefix == METADATA_PREFIX else tags
            into[key[len(prefix):]] = _text(attributes.pop(key))
    if keys.MODEL_ID in attributes:
        metadata[keys.MODEL_ID] = _text(attributes.pop(keys.MODEL_ID))
    for key, name in (("session.id", keys.TRACE_SESSION), ("user.id", keys.TRACE_USER)):
        if attributes.get(key) not in (None, ""):
            metadata.setdefault(name, _text(attributes[key]))
    return tags, metadata


def _text(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
