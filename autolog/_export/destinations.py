"""Several destinations for one client: a whole export pipeline per destination, fed by one hand-over.

A finished trace goes to the local store AND to an OTLP endpoint (or an MLflow tracking
server). Each destination has its own ``ExportPipeline``: its own bounded queue, worker,
retries, spool directory, replay and counters (``stats()["destinations"]``). The hand-over
(``Destinations.enqueue``) appends the trace to each pipeline's queue, a deque append
apiece, and every worker encodes the trace itself.

Why a pipeline per destination rather than one pipeline with a fan-out exporter: every
guarantee ``tests/faults`` checks (spool on overflow and failure, replay of own and dead
processes' spools, bisection and quarantine, exit deadline, fork) is a property of one
pipeline with one exporter, and holds for each destination unchanged. A fan-out exporter
would have to report partial success (stored here, failed there) through a result that can
only say all or nothing: a batch the store took and OTLP did not would be spooled once and
replayed to both, i.e. sent twice to the receiver that had it, and a dead receiver would
hold the store's batches in its retries. Here a dead receiver only fills its own spool,
the store never waits for it (reads wait for the store's pipeline alone), and the other way
round. The cost is encoding a trace once per destination, on the workers (never on the
application's thread): measured in the report of issue 21.

Spools: the store's is ``<db>.spool/`` as before; another destination's is a directory
named after it (``otlp-<hash of the endpoint>``, ``mlflow-<hash of the server URI>``) in
``$AUTOLOG_SPOOL_DIR`` if set, else in ``<db>.spool/`` when there is a local store, else
in the user's cache directory (``$XDG_CACHE_HOME/autolog/spool``, default
``~/.cache/autolog/spool``), so traces kept for a receiver outlive the process and are
replayed by the next one that exports there.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autolog._export.exporter import Exporter, StoreExporter
from autolog._export.otlp_config import OtlpSettings
from autolog._export.pipeline import ExportPipeline
from autolog._export.writer_link import WriterProcessExporter, export_process_enabled
from autolog._stats import STATS, DestinationCounters
from autolog._store.sqlite_io import path_from_uri
from autolog._store.stores import is_postgres_uri, open_store
from autolog._tracing.live import LiveTrace, OpenTraces

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["Built", "Destinations", "build", "destination_spool_dir", "is_mlflow_server", "pipeline_for"]


def _remote(module: str, what: str) -> ModuleType:
    """``autolog._export.<module>``, imported when first needed: httpx and opentelemetry-proto are the
    ``otlp`` extra's, so ``import autolog`` (and a store alone) never needs them."""
    try:
        return importlib.import_module(f"autolog._export.{module}")
    except ImportError as exc:
        raise ImportError(f"{what} needs httpx and opentelemetry-proto: pip install 'autolog-genai[otlp]' "
                          f"({exc})") from exc


def is_mlflow_server(uri: str) -> bool:
    """Whether a (checked) tracking URI names an MLflow tracking server."""
    return uri.strip().lower().startswith(("http://", "https://"))


def destination_spool_dir(kind: str, name: str, store_spool: Path | None) -> Path:
    """The spool directory of a destination other than the local store (see the module docstring)."""
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:12]
    root = os.environ.get("AUTOLOG_SPOOL_DIR")
    if root:
        base = Path(root)
    elif store_spool is not None:
        base = store_spool
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autolog" / "spool"
    return base / f"{kind}-{digest}"


def pipeline_for(exporter: Exporter, spool_dir: Path, open_traces: OpenTraces, counters: DestinationCounters,
                 options: dict[str, Any], snapshots: bool = False) -> ExportPipeline:
    return ExportPipeline(exporter, spool_dir, open_traces, counters=counters, snapshots=snapshots, **options)


