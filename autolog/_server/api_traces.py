"""The Traces endpoints of ``autolog ui`` (see docs/ui-api.md, "Traces").

Everything is read from the store of ``request.app.state.client``. A page of the trace list reads the
traces' rows, tags, metadata and assessments but never their spans (spans are most of a store's
bytes); a trace is opened as its span tree without contents, and a span's contents are read one
span at a time by its primary key, so a trace of 30,000 spans opens and clicks through fast.
The only writes are the tags and assessments a person makes.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from autolog._client import Client
from autolog._errors import InvalidArgumentError, ResourceDoesNotExist
from autolog._store.span_views import read_span, span_skeletons
from autolog.entities import keys
from autolog.entities.assessment import Assessment, AssessmentSource, Expectation, Feedback
from autolog.entities.span import Span
from autolog.entities.trace import TraceInfo

__all__ = ["model_names", "router"]

router = APIRouter(tags=["traces"])

MAX_PAGE = 500
_MODEL_NAME_CACHE_SIZE = 10_000


def _client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def model_names(request: Request, model_ids: list[str | None]) -> dict[str, str]:
    """Names of the versions a page shows. A version's name never changes, so each id is read from the store once
    per app (in one query for all the page's new ids) and kept; the cache is emptied when it grows past its size."""
    cache: dict[str, str] = request.app.state.model_names
    missing = [m for m in dict.fromkeys(model_ids) if m and m not in cache]
    if missing:
        if len(cache) > _MODEL_NAME_CACHE_SIZE:
            cache.clear()
        cache.update(_client(request).store.logged_model_names(missing))
    return {m: cache[m] for m in model_ids if m and m in cache}


def _json_metadata(info: TraceInfo, key: str) -> Any:
    raw = info.trace_metadata.get(key)
    try:
        return json.loads(raw) if raw else None
    except ValueError:  # written by another tool: shown as missing rather than failing the page
        return None


def _latest_feedback(info: TraceInfo) -> dict[str, Any]:
    """The value of each feedback name's newest valid feedback (assessments come oldest first)."""
    latest: dict[str, Any] = {}
    for a in info.assessments:
        if a.kind == "feedback" and a.valid:
            latest[a.name] = a.value
    return latest


def _row(info: TraceInfo, names: dict[str, str]) -> dict[str, Any]:
    usage = _json_metadata(info, keys.TOKEN_USAGE)
    cost = _json_metadata(info, keys.TRACE_COST)
    model_id = info.trace_metadata.get(keys.MODEL_ID)
    return {
        "trace_id": info.trace_id, "name": info.tags.get(keys.TRACE_NAME_TAG),
        "request_preview": info.request_preview, "response_preview": info.response_preview, "state": info.state,
        "request_time": info.request_time, "execution_time_ms": info.execution_duration,
        "total_tokens": usage.get("total_tokens") if isinstance(usage, dict) else None,
        "cost": cost.get("total_cost") if isinstance(cost, dict) else None,
        "model_id": model_id, "model_name": names.get(model_id) if model_id else None,
        "session": info.trace_metadata.get(keys.TRACE_SESSION), "user": info.trace_metadata.get(keys.TRACE_USER),
        "tags": {k: v for k, v in info.tags.items() if not k.startswith("mlflow.")},
        "feedback": _latest_feedback(info),
    }


@router.get("/experiments")
def list_experiments(request: Request) -> list[dict[str, Any]]:
    return [{"experiment_id": e.experiment_id, "name": e.name} for e in _client(request).store.list_experiments()]


@router.get("/traces")
def list_traces(request: Request, filter: str | None = None, order_by: str | None = None,
                max_results: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50, page_token: str | None = None,
                experiment_id: Annotated[list[str] | None, Query()] = None,
                model_id: str | None = None) -> dict[str, Any]:
    """One page of traces, newest first unless ``order_by`` says otherwise (any ``search_traces`` order_by
    clause; the UI sorts by timestamp_ms, execution_time_ms, total_tokens or cost)."""
    store = _client(request).store
    traces, token = store.search_traces(experiment_id or None, filter, [order_by] if order_by else None,
                                        max_results, page_token or None, model_id=model_id, include_spans=False)
    infos = [t.info for t in traces]
    names = model_names(request, [i.trace_metadata.get(keys.MODEL_ID) for i in infos])
    rows = [_row(i, names) for i in infos]
    feedback_names = sorted({name for r in rows for name in r["feedback"]})
    return {"traces": rows, "next_page_token": token, "feedback_names": feedback_names}


def _load_info(client: Client, trace_id: str) -> TraceInfo:
    found = client.store.load_traces([trace_id], include_spans=False)
    if not found:
        raise ResourceDoesNotExist(f"trace {trace_id!r} does not exist in {client.store.uri}")
    return found[0].info


@router.get("/traces/{trace_id}")
def get_trace(request: Request, trace_id: str) -> dict[str, Any]:
    """The trace's info, its span tree without contents (start order), and its assessments."""
    client = _client(request)
    info = _load_info(client, trace_id)
    names = model_names(request, [info.trace_metadata.get(keys.MODEL_ID)])
    detail = {**_row(info, names), "trace_metadata": info.trace_metadata, "tags": info.tags,
              "token_usage": _json_metadata(info, keys.TOKEN_USAGE), "cost": _json_metadata(info, keys.TRACE_COST)}
    return {"info": detail, "spans": span_skeletons(client.store.connections, trace_id),
            "assessments": [a.to_dictionary() for a in info.assessments]}


def span_detail(span: Span) -> dict[str, Any]:
    """A span as the API sends it: the skeleton's fields, then its contents (the attributes as recorded)."""
    attributes = span.recorded_attributes
    return {"span_id": span.span_id, "parent_id": span.parent_id, "name": span.name, "span_type": span.span_type,
            "start_time_ns": span.start_time_ns, "end_time_ns": span.end_time_ns,
            "status_code": span.status.status_code, "status_message": span.status.description or "",
            "n_events": len(span.events), "has_exception": any(e.name == "exception" for e in span.events),
            "token_usage": attributes.get(keys.TOKEN_USAGE_ATTRIBUTE), "cost": attributes.get(keys.LLM_COST),
            "inputs": span.inputs, "outputs": span.outputs, "attributes": attributes,
            "events": [{"name": e.name, "timestamp_ns": e.timestamp_ns, "attributes": e.attributes}
                       for e in span.events]}


def _span(client: Client, trace_id: str, span_id: str) -> Span:
    span = read_span(client.store.connections, trace_id, span_id)
    if span is None:
        _load_info(client, trace_id)  # an unknown trace is named as such
        raise ResourceDoesNotExist(f"trace {trace_id!r} has no span {span_id!r}")
    return span


@router.get("/traces/{trace_id}/spans/{span_id}")
def get_span(request: Request, trace_id: str, span_id: str) -> dict[str, Any]:
    return span_detail(_span(_client(request), trace_id, span_id))


class TagBody(BaseModel):
    key: str
    value: str


@router.post("/traces/{trace_id}/tags")
def set_tag(request: Request, trace_id: str, body: TagBody) -> dict[str, Any]:
    if not body.key.strip():
        raise InvalidArgumentError("key: a tag key must not be empty")
    _client(request).set_trace_tag(trace_id, body.key, body.value)
    return {"trace_id": trace_id, "key": body.key, "value": body.value}


@router.delete("/traces/{trace_id}/tags/{key:path}")
def delete_tag(request: Request, trace_id: str, key: str) -> dict[str, Any]:
    _client(request).delete_trace_tag(trace_id, key)
    return {"trace_id": trace_id, "key": key}


class AssessmentBody(BaseModel):
    kind: Literal["feedback", "expectation"]
    name: str
    value: Any
    rationale: str | None = None
    reviewer: str
    span_id: str | None = None


def human_assessment(kind: str, name: str, value: Any, reviewer: str, rationale: str | None = None,
                     span_id: str | None = None) -> Assessment:
    """A person's feedback or expectation (source HUMAN, source_id the reviewer); an empty name or reviewer is
    refused, naming the field."""
    for field, text in (("name", name), ("reviewer", reviewer)):
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgumentError(f"{field}: must be a non-empty string, got {text!r}")
    source = AssessmentSource("HUMAN", reviewer)
    if kind == "feedback":
        return Feedback(name, value, source=source, rationale=rationale, span_id=span_id)
    return Expectation(name, value, source=source, rationale=rationale, span_id=span_id)


@router.post("/traces/{trace_id}/assessments")
def log_assessment(request: Request, trace_id: str, body: AssessmentBody) -> dict[str, Any]:
    client = _client(request)
    assessment = human_assessment(body.kind, body.name, body.value, body.reviewer, body.rationale, body.span_id)
    if body.span_id is not None:
        _span(client, trace_id, body.span_id)  # an assessment of a span the trace does not have is refused
    return client.log_assessment(trace_id, assessment).to_dictionary()
