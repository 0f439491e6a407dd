"""``autolog.MlflowClient`` (also ``autolog.client.MlflowClient``): MLflow's client, with its signatures.

Built over ``autolog.Client``: ``MlflowClient()`` uses the default client (the store
``configure``/``set_tracking_uri`` chose, or ``$AUTOLOG_TRACKING_URI``/``$MLFLOW_TRACKING_URI``);
``MlflowClient(tracking_uri)`` another store. Unlike ``mlflow.get_trace``, ``get_trace``
raises for an unknown id, as MlflowClient does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autolog import _assessments
from autolog._client import Client, PagedList, get_default_client, resolve_tracking_uri
from autolog._errors import InvalidArgumentError
from autolog.entities import keys
from autolog.entities.assessment import Assessment
from autolog.entities.experiment import Experiment
from autolog.entities.logged_model import LoggedModel, LoggedModelStatus
from autolog.entities.span import SpanStatus, SpanType
from autolog.entities.trace import Trace
from autolog.exceptions import ResourceAlreadyExists

__all__ = ["MlflowClient"]


class MlflowClient:
    """MLflow's ``MlflowClient`` for traces, assessments, logged models and experiments."""

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None,
                 workspace_store_uri: str | None = None) -> None:
        self._explicit_uri = resolve_tracking_uri(tracking_uri) if tracking_uri else None
        self._own: Client | None = None

    @property
    def _client(self) -> Client:
        default = get_default_client()
        if self._explicit_uri is None or self._explicit_uri == default.tracking_uri:
            return default
        if self._own is None:
            self._own = Client(self._explicit_uri)
        return self._own

    @property
    def tracking_uri(self) -> str:
        return self._client.tracking_uri

    # -- traces ------------------------------------------------------------------------------------
    def start_trace(self, name: str, span_type: str = SpanType.UNKNOWN, inputs: Any = None,
                    attributes: dict[str, Any] | None = None, tags: dict[str, str] | None = None,
                    experiment_id: str | None = None, start_time_ns: int | None = None, run_id: str | None = None,
                    links: list[Any] | None = None) -> Any:
        """Start a trace and return its root span (not made current). ``links`` are not supported."""
        _no_links(links)
        span = self._client.start_trace(name, span_type, inputs, attributes, tags, experiment_id, start_time_ns)
        if run_id is not None:
            span.live_trace.set_metadata(keys.SOURCE_RUN, str(run_id))
        return span

    def start_span(self, name: str, trace_id: str, parent_id: str, span_type: str = SpanType.UNKNOWN,
                   inputs: Any = None, attributes: dict[str, Any] | None = None, start_time_ns: int | None = None,
                   links: list[Any] | None = None) -> Any:
        _no_links(links)
        return self._client.start_span(name, trace_id, parent_id, span_type, inputs, attributes, start_time_ns)

    def end_span(self, trace_id: str, span_id: str, outputs: Any = None, attributes: dict[str, Any] | None = None,
                 status: SpanStatus | str = "OK", end_time_ns: int | None = None) -> None:
        self._client.end_span(trace_id, span_id, outputs, attributes, status, end_time_ns)

    def end_trace(self, trace_id: str, outputs: Any = None, attributes: dict[str, Any] | None = None,
                  status: SpanStatus | str = "OK", end_time_ns: int | None = None) -> None:
        self._client.end_trace(trace_id, outputs, attributes, status, end_time_ns)

    def get_trace(self, trace_id: str, display: bool = True, flush: bool = False) -> Trace:
        """The stored trace. Raises ResourceDoesNotExist (``error_code`` RESOURCE_DOES_NOT_EXIST) if unknown."""
        return self._client.get_trace(trace_id)

    def search_traces(self, experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                      max_results: int = 100, order_by: list[str] | None = None, page_token: str | None = None,
                      run_id: str | None = None, include_spans: bool = True, model_id: str | None = None,
                      locations: Sequence[str] | None = None, flush: bool = False) -> PagedList:
        """One page of traces (``.token`` for the next); every experiment unless ids or ``locations`` are given."""
        return self._client.search_traces(experiment_ids, filter_string, max_results, order_by, page_token,
                                          run_id=run_id, include_spans=include_spans, model_id=model_id,
                                          locations=locations)

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        self._client.set_trace_tag(trace_id, key, value)

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        self._client.delete_trace_tag(trace_id, key)

    def delete_traces(self, experiment_id: str, max_timestamp_millis: int | None = None,
                      max_traces: int | None = None, trace_ids: list[str] | None = None) -> int:
        """Delete the given traces of the experiment, or its traces older than ``max_timestamp_millis``."""
        if (max_timestamp_millis is None) == (trace_ids is None):
            raise InvalidArgumentError("delete_traces needs exactly one of max_timestamp_millis and trace_ids")
        if trace_ids is not None:
            return self._client.delete_traces(list(trace_ids))
        ids = [t.info.trace_id for t in self._client.search_traces(
            [str(experiment_id)], f"timestamp_ms <= {int(max_timestamp_millis or 0)}", max_traces or 2**31 - 1,
            ["timestamp_ms ASC"], include_spans=False)]
        return self._client.delete_traces(ids) if ids else 0

    # -- assessments (MLflow has them as mlflow.* functions; here on the client too) ----------------
    def log_assessment(self, trace_id: str, assessment: Assessment) -> Assessment:
        return _assessments.log_assessment(trace_id, assessment, client=self._client)

    def get_assessment(self, trace_id: str, assessment_id: str) -> Assessment:
        return _assessments.get_assessment(trace_id, assessment_id, client=self._client)

    def update_assessment(self, trace_id: str, assessment_id: str, assessment: Assessment) -> Assessment:
        return _assessments.update_assessment(trace_id, assessment_id, assessment, client=self._client)

    def delete_assessment(self, trace_id: str, assessment_id: str) -> None:
        _assessments.delete_assessment(trace_id, assessment_id, client=self._client)

    # -- logged models -----------------------------------------------------------------------------
    def create_logged_model(self, experiment_id: str, name: str | None = None, source_run_id: str | None = None,
                            tags: dict[str, str] | None = None, params: dict[str, str] | None = None,
                            model_type: str | None = None) -> LoggedModel:
        """A new LoggedModel in status PENDING (``finalize_logged_model`` makes it READY or FAILED)."""
        return self._client.create_external_model(name=name, source_run_id=source_run_id, tags=tags, params=params,
                                                  model_type=model_type, experiment_id=str(experiment_id),
                                                  status=LoggedModelStatus.PENDING)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return self._client.get_logged_model(model_id)

    def search_logged_models(self, experiment_ids: list[str], filter_string: str | None = None,
                             datasets: list[dict[str, Any]] | None = None, max_results: int | None = None,
                             order_by: list[dict[str, Any]] | None = None,
                             page_token: str | None = None) -> PagedList:
        """One page of LoggedModels (``.token``: the next page's, an offset; None on the last page)."""
        if datasets is not None:
            raise InvalidArgumentError("search_logged_models(datasets=...) is not supported by autolog yet")
        offset = _offset(page_token)
        size = max_results if max_results is not None else 2**31 - 2 - offset
        clauses = [_order_clause(c) for c in order_by] if order_by else None
        found = self._client.search_logged_models(list(experiment_ids), filter_string, clauses, offset + size + 1)
        page = PagedList(found[offset:offset + size])
        page.token = str(offset + size) if len(found) > offset + size else None
        return page

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        self._client.set_logged_model_tags(model_id, tags)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._client.delete_logged_model_tag(model_id, key)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        return self._client.finalize_logged_model(model_id, status)

    def log_model_params(self, model_id: str, params: dict[str, str]) -> None:
        self._client.log_model_params(model_id, params)

    # -- experiments -------------------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, Any] | None = None) -> str:
        """Create an experiment and return its id; ResourceAlreadyExists if the name is taken."""
        if tags:
            raise InvalidArgumentError("create_experiment(tags=...) is not supported by autolog yet")
        if self._client.get_experiment_by_name(name) is not None:
            raise ResourceAlreadyExists(f"experiment {name!r} already exists")
        return self._client.set_experiment(name).experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._client.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._client.get_experiment_by_name(name)


def _no_links(links: list[Any] | None) -> None:
    if links:
        raise InvalidArgumentError("span links are not supported by autolog yet")


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    if not isinstance(token, str) or not token.isdigit():
        raise InvalidArgumentError(f"page_token must be the .token of a previous page, got {token!r}")
    return int(token)


def _order_clause(clause: str | dict[str, Any]) -> str:
    if isinstance(clause, str):
        return clause
    if not isinstance(clause, dict) or "field_name" not in clause:
        raise InvalidArgumentError(f"order_by entries are {{'field_name': ..., 'ascending': bool}} dicts, got "
                                   f"{clause!r}")
    return f"{clause['field_name']} {'ASC' if clause.get('ascending', True) else 'DESC'}"
