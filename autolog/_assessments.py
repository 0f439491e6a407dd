"""Reading and editing assessments: ``log_assessment``, ``get_assessment``, ``update_assessment``,
``override_feedback``, ``delete_assessment``, as MLflow's ``mlflow.*`` assessment functions.

An override keeps history: the new feedback names the one it replaces (``overrides``) and
the old one stays stored with ``valid=False``; filters (``feedback.<name>``) and evaluation
figures read only valid ones. Deleting an override makes the one it replaced valid again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from autolog._client import Client, get_default_client
from autolog._errors import InvalidArgumentError
from autolog.entities.assessment import Assessment, AssessmentSource, Feedback
from autolog.entities.ids import now_ms

__all__ = ["delete_assessment", "get_assessment", "log_assessment", "override_feedback", "update_assessment"]


def log_assessment(trace_id: str, assessment: Assessment, *, client: Client | None = None) -> Assessment:
    """Attach an assessment (a ``Feedback`` or an ``Expectation``) to a stored trace."""
    if not isinstance(assessment, Assessment):
        raise InvalidArgumentError("log_assessment needs a Feedback or an Expectation, got "
                                   f"{type(assessment).__name__}")
    return (client or get_default_client()).log_assessment(trace_id, assessment)


def get_assessment(trace_id: str, assessment_id: str, *, client: Client | None = None) -> Assessment:
    client = client or get_default_client()
    client.flush()
    return client.store.get_assessment(trace_id, assessment_id)


def update_assessment(trace_id: str, assessment_id: str, assessment: Assessment, *,
                      client: Client | None = None) -> Assessment:
    """Change an assessment in place: what ``assessment`` sets (value, rationale, metadata...) replaces the stored.

    ``client``: another store's Client than the default (``autolog.MlflowClient`` passes its own).
    """
    client = client or get_default_client()
    client.flush()
    stored = client.store.get_assessment(trace_id, assessment_id)
    changes: dict[str, Any] = {"last_update_time_ms": now_ms()}
    for name in ("name", "value", "rationale", "metadata", "error", "span_id"):
        value = getattr(assessment, name)
        if value is not None and not (name == "name" and value == "feedback"):  # "feedback": Feedback()'s default
            changes[name] = value
    if assessment.source != AssessmentSource():
        changes["source"] = assessment.source
    return client.store.replace_assessment(dataclasses.replace(stored, **changes))


def override_feedback(trace_id: str, assessment_id: str, value: Any, rationale: str | None = None,
                      source: AssessmentSource | None = None, metadata: dict[str, str] | None = None) -> Assessment:
    """Replace a feedback by a new one (a human correcting a judge, say); the old one stays, ``valid=False``."""
    client = get_default_client()
    client.flush()
    old = client.store.get_assessment(trace_id, assessment_id)
    if old.kind != "feedback":
        raise InvalidArgumentError(f"assessment {assessment_id!r} is an expectation: override_feedback replaces "
                                   "feedback only (use update_assessment)")
    new = Feedback(old.name, value, source=source or AssessmentSource("HUMAN"), rationale=rationale,
                   trace_id=trace_id, span_id=old.span_id, metadata=metadata, run_id=old.run_id,
                   overrides=assessment_id)
    return client.store.replace_assessment(new, invalidate=assessment_id)


def delete_assessment(trace_id: str, assessment_id: str, *, client: Client | None = None) -> None:
    client = client or get_default_client()
    client.flush()
    client.store.delete_assessment(trace_id, assessment_id)
