"""Assessments of a trace or span: feedback (a judgement of the output) and expectations (ground truth)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from autolog.entities._rfc3339 import ms_to_rfc3339, rfc3339_to_ms
from autolog.entities.ids import new_assessment_id, now_ms

__all__ = ["Assessment", "AssessmentError", "AssessmentSource", "AssessmentSourceType", "Expectation", "Feedback"]


class AssessmentSourceType:
    HUMAN = "HUMAN"
    LLM_JUDGE = "LLM_JUDGE"
    CODE = "CODE"


@dataclass
class AssessmentSource:
    """Who made an assessment: a human, an LLM judge or code, with an optional id (a user, a judge's name)."""

    source_type: str = AssessmentSourceType.CODE
    source_id: str | None = None

    def __post_init__(self) -> None:
        self.source_type = str(self.source_type).upper()
        if self.source_type not in ("HUMAN", "LLM_JUDGE", "CODE"):
            raise ValueError(f"assessment source_type must be HUMAN, LLM_JUDGE or CODE; got {self.source_type!r}")


@dataclass
class AssessmentError:
    """Why a feedback has no value (a scorer or judge that failed), as MLflow's ``AssessmentError``."""

    error_code: str
    error_message: str | None = None
    stack_trace: str | None = None


@dataclass
class Assessment:
    """Feedback or an expectation about a trace or span.

    ``error`` is the text of the failure behind a feedback without a value; an
    ``AssessmentError`` or an exception given there is kept as its message.
    """

    name: str
    value: Any
    kind: str = "feedback"  # or "expectation"
    source: AssessmentSource = field(default_factory=AssessmentSource)
    rationale: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    metadata: dict[str, str] | None = None
    error: str | None = None
    assessment_id: str = field(default_factory=new_assessment_id)
    create_time_ms: int = field(default_factory=now_ms)
    last_update_time_ms: int = field(default_factory=now_ms)
    run_id: str | None = None  # the run (an evaluation) that made it
    overrides: str | None = None  # the assessment this one replaces (override_feedback)
    valid: bool = True  # False once another assessment overrides this one

    @property
    def feedback_value(self) -> Any:
        """The value of a feedback (None for an expectation), as MLflow's ``assessment.feedback.value``."""
        return self.value if self.kind == "feedback" else None

    @property
    def expectation_value(self) -> Any:
        return self.value if self.kind == "expectation" else None

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's ``Assessment.to_dictionary()``: its proto as a dict (``assessment_name``, ``feedback``...)."""
        return assessment_to_dict(self, None)

    @classmethod
    def from_dictionary(cls, d: dict[str, Any]) -> Assessment:
        """Read MLflow's assessment dict (``to_dictionary``'s form)."""
        (assessment,), _ = read_assessments([d])
        return assessment  # type: ignore[no-any-return]

    def __post_init__(self) -> None:
        error: Any = self.error
        if isinstance(error, AssessmentError):
            self.error = error.error_message or error.error_code
        elif isinstance(error, BaseException):
            self.error = f"{type(error).__name__}: {error}"


def Feedback(name: str = "feedback", value: Any = None, source: AssessmentSource | None = None,
             rationale: str | None = None, error: Any = None, **kwargs: Any) -> Assessment:
    """A judgement of a trace's output (source: CODE unless given); ``error`` instead of a value if it failed.

    A scorer's Feedback still named "feedback" takes the scorer's name, as in MLflow.
    """
    return Assessment(name=name, value=value, kind="feedback", source=source or AssessmentSource(),
                      rationale=rationale, error=error, **kwargs)


def Expectation(name: str, value: Any, source: AssessmentSource | None = None, **kwargs: Any) -> Assessment:
    """The expected (ground-truth) value for a trace (source: HUMAN unless given)."""
    return Assessment(name=name, value=value, kind="expectation", source=source or AssessmentSource("HUMAN"),
                      **kwargs)


_ASSESSMENT_KEYS = frozenset(("assessment_id", "assessment_name", "name", "trace_id", "span_id", "source",
                              "create_time", "last_update_time", "rationale", "metadata", "feedback", "expectation"))


# -- assessments (MLflow's Assessment proto as JSON) ------------------------------------------------------

def assessment_to_dict(a: Any, extra: dict[str, Any] | None) -> dict[str, Any]:
    extra = {"unknown": {"valid": True}} if extra is None else extra  # what MLflow writes for a new assessment
    source: dict[str, Any] = dict(extra.get("source") or {})
    source["source_type"] = a.source.source_type
    if a.source.source_id is not None:
        source["source_id"] = a.source.source_id
    out: dict[str, Any] = {"assessment_id": a.assessment_id, "assessment_name": a.name, "trace_id": a.trace_id or "",
                           "source": source, "create_time": ms_to_rfc3339(a.create_time_ms),
                           "last_update_time": ms_to_rfc3339(a.last_update_time_ms)}
    if a.kind == "feedback":
        body: dict[str, Any] = {"value": a.value}
        if a.error is not None:
            error = extra.get("error") or {}
            body["error"] = error if error.get("error_message", error.get("error_code")) == a.error else {
                "error_code": "ERROR", "error_message": a.error}
        out["feedback"] = body
    elif a.kind == "expectation":
        if a.value is None or not isinstance(a.value, (bool, int, float, str)):
            # MLflow keeps non-scalar expectations as JSON text
            out["expectation"] = {"serialized_value": {"serialization_format": "JSON_FORMAT",
                                                       "value": json.dumps(a.value)}}
        else:
            out["expectation"] = {"value": a.value}
    else:
        out[a.kind] = a.value
    if a.span_id:
        out["span_id"] = a.span_id
    if a.rationale is not None:
        out["rationale"] = a.rationale
    if a.metadata:
        out["metadata"] = dict(a.metadata)
    out.update(extra.get("unknown") or {})
    return out


def read_assessments(items: list[dict[str, Any]]) -> tuple[list[Any], dict[str, dict[str, Any]]]:
    assessments: list[Any] = []
    extras: dict[str, dict[str, Any]] = {}
    for d in items:
        extra: dict[str, Any] = {"unknown": {k: v for k, v in d.items() if k not in _ASSESSMENT_KEYS}}
        kind: str | None = next((k for k in ("feedback", "expectation") if k in d), None)
        if kind is None:  # another kind (an MLflow issue reference...): kept whole
            kind = next((k for k in extra["unknown"] if isinstance(extra["unknown"][k], dict)), "feedback")
            value = extra["unknown"].pop(kind, None)
        else:
            body = d.get(kind) or {}
            serialized = body.get("serialized_value")
            value = json.loads(serialized["value"]) if serialized else body.get("value")
        raw_source = d.get("source") or {}
        try:
            source = AssessmentSource(raw_source.get("source_type", "CODE"), raw_source.get("source_id"))
        except ValueError:
            source = AssessmentSource("CODE", raw_source.get("source_id"))
            extra["source"] = raw_source
        error = (d.get("feedback") or {}).get("error")
        if error:
            extra["error"] = error
        kwargs: dict[str, Any] = {}
        if d.get("assessment_id"):
            kwargs["assessment_id"] = d["assessment_id"]
        for key, ms_key in (("create_time", "create_time_ms"), ("last_update_time", "last_update_time_ms")):
            if d.get(key):
                kwargs[ms_key] = rfc3339_to_ms(d[key])
        a = Assessment(name=d.get("assessment_name") or d.get("name", ""), value=value, kind=kind, source=source,
                       rationale=d.get("rationale"), trace_id=d.get("trace_id") or None, span_id=d.get("span_id"),
                       metadata=d.get("metadata"),
                       error=(error.get("error_message") or error.get("error_code")) if error else None, **kwargs)
        assessments.append(a)
        extras[a.assessment_id] = {k: v for k, v in extra.items() if v}
    return assessments, extras
