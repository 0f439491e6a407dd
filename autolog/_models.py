"""Experiments, LoggedModels (application versions) and assessments, with MLflow's field names."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Assessment", "AssessmentSource", "Expectation", "Experiment", "Feedback", "LoggedModel",
           "LoggedModelStatus"]


def new_model_id() -> str:
    return f"m-{random.getrandbits(128):032x}"


def new_assessment_id() -> str:
    return f"a-{random.getrandbits(128):032x}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Experiment:
    experiment_id: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int = 0


class LoggedModelStatus:
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass
class LoggedModel:
    """One version of an application (MLflow's LoggedModel). ``params`` are str→str."""

    model_id: str
    name: str
    experiment_id: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    source_run_id: str | None = None
    status: str = LoggedModelStatus.READY
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    @property
    def creation_time(self) -> int:
        return self.creation_timestamp


class AssessmentSourceType:
    HUMAN = "HUMAN"
    LLM_JUDGE = "LLM_JUDGE"
    CODE = "CODE"


@dataclass
class AssessmentSource:
    source_type: str = AssessmentSourceType.CODE
    source_id: str | None = None

    def __post_init__(self) -> None:
        self.source_type = str(self.source_type).upper()
        if self.source_type not in ("HUMAN", "LLM_JUDGE", "CODE"):
            raise ValueError(f"assessment source_type must be HUMAN, LLM_JUDGE or CODE; got {self.source_type!r}")


@dataclass
class Assessment:
    """Feedback (a judgement of the output) or an expectation (the ground truth) about a trace or span."""

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

    def to_dict(self) -> dict[str, Any]:
        body = {"value": self.value}
        out: dict[str, Any] = {
            "assessment_id": self.assessment_id, "assessment_name": self.name, "trace_id": self.trace_id,
            "source": {"source_type": self.source.source_type, "source_id": self.source.source_id},
            "create_time": _ms_iso(self.create_time_ms), "last_update_time": _ms_iso(self.last_update_time_ms),
            self.kind: body,
        }
        if self.span_id:
            out["span_id"] = self.span_id
        if self.rationale is not None:
            out["rationale"] = self.rationale
        if self.metadata:
            out["metadata"] = self.metadata
        if self.error is not None:
            body["error"] = {"error_message": self.error}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Assessment:
        kind = "expectation" if "expectation" in d else "feedback"
        body = d.get(kind) or {}
        source = d.get("source") or {}
        return cls(name=d.get("assessment_name") or d.get("name", ""), value=body.get("value"), kind=kind,
                   source=AssessmentSource(source.get("source_type", "CODE"), source.get("source_id")),
                   rationale=d.get("rationale"), trace_id=d.get("trace_id"), span_id=d.get("span_id"),
                   metadata=d.get("metadata"), assessment_id=d.get("assessment_id") or new_assessment_id())


def Feedback(name: str, value: Any, source: AssessmentSource | None = None, rationale: str | None = None,
             **kwargs: Any) -> Assessment:
    return Assessment(name=name, value=value, kind="feedback", source=source or AssessmentSource(),
                      rationale=rationale, **kwargs)


def Expectation(name: str, value: Any, source: AssessmentSource | None = None, **kwargs: Any) -> Assessment:
    return Assessment(name=name, value=value, kind="expectation", source=source or AssessmentSource("HUMAN"),
                      **kwargs)


def _ms_iso(ms: int) -> str:
    from autolog._trace import _ms_to_rfc3339

    return _ms_to_rfc3339(ms)


def value_to_json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)
