"""``autolog.Client``: one store, its export pipeline, and the thread-safe API over both.

Every trace is made by a client. The fluent API (``@trace``, ``start_span``) and the
integrations start spans through ``autolog._tracing``, whose trace factory this module
installs at import: a new trace comes from the default client's ``new_live_trace`` and,
once it ends, goes to that client's export pipeline. The client's own tracing methods
(``start_trace``, ``start_span``, ``end_span``, ``end_trace``) take explicit ids and never
read or change the current context, for code spread over threads or callbacks that
knows its ids; they never block on I/O. Reading methods (``get_trace``,
``search_traces``) first wait for this process's queued traces, so a process always
reads its own writes.
"""

from __future__ import annotations

import operator
import re
import threading
from collections.abc import Sequence
from typing import Any

from autolog._client_models import LoggedModelMethods
from autolog._errors import InvalidArgumentError, ResourceDoesNotExist, check_key
from autolog._export import ExportPipeline
from autolog._export.destinations import build
from autolog._export.options import check_export_options
from autolog._export.otlp_config import otlp_settings
from autolog._serialize import safe_str
from autolog._store.sqlite import SqliteStore
from autolog._tracing import versions
from autolog._tracing.ids import new_span_id, new_trace_id
from autolog._tracing.live import LiveSpan, LiveTrace, OpenTraces
from autolog._tracing.tracer import install_trace_factory
from autolog._uris import DEFAULT_TRACKING_URI
from autolog._uris import resolve_tracking_uri as _resolve
from autolog.entities import keys
from autolog.entities.assessment import Assessment
from autolog.entities.dataset import EvaluationDataset
from autolog.entities.experiment import Experiment
from autolog.entities.span import SpanStatus, SpanType
from autolog.entities.trace import Trace

__all__ = ["DEFAULT_TRACKING_URI", "NOT_GIVEN", "Client", "NotGiven", "PagedList", "configure",
           "default_client_options", "get_default_client", "resolve_tracking_uri"]

DEFAULT_MAX_CONTENT_CHARS = 100_000
_READ_FLUSH_TIMEOUT_SECONDS = 30.0


class NotGiven:
    """The type of an argument that was not given, where None means something (a timeout)."""


NOT_GIVEN = NotGiven()


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """An explicit URI, else ``configure()``'s, ``$AUTOLOG_TRACKING_URI``, ``$MLFLOW_TRACKING_URI``, the default."""
    return _resolve(tracking_uri, _client_options.get("tracking_uri"))


class PagedList(list[Any]):
    """A list with the ``token`` of the next page (None on the last page)."""

    token: str | None = None


