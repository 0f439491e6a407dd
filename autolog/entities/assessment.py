"""Assessments of a trace or span: feedback (a judgement of the output) and expectations (ground truth)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
