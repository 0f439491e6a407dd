"""Getting finished traces out of the application: the batch pipeline and its destinations.

Modules: ``pipeline`` (bounded queue, event-woken worker, flush, fork, exit deadline),
``encode`` (a live trace into the store's record, on the worker) with ``usage`` (token
usage of a trace), ``spool`` (the disk spool and its replay), ``exporter`` (the
``Exporter`` protocol, ``ExportResult``, retries, and the SQL store as the first
destination), ``destinations`` (a pipeline per destination, fed by one hand-over),
``otlp`` / ``otlp_encode`` / ``otlp_config`` (OTLP/HTTP protobuf export and its settings),
``mlflow_server`` / ``mlflow_rest`` (an MLflow tracking server: traces, versions, experiments).
"""

from __future__ import annotations

from autolog._export.exporter import Exporter, ExportResult, StoreExporter
from autolog._export.pipeline import ExportPipeline

__all__ = ["ExportPipeline", "ExportResult", "Exporter", "StoreExporter"]