class Client(LoggedModelMethods):
    """Thread-safe access to one store: tracing with explicit parents, versions, search.

    Args:
        tracking_uri: ``sqlite:///<path>`` (relative) or ``sqlite:////<abs path>``, or a
            file path. Defaults to ``$AUTOLOG_TRACKING_URI``, ``$MLFLOW_TRACKING_URI``, else
            ``sqlite:///autolog.db``.
        max_content_chars: cap of each span's serialized inputs/outputs; longer content is
            cut and ends with an explicit truncation marker. None disables the cap.
        max_queue_size: traces held in memory before overflow goes to the disk spool.
        max_batch_size: traces written in one transaction at most.
        schedule_delay_seconds: the longest a finished trace waits before it is written
            (``schedule_delay_millis``: the older spelling, in milliseconds).
        otlp_endpoint, otlp_headers: also export every trace over OTLP/HTTP (default: the
            ``OTEL_EXPORTER_OTLP_*`` variables; see ``autolog._export.otlp_config``).
        local_store: False with an OTLP endpoint: traces go only there (the SQLite store then
            holds experiments and versions only). Each destination has its own queue, spool
            and counters (``autolog.stats()["destinations"]``).
    """

    def __init__(self, tracking_uri: str | None = None, *, max_content_chars: int | None = DEFAULT_MAX_CONTENT_CHARS,
                 max_queue_size: int = 8192, max_batch_size: int = 512, schedule_delay_seconds: float = 0.2,
                 schedule_delay_millis: float | None = None, otlp_endpoint: str | None = None,
                 otlp_headers: dict[str, str] | None = None, local_store: bool = True) -> None:
        if schedule_delay_millis is not None:
            schedule_delay_seconds = schedule_delay_millis / 1000
        check_export_options(max_queue_size=max_queue_size, max_batch_size=max_batch_size,
                             schedule_delay_seconds=schedule_delay_seconds, max_content_chars=max_content_chars)
        if not isinstance(local_store, bool):
            raise InvalidArgumentError(f"local_store must be True or False, got {local_store!r}")
        self.tracking_uri = resolve_tracking_uri(tracking_uri)  # validated now, on the caller's thread
        otlp = otlp_settings(otlp_endpoint, otlp_headers)
        self._open_traces = OpenTraces()
        built = build(self.tracking_uri, self._open_traces, {
            "max_queue_size": max_queue_size, "max_batch_size": max_batch_size,
            "schedule_delay_seconds": schedule_delay_seconds, "max_content_chars": max_content_chars},
            local_store=local_store, otlp=otlp)
        # An MLflow server's REST API in MLflow mode (experiments and versions; trace reads raise, saying why).
        self._store: SqliteStore = built.store
        self._destinations = built.destinations
        self._pipeline: ExportPipeline = built.destinations.primary
        self._store_pipeline = built.store_pipeline
        self._enqueue = self._destinations.enqueue

    @property
    def store(self) -> SqliteStore:
        """The store itself, for the evaluation and run APIs (reads through it do not wait for pending exports)."""
        return self._store

    # -- tracing (never blocks on I/O) -------------------------------------------------------------
    def new_live_trace(self, experiment_id: str | None = None) -> LiveTrace:
        """A new trace of the active model; once it ends it goes to this client's export pipeline."""
        metadata = {}
        model = versions.get_active_model_id()
        if model:
            metadata[keys.MODEL_ID] = model
        run_id = versions.get_active_run_id()
        if run_id:
            metadata[keys.SOURCE_RUN] = run_id
        return LiveTrace(new_trace_id(), experiment_id or versions.selected_experiment_id(self._experiment_id_of_name),
                         metadata, self._enqueue, self._open_traces)

    def current_experiment_id(self) -> str:
        """The experiment new traces and models go to (``set_experiment``, else the environment, else ``0``)."""
        return versions.selected_experiment_id(self._experiment_id_of_name)

    def _experiment_id_of_name(self, name: str) -> str:
        return self.set_experiment(name).experiment_id

    def start_trace(self, name: str, span_type: str = SpanType.UNKNOWN, inputs: Any = None,
                    attributes: dict[str, Any] | None = None, tags: dict[str, str] | None = None,
                    experiment_id: str | None = None, start_time_ns: int | None = None) -> LiveSpan:
        """Start a new trace and return its root span (not made current)."""
        trace = self.new_live_trace(experiment_id)
        span = trace.start_root(name, span_type, start_time_ns, inputs, dict(attributes) if attributes else None)
        if tags:
            for k, v in tags.items():
                trace.set_tag(k, v)
        return span

    def start_span(self, name: str, trace_id: str, parent_id: str, span_type: str = SpanType.UNKNOWN,
                   inputs: Any = None, attributes: dict[str, Any] | None = None,
                   start_time_ns: int | None = None) -> LiveSpan:
        """Start a child span of ``parent_id`` in the open trace ``trace_id`` (not made current)."""
        return self._live(trace_id).new_span(new_span_id(), parent_id, name, span_type, start_time_ns, inputs,
                                             dict(attributes) if attributes else None)

    def end_span(self, trace_id: str, span_id: str, outputs: Any = None, attributes: dict[str, Any] | None = None,
                 status: SpanStatus | str = "OK", end_time_ns: int | None = None) -> None:
        span = self._live(trace_id).find_span(span_id)
        if span is None:
            raise ResourceDoesNotExist(f"span {span_id!r} is not an open span of trace {trace_id!r}")
        span.end(outputs=outputs, attributes=attributes, status=status, end_time_ns=end_time_ns)

    def end_trace(self, trace_id: str, outputs: Any = None, attributes: dict[str, Any] | None = None,
                  status: SpanStatus | str = "OK", end_time_ns: int | None = None) -> None:
        """End the root span of ``trace_id``: the trace is then exported."""
        root = self._live(trace_id).root
        if root is None:
            raise ResourceDoesNotExist(f"trace {trace_id!r} has no root span")
        root.end(outputs=outputs, attributes=attributes, status=status, end_time_ns=end_time_ns)

    def _live(self, trace_id: str) -> LiveTrace:
        trace: LiveTrace | None = self._open_traces.get(trace_id)
        if trace is None:
            raise ResourceDoesNotExist(f"trace {trace_id!r} is not open (unknown, or its root span already ended)")
        return trace

    # -- export control ----------------------------------------------------------------------------
    def flush(self, timeout_seconds: float | None = 30.0, *, timeout: float | NotGiven | None = NOT_GIVEN) -> bool:
        """Block until every trace finished so far is stored. False if ``timeout_seconds`` passed first.

        ``timeout`` is the older spelling of ``timeout_seconds``; None waits as long as it takes.
        """
        return self._destinations.flush(timeout_seconds if isinstance(timeout, NotGiven) else timeout)

    def shutdown(self, timeout_seconds: float = 10.0, *, timeout: float | NotGiven = NOT_GIVEN) -> None:
        """Flush with a deadline, then stop the export worker (used when re-configuring).

        ``timeout`` is the older spelling of ``timeout_seconds``.
        """
        self._destinations.shutdown(timeout_seconds if isinstance(timeout, NotGiven) else timeout)

    def _wait_for_store(self) -> None:
        """Reads see this process's writes: wait for the local store's pipeline (never for other destinations)."""
        if self._store_pipeline is not None:
            self._store_pipeline.flush(_READ_FLUSH_TIMEOUT_SECONDS)

    # -- traces: reads and edits -------------------------------------------------------------------
    def get_trace(self, trace_id: str) -> Trace:
        """Return the stored trace. Waits for this process's pending exports first."""
        self._wait_for_store()
        return self._store.get_trace(trace_id)

    def search_traces(self, experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                      max_results: int = 100, order_by: list[str] | None = None, page_token: str | None = None,
                      run_id: str | None = None, include_spans: bool = True, model_id: str | None = None,
                      locations: Sequence[str] | None = None, flush: bool = False) -> PagedList:
        """Search stored traces (MlflowClient's arguments); a list of Trace with ``.token`` for the next page.

        The token is a cursor past the last trace of the page, not an offset: traces stored
        between two calls never make a later page repeat or skip a trace. ``locations`` are
        experiment ids (MLflow's newer name); with neither, every experiment is searched.
        ``include_spans=False`` returns the traces' info only. Reads always wait for this
        process's queued traces (``flush`` is accepted for MLflow's signature).
        """
        try:
            limit = -1 if isinstance(max_results, bool) else operator.index(max_results)  # numpy ints too
        except TypeError:
            limit = -1
        if limit <= 0:
            raise InvalidArgumentError(f"max_results must be a positive integer, got {max_results!r}")
        if page_token is not None and not isinstance(page_token, str):
            raise InvalidArgumentError(f"page_token must be the str .token of a previous page, got {page_token!r}")
        experiments = _experiment_list(experiment_ids, locations)
        filter_string = _with_run_id(filter_string, run_id)
        self._wait_for_store()
        # include_spans=False reads no span row at all (a page of a million-trace store stays a few ms)
        traces, token = self._store.search_traces(experiments, filter_string, order_by, limit, page_token,
                                                  model_id=model_id, include_spans=include_spans)
        page = PagedList(traces)
        page.token = token
        return page

    def count_traces(self, experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                     model_id: str | None = None, run_id: str | None = None) -> int:
        """How many traces ``search_traces`` with these arguments finds over all its pages (one COUNT query)."""
        experiments = _experiment_list(experiment_ids, None)
        filter_string = _with_run_id(filter_string, run_id)
        self._wait_for_store()
        return self._store.count_traces(experiments, filter_string, model_id)

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        check_key(key, "tag key")
        live = self._open_traces.get(trace_id)
        if live is not None:
            live.set_tag(key, value)
            return
        self._wait_for_store()
        self._store.set_trace_tag(trace_id, key, safe_str(value))

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        live = self._open_traces.get(trace_id)
        if live is not None and key in live.tags:
            del live.tags[key]
            return
        self._wait_for_store()
        self._store.delete_trace_tag(trace_id, key)

    def delete_traces(self, trace_ids: Sequence[str]) -> int:
        self._wait_for_store()
        return self._store.delete_traces(list(trace_ids))

    def log_assessment(self, trace_id: str, assessment: Assessment) -> Assessment:
        """Attach feedback or an expectation to a stored trace."""
        assessment.trace_id = trace_id
        self._wait_for_store()
        return self._store.log_assessment(assessment)

    # -- experiments and logged models ------------------------------------------------------------
    def set_experiment(self, name: str) -> Experiment:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"experiment name must be a non-empty str, got {name!r}")
        return self._store.get_or_create_experiment(name)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(name)


    # -- evaluation datasets -------------------------------------------------------------------------
    # Each dataset returned is bound to the store, which its merge_records/delete_records/records use.
    def create_dataset(self, name: str, experiment_ids: Sequence[str],
                       tags: dict[str, Any] | None = None) -> EvaluationDataset:
        return self._store.create_dataset(name, experiment_ids, tags).bind(self._store)

    def get_dataset(self, name: str | None = None, dataset_id: str | None = None,
                    version: int | None = None) -> EvaluationDataset:
        return self._store.get_dataset(name, dataset_id, version).bind(self._store)

    def search_datasets(self, experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                        max_results: int = 1000, order_by: list[str] | None = None) -> list[EvaluationDataset]:
        found = self._store.search_datasets(experiment_ids, filter_string, max_results, order_by)
        return [d.bind(self._store) for d in found]

    def delete_dataset(self, dataset_id: str) -> None:
        self._store.delete_dataset(dataset_id)

    def set_dataset_tags(self, dataset_id: str, tags: dict[str, Any]) -> None:
        self._store.set_dataset_tags(dataset_id, tags)

    def delete_dataset_tag(self, dataset_id: str, key: str) -> None:
        self._store.delete_dataset_tag(dataset_id, key)