class Destinations:
    """The pipelines of one client; the first is the primary one (the store's if there is a local store)."""

    def __init__(self, pipelines: Sequence[ExportPipeline], counters: Sequence[DestinationCounters]) -> None:
        self.pipelines = list(pipelines)
        self.counters = list(counters)  # of each pipeline, in order
        self.closers: list[Callable[[], None]] = []  # run once every pipeline shut down (the REST store's close)
        self.primary = self.pipelines[0]
        # One destination (the default): the hand-over is the pipeline's own, exactly as before.
        self.enqueue = self.primary.enqueue if len(self.pipelines) == 1 else self._enqueue_all

    def _enqueue_all(self, trace: LiveTrace) -> None:
        for pipeline in self.pipelines:
            pipeline.enqueue(trace)

    def flush(self, timeout_seconds: float | None = 30.0) -> bool:
        """Flush every destination within one deadline; True only if each one has everything."""
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        ok = True
        for pipeline in self.pipelines:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ok = pipeline.flush(remaining) and ok
        return ok

    def shutdown(self, timeout_seconds: float = 10.0, keep_open_traces: bool = False) -> None:
        deadline = time.monotonic() + timeout_seconds
        for pipeline, counters in zip(self.pipelines, self.counters, strict=True):
            pipeline.shutdown(max(0.0, deadline - time.monotonic()), keep_open_traces=keep_open_traces)
            STATS.release(counters)
        for close in self.closers:
            close()

    def hand_over_to(self, successor: Destinations) -> None:
        """Traces that end after shutdown go to the successor's pipeline of the same destination.

        Else the primary's go to the successor's primary, and the others' are spooled: that
        spool stays on disk for the next process that exports there.
        """
        by_destination = {p.exporter.destination: p for p in successor.pipelines}
        for pipeline in self.pipelines:
            same = by_destination.get(pipeline.exporter.destination)
            # The primary (the store, usually) hands over to the new primary when its own destination is gone:
            # configure() to another store moves the traces that straddle it, as with one destination.
            pipeline.successor = same or (successor.primary if pipeline is self.primary else None)


class Built:
    """What a client exports through: its store (SQLite, or an MLflow server's REST API) and its destinations."""

    def __init__(self, store: Any, destinations: Destinations, store_pipeline: ExportPipeline | None) -> None:
        self.store = store
        self.destinations = destinations
        self.store_pipeline = store_pipeline  # the local store's pipeline, which reads wait for (None: no local store)


def build(tracking_uri: str, open_traces: OpenTraces, options: dict[str, Any], *, local_store: bool = True,
          otlp: OtlpSettings | None = None) -> Built:
    """The store and the pipelines for a (checked) tracking URI, local_store and OTLP settings. No I/O."""
    pipelines: list[ExportPipeline] = []
    counters: list[DestinationCounters] = []
    store_pipeline = None
    store_spool: Path | None = None
    if is_mlflow_server(tracking_uri):
        mlflow_rest = _remote("mlflow_rest", "an MLflow tracking server as the tracking URI")
        store: Any = mlflow_rest.MlflowRestStore(tracking_uri)
        counters.append(STATS.destination(tracking_uri, primary=True))
        exporter: Exporter = _remote("mlflow_server", "an MLflow tracking server as the tracking URI"
                                     ).MlflowServerExporter(tracking_uri, counters[-1])
        pipelines.append(pipeline_for(exporter, destination_spool_dir("mlflow", tracking_uri, None), open_traces,
                                      counters[-1], options))
    else:
        store = open_store(tracking_uri)  # SQLite, or PostgreSQL (its uri without the password)
        store_spool = (destination_spool_dir("postgresql", store.uri, None) if is_postgres_uri(tracking_uri)
                       else Path(str(path_from_uri(tracking_uri)) + ".spool"))
        if local_store or otlp is None:  # no OTLP either: the store is the only place traces can go
            counters.append(STATS.destination(store.uri, primary=True))
            store_exporter: Exporter = StoreExporter(store)
            # Encoded and written by a writer process (see writer_link); not beside OTLP: both pipelines encode the
            # same live trace, and a snapshot's release would leave the other one rows it cannot read.
            in_writer = export_process_enabled() and otlp is None
            if in_writer:
                store_exporter = WriterProcessExporter(StoreExporter(store), tracking_uri)
            store_pipeline = pipeline_for(store_exporter, store_spool, open_traces, counters[-1], options, in_writer)
            pipelines.append(store_pipeline)
    if otlp is not None:
        counters.append(STATS.destination(otlp.endpoint, primary=not pipelines))
        otlp_exporter = _remote("otlp", "OTLP export").OtlpExporter(otlp, counters[-1])
        spool_dir = destination_spool_dir("otlp", otlp.endpoint, store_spool if store_pipeline else None)
        pipelines.append(pipeline_for(otlp_exporter, spool_dir, open_traces, counters[-1], options))
    destinations = Destinations(pipelines, counters)
    if is_mlflow_server(tracking_uri):
        destinations.closers.append(store.close)
    return Built(store, destinations, store_pipeline)
