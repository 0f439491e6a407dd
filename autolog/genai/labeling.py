"""``autolog.genai.labeling``: human review of traces, as MLflow's labeling sessions.

A session is a queue of traces and the label schemas its reviewers answer. A reviewer takes
the next pending item, answers, and submits; every answer becomes a HUMAN assessment on the
trace (a ``Feedback`` or an ``Expectation``, by the schema's type) whose ``source_id`` is the
reviewer and whose metadata names the session::

    session = create_labeling_session("triage", traces=search_traces(...), schemas=["correct"])
    item = session.next_item()
    session.submit(item.trace_id, reviewer="ana", answers={"correct": "yes"}, comment="cites the doc")
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autolog._client import get_default_client
from autolog._errors import InvalidArgumentError
from autolog._store.labeling import SESSION_KEY
from autolog.entities.assessment import Assessment, AssessmentSource, AssessmentSourceType
from autolog.entities.trace import Trace
from autolog.genai.label_schemas import LabelSchema, label_schema_from_dict

if TYPE_CHECKING:
    from autolog._client import Client

__all__ = ["LabelingItem", "LabelingSession", "create_labeling_session", "delete_labeling_session",
           "get_labeling_session", "get_labeling_sessions"]

_SUBMIT_STATES = ("COMPLETED", "SKIPPED")


@dataclass(frozen=True)
class LabelingItem:
    """One trace of a session's queue: ``state`` PENDING, COMPLETED or SKIPPED, and who last submitted it."""

    trace_id: str
    state: str
    reviewer: str | None
    last_update_time: int

    def to_dict(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id, "state": self.state, "reviewer": self.reviewer,
                "last_update_time": self.last_update_time}


@dataclass
class LabelingSession:
    """A queue of traces to label with ``schemas`` (the definitions the session was made with).

    ``items``, ``next_item`` and ``progress`` read the store on every call: another reviewer
    (another process) may have submitted since.
    """

    labeling_session_id: str
    name: str
    experiment_id: str
    schemas: list[LabelSchema]
    assigned_users: list[str]
    creation_time: int
    client: Client = field(repr=False, compare=False)

    @property
    def label_schemas(self) -> list[str]:
        """The schemas' names (MLflow's ``LabelingSession.label_schemas``)."""
        return [s.name for s in self.schemas]

    def schema(self, name: str) -> LabelSchema:
        for s in self.schemas:
            if s.name == name:
                return s
        raise InvalidArgumentError(f"labeling session {self.name!r} ({self.labeling_session_id}) has no label "
                                   f"schema {name!r}; its schemas: {self.label_schemas!r}")

    def add_traces(self, traces: Any) -> LabelingSession:
        """Append traces (Trace objects, trace ids, or a search_traces DataFrame) to the queue; already queued
        traces keep their place. Raises ResourceDoesNotExist naming an unknown trace id (then nothing is added)."""
        ids = trace_ids_of(traces)
        self.client.flush()  # traces this process just made must be stored before they are looked up
        self.client.store.add_labeling_items(self.labeling_session_id, ids)
        return self

    @property
    def items(self) -> list[LabelingItem]:
        """The queue, in the order the traces were added."""
        return [LabelingItem(*row) for row in self.client.store.labeling_items(self.labeling_session_id)]

    def next_item(self, reviewer: str | None = None) -> LabelingItem | None:
        """The first PENDING item (None once none is left).

        ``reviewer`` is accepted for the UI's call: every reviewer shares one queue, so it
        does not change the answer.
        """
        return next((item for item in self.items if item.state == "PENDING"), None)

    @property
    def progress(self) -> dict[str, int]:
        """``{"total", "completed", "skipped", "pending"}``."""
        return self.client.store.labeling_progress(self.labeling_session_id)

    def submit(self, trace_id: str, *, reviewer: str, answers: dict[str, Any] | None = None,
               comment: str | None = None, state: str = "COMPLETED") -> LabelingItem:
        """Record a reviewer's answers for one trace and mark its item ``state`` (COMPLETED or SKIPPED).

        Every answer is checked against its schema first: if one is bad, InvalidArgumentError
        names the schema, the value and what is allowed, and nothing is written. Each answer is
        then a HUMAN assessment with ``source_id=reviewer``, ``rationale=comment`` and metadata
        ``{"labeling_session_id": ...}``; submitting the same item again replaces the reviewer's
        earlier answers (they are kept as overridden).
        """
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise InvalidArgumentError(f"submit: reviewer must be a non-empty str, got {reviewer!r}")
        if state not in _SUBMIT_STATES:
            raise InvalidArgumentError(f"submit: state must be one of {', '.join(_SUBMIT_STATES)}, got {state!r}")
        if comment is not None and not isinstance(comment, str):
            raise InvalidArgumentError(f"submit: comment must be a str or None, got {comment!r}")
        if answers is None:
            answers = {}
        if not isinstance(answers, dict):
            raise InvalidArgumentError(f"submit: answers must be a dict of schema name to value, got {answers!r}")
        checked = [(self.schema(name), self.schema(name).validate(value)) for name, value in answers.items()]
        assessments = [Assessment(name=schema.name, value=value, kind=schema.type,
                                  source=AssessmentSource(AssessmentSourceType.HUMAN, reviewer), rationale=comment,
                                  trace_id=trace_id, metadata={SESSION_KEY: self.labeling_session_id})
                       for schema, value in checked]
        row = self.client.store.submit_labeling_item(self.labeling_session_id, trace_id, reviewer, state, assessments)
        return LabelingItem(*row)

    def to_dict(self) -> dict[str, Any]:
        return {"labeling_session_id": self.labeling_session_id, "name": self.name,
                "experiment_id": self.experiment_id, "schemas": [s.to_dict() for s in self.schemas],
                "assigned_users": list(self.assigned_users), "creation_time": self.creation_time}