_RUN_ID = re.compile(r"[A-Za-z0-9_-]+")


def _with_run_id(filter_string: str | None, run_id: str | None) -> str | None:
    """``filter_string`` also requiring the trace's source run, when ``run_id`` is given (checked: it is quoted)."""
    if run_id is None:
        return filter_string
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise InvalidArgumentError(f"run_id must be a run id (letters, digits, '-' and '_'), got {run_id!r}")
    return f"{filter_string} AND run_id = '{run_id}'" if filter_string else f"run_id = '{run_id}'"


def _experiment_list(experiment_ids: Sequence[str] | None, locations: Sequence[str] | None) -> list[str] | None:
    """``experiment_ids`` and ``locations`` (both experiment ids) merged; None when neither names one."""
    merged: list[str] = []
    for name, given in (("experiment_ids", experiment_ids), ("locations", locations)):
        if given is None:
            continue
        if isinstance(given, str) or not isinstance(given, Sequence):
            raise InvalidArgumentError(f"{name} must be a list of experiment ids, got {given!r}")
        merged.extend(str(e) for e in given if str(e) not in merged)
    return merged or None


_default_client: Client | None = None
_default_lock = threading.Lock()
_client_options: dict[str, Any] = {}


def get_default_client() -> Client:
    client = _default_client
    if client is None:
        client = _create_default_client()
    return client


