"""The data model, with MLflow's names (``mlflow.entities``): traces, spans, versions, assessments, datasets.

Plain data: nothing here records, stores or sends anything, and this package imports no
other part of autolog but its leaf modules (errors, safe JSON).
"""

from __future__ import annotations

from autolog.entities.assessment import (
    Assessment,
    AssessmentError,
    AssessmentSource,
    AssessmentSourceType,
    Expectation,
    Feedback,
)
from autolog.entities.dataset import DatasetRecord, EvaluationDataset
from autolog.entities.experiment import Experiment
from autolog.entities.logged_model import LoggedModel, LoggedModelStatus, Metric
from autolog.entities.span import Span, SpanEvent, SpanStatus, SpanStatusCode, SpanType
from autolog.entities.trace import Trace, TraceData, TraceInfo, TraceState

__all__ = [
    "Assessment", "AssessmentError", "AssessmentSource", "AssessmentSourceType", "DatasetRecord", "EvaluationDataset",
    "Expectation", "Experiment", "Feedback", "LoggedModel", "LoggedModelStatus", "Metric", "Span", "SpanEvent",
    "SpanStatus", "SpanStatusCode", "SpanType", "Trace", "TraceData", "TraceInfo", "TraceState",
]
