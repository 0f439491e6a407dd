"""The Labeling sessions endpoints of ``autolog ui`` (see docs/ui-api.md, "Labeling sessions").

A reviewer works through a session's queue in the UI: the session gives its schemas (the
questions) and its items, and each submit writes the answers as HUMAN assessments through
``autolog.genai.labeling``, which checks every answer against its schema before anything is
written (a bad answer is a 400 naming the schema).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from autolog._client import Client
from autolog.genai import labeling
from autolog.genai.label_schemas import label_schema_from_dict

__all__ = ["router"]

router = APIRouter(tags=["labeling"])


def _client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def _summary(session: labeling.LabelingSession) -> dict[str, Any]:
    return {"labeling_session_id": session.labeling_session_id, "name": session.name,
            "experiment_id": session.experiment_id, "schemas": session.label_schemas,
            "assigned_users": session.assigned_users, "creation_time": session.creation_time,
            "progress": session.progress}


def _detail(session: labeling.LabelingSession, client: Client) -> dict[str, Any]:
    items = session.items
    pending = next((i.trace_id for i in items if i.state == "PENDING"), None)
    # a reviewer picks from the queue by what a trace is, not by its id: name and request preview, no spans
    infos = {t.info.trace_id: t.info for t in client.store.load_traces([i.trace_id for i in items],
                                                                        include_spans=False)}
    listed = []
    for item in items:
        info = infos.get(item.trace_id)
        listed.append({**item.to_dict(), "trace_name": info.tags.get("mlflow.traceName") if info else None,
                       "request_preview": info.request_preview if info else None})
    return {**_summary(session), "schemas": [s.to_dict() for s in session.schemas], "items": listed,
            "next_trace_id": pending}


@router.get("/label-schemas")
def list_label_schemas(request: Request, experiment_id: str | None = None) -> list[dict[str, Any]]:
    """The label schemas of ``experiment_id`` (default: every experiment's), by name."""
    definitions = _client(request).store.label_schema_definitions(experiment_id)
    return [{**label_schema_from_dict(d).to_dict(), "experiment_id": d["experiment_id"]} for d in definitions]


@router.get("/labeling-sessions")
def list_labeling_sessions(request: Request, experiment_id: str | None = None) -> list[dict[str, Any]]:
    """The sessions of ``experiment_id`` (default: every experiment's), oldest first, with their progress."""
    sessions = labeling.get_labeling_sessions(experiment_id, all_experiments=experiment_id is None,
                                              client=_client(request))
    return [_summary(s) for s in sessions]


class SessionBody(BaseModel):
    name: str
    trace_ids: list[str] = Field(default_factory=list)
    schemas: list[str] = Field(default_factory=list, description="names of label schemas of the experiment")
    assigned_users: list[str] = Field(default_factory=list)
    experiment_id: str | None = None


@router.post("/labeling-sessions")
def create_labeling_session(request: Request, body: SessionBody) -> dict[str, Any]:
    """A new session over ``trace_ids`` in that order (404 naming an unknown trace or schema: nothing is made)."""
    session = labeling.create_labeling_session(body.name, traces=body.trace_ids, schemas=body.schemas,
                                               assigned_users=body.assigned_users,
                                               experiment_id=body.experiment_id, client=_client(request))
    return _detail(session, _client(request))


@router.get("/labeling-sessions/{labeling_session_id}")
def get_labeling_session(request: Request, labeling_session_id: str) -> dict[str, Any]:
    return _detail(labeling.get_labeling_session(labeling_session_id, client=_client(request)), _client(request))


class TracesBody(BaseModel):
    trace_ids: list[str]


@router.post("/labeling-sessions/{labeling_session_id}/traces")
def add_traces(request: Request, labeling_session_id: str, body: TracesBody) -> dict[str, Any]:
    """Append traces to the queue (already queued ones keep their place)."""
    session = labeling.get_labeling_session(labeling_session_id, client=_client(request))
    return _detail(session.add_traces(body.trace_ids), _client(request))


class SubmitBody(BaseModel):
    reviewer: str
    answers: dict[str, Any] = Field(default_factory=dict, description="schema name -> answer")
    comment: str | None = None
    state: str = "COMPLETED"


@router.post("/labeling-sessions/{labeling_session_id}/items/{trace_id}")
def submit_item(request: Request, labeling_session_id: str, trace_id: str, body: SubmitBody) -> dict[str, Any]:
    """Record a reviewer's answers for one trace of the queue and mark it COMPLETED or SKIPPED."""
    session = labeling.get_labeling_session(labeling_session_id, client=_client(request))
    item = session.submit(trace_id, reviewer=body.reviewer, answers=body.answers, comment=body.comment,
                          state=body.state)
    return item.to_dict()