def _create_default_client() -> Client:
    global _default_client
    with _default_lock:
        if _default_client is None:
            _default_client = Client(**_client_options)
            install_trace_factory(_default_client.new_live_trace)
        return _default_client


def configure(tracking_uri: str | None = None, *, max_content_chars: int | None = DEFAULT_MAX_CONTENT_CHARS,
              max_queue_size: int = 8192, max_batch_size: int = 512, schedule_delay_seconds: float = 0.2,
              schedule_delay_millis: float | None = None, otlp_endpoint: str | None = None,
              otlp_headers: dict[str, str] | None = None, local_store: bool = True) -> Client:
    """Point autolog at a store and set export options (``Client``'s); returns the new default Client.

    The previous default client is flushed (up to 10 s) and its worker stopped, so
    re-configuring never leaks threads. Not meant for hot paths: it may block on I/O.
    """
    global _default_client
    if schedule_delay_millis is not None:
        schedule_delay_seconds = schedule_delay_millis / 1000
    options: dict[str, Any] = {"tracking_uri": tracking_uri, "max_content_chars": max_content_chars,
                               "max_queue_size": max_queue_size, "max_batch_size": max_batch_size,
                               "schedule_delay_seconds": schedule_delay_seconds, "otlp_endpoint": otlp_endpoint,
                               "otlp_headers": otlp_headers, "local_store": local_store}
    new_client = Client(**options)  # validates before anything is torn down
    with _default_lock:
        old, _default_client = _default_client, new_client
        install_trace_factory(new_client.new_live_trace)
        _client_options.clear()
        _client_options.update(options)
    if old is not None:
        # A trace of the old client that ends later (it straddles this call) goes to the new one.
        old._destinations.hand_over_to(new_client._destinations)
        old._destinations.shutdown(10.0, keep_open_traces=True)
    versions.forget_selected_experiment()  # a new store has other experiment ids
    return new_client


def default_client_options() -> dict[str, Any]:
    """The options the default client was configured with (empty until ``configure`` is called)."""
    with _default_lock:
        return dict(_client_options)


def _new_default_trace() -> LiveTrace:
    """The first trace creates the default client, which then installs its own ``new_live_trace``."""
    return get_default_client().new_live_trace()


install_trace_factory(_new_default_trace)
