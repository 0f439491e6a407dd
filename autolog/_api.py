"""Module-level functions over the default Client: reads, tags, assessments, versions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from autolog._client import NOT_GIVEN, Client, NotGiven, default_client_options, get_default_client
from autolog._client import configure as _configure_client
from autolog._errors import InvalidArgumentError
from autolog._export.cost import check_prices, set_prices
from autolog._tracing.versions import get_active_model_id
from autolog.entities.assessment import Assessment, AssessmentSource, Expectation, Feedback
from autolog.entities.logged_model import LoggedModel
from autolog.entities.trace import Trace

_DATAFRAME_COLUMNS = ["trace_id", "trace", "request_time", "state", "status", "execution_duration",
                      "execution_time_ms", "request", "response", "trace_metadata", "tags", "spans", "assessments",
                      "token_usage"]


def flush(timeout_seconds: float | None = 30.0, *, timeout: float | NotGiven | None = NOT_GIVEN) -> bool:
    """Block until every finished trace is stored; False if ``timeout_seconds`` passed first.

    ``timeout`` is the older spelling of ``timeout_seconds``; None waits as long as it takes.
    """
    return get_default_client().flush(timeout_seconds, timeout=timeout)


def get_trace(trace_id: str) -> Trace:
    """The stored trace with this id. Raises ResourceDoesNotExist. Waits for pending exports first."""
    return get_default_client().get_trace(trace_id)


_RUN_ID = re.compile(r"[A-Za-z0-9_-]+")


def search_traces(experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                  order_by: list[str] | None = None, max_results: int | None = None, model_id: str | None = None,
                  return_type: str = "pandas", page_token: str | None = None, run_id: str | None = None) -> Any:
    """Search traces with an MLflow filter string.

    Args:
        experiment_ids: restrict to these experiments (default: all).
        filter_string: e.g. ``"tags.env = 'prod' AND execution_time_ms > 500"``.
        order_by: e.g. ``["timestamp_ms DESC"]`` (the default).
        max_results: at most this many traces (default: all that match).
        model_id: only traces linked to this LoggedModel.
        return_type: ``"pandas"`` (a DataFrame, needs the ``pandas`` extra) or ``"list"``.
        run_id: only traces of this run (an evaluation's, for example): the filter ``run_id = '...'``.

    Raises:
        InvalidFilterError: the filter or order_by does not parse (names position and expectation).
    """
    if run_id is not None:
        if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            raise InvalidArgumentError(f"run_id must be a run id (letters, digits, '-' and '_'), got {run_id!r}")
        filter_string = f"{filter_string} AND run_id = '{run_id}'" if filter_string else f"run_id = '{run_id}'"
    if return_type not in ("pandas", "list"):
        raise InvalidArgumentError(f"return_type must be 'pandas' or 'list', got {return_type!r}")
    if return_type == "pandas":
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("search_traces(return_type='pandas') needs pandas: pip install 'autolog-genai[pandas]'"
                              " (or pass return_type='list')") from exc
    client = get_default_client()
    traces: list[Trace] = []
    token = page_token
    remaining = max_results
    while True:
        page_size = 1000 if remaining is None else min(remaining, 1000)
        page = client.search_traces(experiment_ids, filter_string, order_by, page_size, token, model_id=model_id)
        traces.extend(page)
        if remaining is not None:
            remaining -= len(page)
        token = page.token
        if token is None or (remaining is not None and remaining <= 0):
            break
    if return_type == "list":
        return traces
    return pd.DataFrame([_row(t) for t in traces], columns=_DATAFRAME_COLUMNS)


def _row(t: Trace) -> dict[str, Any]:
    info = t.info
    return {"trace_id": info.trace_id, "trace": t, "request_time": info.request_time, "state": info.state,
            "status": info.state, "execution_duration": info.execution_duration,
            "execution_time_ms": info.execution_duration, "request": t.data.request, "response": t.data.response,
            "trace_metadata": info.trace_metadata, "tags": info.tags, "spans": t.data.spans,
            "assessments": info.assessments, "token_usage": info.token_usage}


def set_trace_tag(trace_id: str, key: str, value: str) -> None:
    """Set a tag on a trace, live or stored. Tags stay mutable after the trace ends."""
    get_default_client().set_trace_tag(trace_id, key, value)


def delete_trace_tag(trace_id: str, key: str) -> None:
    """Delete a tag from a trace. Raises ResourceDoesNotExist if the trace or tag is unknown."""
    get_default_client().delete_trace_tag(trace_id, key)


def log_feedback(trace_id: str, name: str = "feedback", value: Any = None, source: AssessmentSource | None = None,
                 rationale: str | None = None, span_id: str | None = None,
                 metadata: dict[str, str] | None = None, error: Any = None) -> Assessment:
    """Record a judgement of a trace's output (human, LLM judge or code), or with ``error`` why there is none."""
    if value is None and error is None:
        raise InvalidArgumentError("log_feedback needs value= or error= (an exception or an AssessmentError)")
    return get_default_client().log_assessment(
        trace_id, Feedback(name, value, source=source, rationale=rationale, span_id=span_id, metadata=metadata,
                           error=error))


def log_expectation(trace_id: str, name: str, value: Any, source: AssessmentSource | None = None,
                    span_id: str | None = None, metadata: dict[str, str] | None = None) -> Assessment:
    """Record the expected (ground-truth) value for a trace."""
    return get_default_client().log_assessment(
        trace_id, Expectation(name, value, source=source, span_id=span_id, metadata=metadata))


def create_external_model(name: str | None = None, source_run_id: str | None = None,
                          tags: dict[str, Any] | None = None, params: dict[str, str] | None = None,
                          model_type: str | None = None, experiment_id: str | None = None) -> LoggedModel:
    """Create a LoggedModel (status READY) for an application version. Every param value must be a str.

    Raises:
        TypeError: a param value is not a str (the message names the key and the type).
    """
    return get_default_client().create_external_model(name=name, source_run_id=source_run_id, tags=tags,
                                                      params=params, model_type=model_type,
                                                      experiment_id=experiment_id)


def initialize_logged_model(name: str | None = None, source_run_id: str | None = None,
                            tags: dict[str, Any] | None = None, params: dict[str, str] | None = None,
                            model_type: str | None = None, experiment_id: str | None = None) -> LoggedModel:
    """Create a LoggedModel in status PENDING (finish it with ``finalize_logged_model``). Blocks on the store."""
    return get_default_client().create_external_model(name=name, source_run_id=source_run_id, tags=tags,
                                                      params=params, model_type=model_type,
                                                      experiment_id=experiment_id, status="PENDING")


def finalize_logged_model(model_id: str, status: str) -> LoggedModel:
    """Set a LoggedModel's status to READY or FAILED. Blocks on the store."""
    return get_default_client().finalize_logged_model(model_id, status)


def log_model_params(params: dict[str, str], model_id: str | None = None) -> None:
    """Add str params to a LoggedModel (default: the active one). Non-str values are a ``TypeError``.

    Raises:
        InvalidArgumentError: no ``model_id`` and no active model.
    """
    target = model_id or get_active_model_id()
    if target is None:
        raise InvalidArgumentError("log_model_params needs model_id= or an active model (set_active_model)")
    get_default_client().log_model_params(target, params)


def delete_logged_model_tag(model_id: str, key: str) -> None:
    """Delete a tag of a LoggedModel. Raises ResourceDoesNotExist if the model or tag is unknown."""
    get_default_client().delete_logged_model_tag(model_id, key)


def get_logged_model(model_id: str) -> LoggedModel:
    """The LoggedModel with this id. Raises ResourceDoesNotExist."""
    return get_default_client().get_logged_model(model_id)


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    get_default_client().set_logged_model_tags(model_id, tags)


def search_logged_models(experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                         order_by: Sequence[str | dict[str, Any]] | None = None, max_results: int | None = 100,
                         output_format: str = "list") -> Any:
    """Search LoggedModels, e.g. ``filter_string="name = 'agent' AND params.temperature = '0.2'"``.

    ``order_by`` takes autolog's ``"creation_time DESC"`` strings or MLflow's fluent form
    ``[{"field_name": "creation_time", "ascending": False}]``; ``max_results=None`` returns every
    match. Blocks on the store.
    """
    clauses = [_order_clause(c) for c in order_by] if order_by else None
    limit = max_results if max_results is not None else 2**31 - 1
    models = get_default_client().search_logged_models(experiment_ids, filter_string, clauses, limit)
    if output_format == "pandas":
        import pandas as pd

        return pd.DataFrame([{**m.__dict__, "model_uri": m.model_uri} for m in models])
    return models


def _order_clause(clause: str | dict[str, Any]) -> str:
    if isinstance(clause, str):
        return clause
    if not isinstance(clause, dict) or "field_name" not in clause:
        raise InvalidArgumentError(f"order_by entries are 'field [ASC|DESC]' strings or "
                                   f"{{'field_name': ..., 'ascending': bool}} dicts, got {clause!r}")
    return f"{clause['field_name']} {'ASC' if clause.get('ascending', True) else 'DESC'}"


def configure(tracking_uri: str | None = None, *,
              prices: Mapping[str, Mapping[str, float]] | NotGiven | None = NOT_GIVEN, **options: Any) -> Client:
    """Point autolog at a store, set export options (``Client``'s) and prices; returns the new default Client.

    ``prices`` maps model names to USD per million tokens, ``{"my-model": {"input": 0.15,
    "output": 0.60, "cache_read": 0.075}}`` (``cache_read`` optional), used before the
    genai-prices table for ``mlflow.llm.cost`` / ``mlflow.trace.cost``; a model matches by its
    name or its name without a date suffix (``gpt-4o-mini-2024-07-18`` → ``gpt-4o-mini``).
    None drops the table; left out, the table stays. A bad table raises ``InvalidArgumentError``
    before anything changes. The previous default client is flushed (up to 10 s) and its
    worker stopped, so this blocks: call it at start-up.
    """
    if not isinstance(prices, NotGiven) and prices is not None:
        check_prices(prices)
    client = _configure_client(tracking_uri, **options)
    if not isinstance(prices, NotGiven):
        set_prices(prices)
    return client


def set_tracking_uri(uri: str) -> None:
    """Point autolog at another store (``sqlite:///<path>``), keeping the other export options.

    The same as ``configure(tracking_uri=uri, ...)``: the previous client is flushed (up to
    10 s) and its worker stopped, so it blocks; call it at start-up, not per request.
    """
    options = {k: v for k, v in default_client_options().items() if k != "tracking_uri"}
    configure(uri, **options)


def get_tracking_uri() -> str:
    """The tracking URI of the default client (resolving ``AUTOLOG_TRACKING_URI`` if none was set). Never blocks."""
    return get_default_client().tracking_uri
