"""autolog: tracing and version tracking for GenAI applications, in one line.

``autolog.openai()`` (or ``.langchain()``, ``.llama_index()``) at start-up records every
LLM call, chain, retriever, tool and agent step as nested spans in an embedded SQLite
store, linked to the active application version. The API keeps MLflow 3's names, so
code written for ``mlflow`` runs with ``autolog`` in its place.

Importing autolog never imports openai, langchain or llama_index.
"""

from __future__ import annotations

from typing import Any

from autolog import client, exceptions
from autolog._api import (
    configure,
    create_external_model,
    delete_logged_model_tag,
    delete_trace_tag,
    finalize_logged_model,
    flush,
    get_logged_model,
    get_trace,
    get_tracking_uri,
    initialize_logged_model,
    log_expectation,
    log_feedback,
    log_model_params,
    search_logged_models,
    search_traces,
    set_logged_model_tags,
    set_trace_tag,
    set_tracking_uri,
)
from autolog._assessments import (
    delete_assessment,
    get_assessment,
    log_assessment,
    override_feedback,
    update_assessment,
)
from autolog._client import Client
from autolog._errors import (
    AutologError,
    InvalidArgumentError,
    InvalidFilterError,
    ResourceDoesNotExist,
    StoreBusyError,
    StoreError,
)
from autolog._export.cost import load_price_table
from autolog._runs import (
    ActiveRun,
    active_run,
    end_run,
    get_run,
    last_active_run,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    search_runs,
    set_tag,
    set_tags,
    start_run,
)
from autolog._stats import stats
from autolog._tracing.context import suppress_tracing
from autolog._tracing.current_trace import get_active_trace_id
from autolog._tracing.fluent import get_current_active_span, start_span, trace, update_current_trace
from autolog._tracing.live import LiveSpan, NoOpSpan
from autolog._tracing.tracer import get_last_active_trace_id, start_span_no_context
from autolog._versions import ActiveModel, clear_active_model, get_active_model_id, set_active_model, set_experiment
from autolog.client import MlflowClient
from autolog.entities import (
    Assessment,
    AssessmentError,
    AssessmentSource,
    Expectation,
    Experiment,
    Feedback,
    LoggedModel,
    LoggedModelStatus,
    Span,
    SpanEvent,
    SpanStatus,
    SpanStatusCode,
    SpanType,
    Trace,
    TraceData,
    TraceInfo,
    TraceState,
)
from autolog.entities.run import Run, RunData, RunInfo, RunStatus

__version__ = "0.1.0"

__all__ = [
    "ActiveModel", "ActiveRun", "Assessment", "AssessmentError", "AssessmentSource", "AutologError", "Client",
    "Expectation", "Experiment", "Feedback", "InvalidArgumentError", "InvalidFilterError", "LiveSpan", "LoggedModel",
    "LoggedModelStatus", "MlflowClient", "NoOpSpan", "ResourceDoesNotExist", "Run", "RunData", "RunInfo", "RunStatus",
    "Span", "SpanEvent", "SpanStatus", "SpanStatusCode", "SpanType", "StoreBusyError", "StoreError", "Trace",
    "TraceData", "TraceInfo", "TraceState", "__version__", "active_run", "clear_active_model", "client", "configure",
    "create_external_model", "delete_assessment", "delete_logged_model_tag", "delete_trace_tag", "end_run",
    "exceptions", "finalize_logged_model", "flush", "genai", "get_active_model_id", "get_active_trace_id",
    "get_assessment", "get_current_active_span", "get_last_active_trace_id", "get_logged_model", "get_run",
    "get_trace", "get_tracking_uri", "initialize_logged_model", "langchain", "last_active_run", "llama_index",
    "log_assessment", "log_expectation", "log_feedback", "log_metric", "log_metrics", "log_model_params", "log_param",
    "log_params", "openai", "override_feedback", "search_logged_models", "search_runs", "search_traces",
    "set_active_model", "set_experiment", "set_logged_model_tags", "set_tag", "set_tags", "set_trace_tag",
    "set_tracking_uri", "start_run", "start_span", "start_span_no_context", "stats", "suppress_tracing", "trace",
    "update_assessment", "update_current_trace",
]


def openai(log_traces: bool = True, disable: bool = False, silent: bool = False, **options: Any) -> None:
    """Trace every OpenAI SDK call (sync, async, streaming). See README, "OpenAI"."""
    from autolog.integrations import openai as integration

    if not disable:
        load_price_table()
    integration.autolog(log_traces=log_traces, disable=disable, silent=silent, **options)


def langchain(log_traces: bool = True, disable: bool = False, silent: bool = False) -> None:
    """Trace every LangChain runnable, model, retriever, tool and agent step. See README, "LangChain"."""
    from autolog.integrations import langchain as integration

    if not disable:
        load_price_table()
    integration.autolog(log_traces=log_traces, disable=disable, silent=silent)


def llama_index(log_traces: bool = True, disable: bool = False, silent: bool = False) -> None:
    """Trace LlamaIndex query engines, retrievers, LLMs, agents and workflows. See README, "LlamaIndex"."""
    from autolog.integrations import llama_index as integration

    if not disable:
        load_price_table()
    integration.autolog(log_traces=log_traces, disable=disable, silent=silent)


# MLflow spells these ``mlflow.openai.autolog()``; with ``import autolog as mlflow`` that spelling works too.
openai.autolog = openai  # type: ignore[attr-defined]
langchain.autolog = langchain  # type: ignore[attr-defined]
llama_index.autolog = llama_index  # type: ignore[attr-defined]


def __getattr__(name: str) -> Any:
    # `autolog.genai` (evaluation, scorers, judges, datasets) is imported on first use: tracing alone never loads it.
    if name == "genai":
        import importlib

        return importlib.import_module("autolog.genai")
    raise AttributeError(f"module 'autolog' has no attribute {name!r}")
