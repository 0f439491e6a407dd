"""Module-level functions over the default Client: reads, tags, assessments, versions."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from autolog._client import NOT_GIVEN, Client, NotGiven, default_client_options, get_default_client
from autolog._client import configure as _configure_client
from autolog._errors import InvalidArgumentError, ResourceDoesNotExist
from autolog._export.cost import check_prices, set_prices
from autolog._frames import logged_models_frame, parse_extract_fields, traces_frame
from autolog._tracing.versions import get_active_model_id
from autolog.entities.assessment import Assessment, AssessmentSource, Expectation, Feedback
from autolog.entities.logged_model import LoggedModel
from autolog.entities.trace import Trace

_logger = logging.getLogger("autolog")


def flush(timeout_seconds: float | None = 30.0, *, timeout: float | NotGiven | None = NOT_GIVEN) -> bool:
    """Block until every finished trace is stored; False if ``timeout_seconds`` passed first.

    ``timeout`` is the older spelling of ``timeout_seconds``; None waits as long as it takes.
    """
    return get_default_client().flush(timeout_seconds, timeout=timeout)


def get_trace(trace_id: str | None = None, silent: bool = False, flush: bool = False, *,
              request_id: str | None = None) -> Trace | None:
    """The stored trace with this id, or None (with a logged warning, unless ``silent``) if there is none.

    As MLflow's ``mlflow.get_trace``; ``Client.get_trace`` raises ResourceDoesNotExist instead.
    Waits for this process's pending exports first (``flush`` is accepted for MLflow's signature).
    """
    trace_id = _renamed("get_trace", trace_id, request_id)
    try:
        return get_default_client().get_trace(trace_id)
    except ResourceDoesNotExist as exc:
        if not silent:
            _logger.warning("Failed to get trace %r: %s", trace_id, exc)
        return None


def _renamed(function: str, trace_id: str | None, request_id: str | None) -> str:
    """``request_id=`` is MLflow's older name of ``trace_id``: accepted with MLflow's FutureWarning."""
    if request_id is not None:
        warnings.warn("Parameter 'request_id' is deprecated. Please use 'trace_id' instead.", FutureWarning,
                      stacklevel=3)
        if trace_id is not None:
            raise ValueError(f"{function}: pass trace_id or request_id (deprecated), not both")
        return request_id
    if trace_id is None:
        raise TypeError(f"{function}() missing required argument: 'trace_id'")
    return trace_id


def search_traces(experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                  max_results: int | None = None, order_by: list[str] | None = None,
                  extract_fields: list[str] | None = None, run_id: str | None = None,
                  return_type: str | None = None, model_id: str | None = None, sql_warehouse_id: str | None = None,
                  include_spans: bool = True, locations: Sequence[str] | None = None, flush: bool = False, *,
                  page_token: str | None = None) -> Any:
    """Search traces with an MLflow filter string; MLflow 3's arguments, in MLflow's order.

    Args:
        experiment_ids: search these experiments (``locations`` is MLflow's newer name; both
            are accepted, without MLflow's FutureWarning). With neither, the active experiment
            (``set_experiment``, ``$MLFLOW_EXPERIMENT_NAME``/``_ID``, else ``"0"``), as MLflow.
        filter_string: e.g. ``"tags.env = 'prod' AND execution_time_ms > 500"``.
        max_results: at most this many traces (default: all that match).
        order_by: e.g. ``["timestamp_ms DESC"]`` (the default).
        extract_fields: deprecated in MLflow (a FutureWarning here too): extra DataFrame
            columns ``"span.inputs"``, ``"span.outputs.field"``; DataFrame only.
        run_id: only traces of this run (an evaluation's, for example).
        return_type: None (a DataFrame if pandas is installed, else a list, as MLflow),
            ``"pandas"`` or ``"list"``.
        model_id: only traces linked to this LoggedModel (combines with ``filter_string``).
        sql_warehouse_id: Databricks only: must be None.
        include_spans: False returns each trace's info without its spans.
        flush: accepted for MLflow's signature: reads always wait for this process's traces.
        page_token: autolog's: start after the page this ``.token`` came from.

    Raises:
        InvalidFilterError: the filter or order_by does not parse (names position and expectation).
    """
    if sql_warehouse_id is not None:
        raise InvalidArgumentError("sql_warehouse_id is for Databricks SQL warehouses, which autolog does not serve")
    if extract_fields is not None:
        warnings.warn("The `extract_fields` parameter is deprecated in MLflow and will be removed in a future "
                      "version.", FutureWarning, stacklevel=2)
    fields = parse_extract_fields(extract_fields) if extract_fields is not None else []
    if return_type is None:
        return_type = "pandas" if _has_pandas() else "list"
    if return_type not in ("pandas", "list"):
        raise InvalidArgumentError(f"return_type must be 'pandas' or 'list', got {return_type!r}")
    if return_type == "list" and fields:
        raise InvalidArgumentError("extract_fields needs return_type='pandas' (the fields become columns)")
    if return_type == "pandas" and not _has_pandas():
        raise ImportError("search_traces(return_type='pandas') needs pandas: pip install 'autolog-genai[pandas]'"
                          " (or pass return_type='list')")
    client = get_default_client()
    if not experiment_ids and not locations:
        locations = [client.current_experiment_id()]
    traces: list[Trace] = []
    token = page_token
    remaining = max_results
    while True:
        page_size = 1000 if remaining is None else min(remaining, 1000)
        page = client.search_traces(experiment_ids, filter_string, page_size, order_by, token, run_id=run_id,
                                    include_spans=include_spans, model_id=model_id,
                                    locations=locations)
        traces.extend(page)
        if remaining is not None:
            remaining -= len(page)
        token = page.token
        if token is None or (remaining is not None and remaining <= 0):
            break
    if return_type == "list":
        return traces
    return traces_frame(traces, fields)


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def set_trace_tag(trace_id: str | None = None, key: str | None = None, value: str | None = None, *,
                  request_id: str | None = None) -> None:
    """Set a tag on a trace, live or stored. Tags stay mutable after the trace ends."""
    if key is None:
        raise TypeError("set_trace_tag() missing required argument: 'key'")
    get_default_client().set_trace_tag(_renamed("set_trace_tag", trace_id, request_id), key, value)  # type: ignore[arg-type]


def delete_trace_tag(trace_id: str | None = None, key: str | None = None, *, request_id: str | None = None) -> None:
    """Delete a tag from a trace. Raises ResourceDoesNotExist if the trace or tag is unknown."""
    if key is None:
        raise TypeError("delete_trace_tag() missing required argument: 'key'")
    get_default_client().delete_trace_tag(_renamed("delete_trace_tag", trace_id, request_id), key)


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
                         datasets: list[dict[str, Any]] | None = None, max_results: int | None = None,
                         order_by: Sequence[str | dict[str, Any]] | None = None, output_format: str = "pandas") -> Any:
    """Search LoggedModels, e.g. ``filter_string="name = 'agent' AND params.temperature = '0.2'"``; MLflow's order.

    As MLflow: a pandas DataFrame by default (``output_format="list"`` for LoggedModel
    entities), every match unless ``max_results``, the active experiment unless
    ``experiment_ids``. ``order_by`` takes MLflow's ``[{"field_name": "creation_time",
    "ascending": False}]`` or autolog's ``"creation_time DESC"`` strings. ``datasets`` (MLflow's
    filter on metrics by dataset) is not supported: it must be None. Blocks on the store.
    """
    if datasets is not None:
        raise InvalidArgumentError("search_logged_models(datasets=...) is not supported by autolog yet")
    if output_format not in ("pandas", "list"):
        raise InvalidArgumentError(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    if max_results is not None and (isinstance(max_results, bool) or not isinstance(max_results, int)
                                    or max_results <= 0):
        raise InvalidArgumentError(f"max_results must be a positive integer or None, got {max_results!r}")
    clauses = [_order_clause(c) for c in order_by] if order_by else None
    client = get_default_client()
    experiments = list(experiment_ids) if experiment_ids else [client.current_experiment_id()]
    limit = max_results if max_results is not None else 2**31 - 1
    models = client.search_logged_models(experiments, filter_string, clauses, limit)
    return logged_models_frame(models) if output_format == "pandas" else models


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

    ``otlp_endpoint=`` / ``otlp_headers=`` also export every trace over OTLP/HTTP (default:
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``..._HEADERS``);
    ``local_store=False`` sends traces only there. ``tracking_uri="http://mlflow:5000"`` sends
    traces and versions to an MLflow tracking server. Each destination has its own queue,
    spool and counters (``autolog.stats()["destinations"]``).
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