def trace_ids_of(traces: Any) -> list[str]:
    """Trace ids from Trace objects, ids, or a DataFrame with a ``trace_id`` column (search_traces')."""
    if traces is None:
        return []
    if hasattr(traces, "columns"):  # a pandas DataFrame, without importing pandas
        if "trace_id" not in traces.columns:
            raise InvalidArgumentError(f"traces: a DataFrame needs a trace_id column (search_traces'), it has "
                                       f"{list(traces.columns)!r}")
        traces = list(traces["trace_id"])
    elif isinstance(traces, (str, Trace)):
        traces = [traces]
    elif not isinstance(traces, Iterable):
        raise InvalidArgumentError(f"traces must be Trace objects, trace ids or a DataFrame, got {traces!r}")
    ids = []
    for t in traces:
        if isinstance(t, Trace):
            ids.append(t.info.trace_id)
        elif isinstance(t, str) and t:
            ids.append(t)
        else:
            raise InvalidArgumentError(f"traces: each must be a Trace or a trace id str, got {t!r}")
    return ids


def _schemas(client: Client, experiment_id: str, schemas: Sequence[LabelSchema | str] | None) -> list[LabelSchema]:
    if schemas is None:
        return []
    if isinstance(schemas, (str, LabelSchema)):
        schemas = [schemas]
    found: list[LabelSchema] = []
    for s in schemas:
        if isinstance(s, str):
            s = label_schema_from_dict(client.store.get_label_schema_definition(experiment_id, s))
        elif not isinstance(s, LabelSchema):
            raise InvalidArgumentError(f"schemas: each must be a LabelSchema or the name of one, got {s!r}")
        if any(f.name == s.name for f in found):
            raise InvalidArgumentError(f"schemas: {s.name!r} is given twice")
        found.append(s)
    return found


def _session(client: Client, row: dict[str, Any]) -> LabelingSession:
    return LabelingSession(row["labeling_session_id"], row["name"], row["experiment_id"],
                           [label_schema_from_dict(d) for d in row["schemas"]], row["assigned_users"],
                           row["creation_time"], client)


def create_labeling_session(name: str, *, traces: Any = None, schemas: Sequence[LabelSchema | str] | None = None,
                            assigned_users: Sequence[str] | None = None, experiment_id: str | None = None,
                            client: Client | None = None) -> LabelingSession:
    """A new session over ``traces`` (Trace objects, ids, or a search_traces DataFrame) in queue order.

    Args:
        schemas: LabelSchema objects, or names of schemas created in the session's experiment.
        assigned_users: who is meant to review (informational: anyone may submit).
        experiment_id: default the active experiment.

    Raises:
        ResourceDoesNotExist: an unknown trace id or schema name (nothing is created).
        InvalidArgumentError: a bad argument.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"a labeling session's name must be a non-empty str, got {name!r}")
    users = [] if assigned_users is None else ([assigned_users] if isinstance(assigned_users, str)
                                              else list(assigned_users))
    if not all(isinstance(u, str) and u for u in users):
        raise InvalidArgumentError(f"assigned_users must be a list of non-empty str, got {assigned_users!r}")
    client = client or get_default_client()
    experiment = str(experiment_id) if experiment_id is not None else client.current_experiment_id()
    found = _schemas(client, experiment, schemas)
    ids = trace_ids_of(traces)
    client.flush()  # traces this process just made must be stored before they are looked up
    row = client.store.create_labeling_session(experiment, name, [s.to_dict() for s in found], users, ids)
    return _session(client, row)


def get_labeling_session(labeling_session_id: str, *, client: Client | None = None) -> LabelingSession:
    """The session with this id. Raises ResourceDoesNotExist naming it."""
    client = client or get_default_client()
    return _session(client, client.store.get_labeling_session(labeling_session_id))


def get_labeling_sessions(experiment_id: str | None = None, *, all_experiments: bool = False,
                          client: Client | None = None) -> list[LabelingSession]:
    """The sessions of ``experiment_id`` (default: the active experiment; every one with ``all_experiments``),
    oldest first."""
    client = client or get_default_client()
    experiment = None if all_experiments else (str(experiment_id) if experiment_id is not None
                                               else client.current_experiment_id())
    return [_session(client, row) for row in client.store.labeling_sessions(experiment)]


def delete_labeling_session(labeling_session: LabelingSession | str, *, client: Client | None = None) -> None:
    """Delete a session (the object, as MLflow, or its id) and its queue; its reviewers' assessments stay."""
    if isinstance(labeling_session, LabelingSession):
        client, labeling_session = client or labeling_session.client, labeling_session.labeling_session_id
    (client or get_default_client()).store.delete_labeling_session(labeling_session)
