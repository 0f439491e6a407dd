"""An MLflow tracking server (3.6+) as a destination: spans over OTLP, each trace's info through StartTraceV3.

MLflow's ``POST /v1/traces`` handler builds a trace's info from its spans alone: it reads
the root span's ``mlflow.traceTag.<key>`` attributes into tags, ``session.id``/``user.id``,
token usage and cost, and nothing else, so the trace's metadata, ``mlflow.modelId`` above
all, is lost (MLflow issue #19406: the version a trace belongs to disappears). So each
batch is sent the way MLflow's own client sends a trace:

1. the spans, per experiment, to ``<server>/v1/traces`` with ``x-mlflow-experiment-id``
   (OTLP protobuf, gzip; attribute values decoded, see ``otlp_encode``);
2. then each trace's whole info (metadata with ``mlflow.modelId``, tags, state, previews)
   to ``POST /api/3.0/mlflow/traces`` (StartTraceV3), which the server merges into the
   trace the spans made.

Both are idempotent on the server (spans are upserted by id, StartTraceV3 merges an
existing trace), so a batch sent again after a failure part-way (retries, the spool's
replay) leaves each trace there once. Failures are classified as for OTLP (``otlp``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

import httpx

from autolog._export.exporter import EXPORTED, ExportResult
from autolog._export.mlflow_rest import auth_headers
from autolog._export.otlp import OtlpExporter, OtlpExportError
from autolog._export.otlp_config import OtlpSettings, traces_url
from autolog._export.otlp_encode import trace_metadata, trace_tags
from autolog._stats import STATS, DestinationCounters
from autolog._store.records import RECORD_FIELDS, Record

__all__ = ["MlflowServerExporter", "start_trace_body"]

_FIELD = {name: i for i, name in enumerate(RECORD_FIELDS)}
_START_TRACE_PATH = "/api/3.0/mlflow/traces"


def _timestamp(ms: int | None) -> str:
    moment = datetime.datetime.fromtimestamp((ms or 0) / 1000, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def start_trace_body(record: Record, metadata_sets: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The StartTraceV3 request of one trace (MLflow's TraceInfoV3 in protobuf JSON)."""
    info: dict[str, Any] = {
        "trace_id": record[_FIELD["trace_id"]],
        "trace_location": {"type": "MLFLOW_EXPERIMENT",
                           "mlflow_experiment": {"experiment_id": str(record[_FIELD["experiment_id"]])}},
        "request_time": _timestamp(record[_FIELD["request_time"]]),
        "state": record[_FIELD["state"]] or "STATE_UNSPECIFIED",
        "trace_metadata": trace_metadata(record, metadata_sets),
        "tags": trace_tags(record),
    }
    duration = record[_FIELD["execution_duration"]]
    if duration is not None:
        info["execution_duration"] = f"{duration / 1000:.3f}s"
    for field in ("client_request_id", "request_preview", "response_preview"):
        if record[_FIELD[field]] is not None:
            info[field] = record[_FIELD[field]]
    return {"trace": {"trace_info": info}}


class MlflowServerExporter:
    """Sends batches to an MLflow tracking server. Called from one pipeline worker at a time."""

    def __init__(self, uri: str, counters: DestinationCounters | None = None, timeout_seconds: float = 30.0) -> None:
        self.uri = uri.rstrip("/")
        self.counters = counters or STATS.destination(self.uri, primary=False)
        settings = OtlpSettings(traces_url(self.uri, "the tracking URI", append=True), auth_headers(),
                                timeout_seconds=timeout_seconds)
        self.otlp = OtlpExporter(settings, self.counters, native_values=True, send_resource=False)

    @property
    def destination(self) -> str:
        return self.uri

    def export(self, records: Sequence[Record], metadata_sets: dict[str, dict[str, str]]) -> ExportResult:
        by_experiment: dict[str, list[Record]] = {}
        for record in records:
            by_experiment.setdefault(str(record[_FIELD["experiment_id"]]), []).append(record)
        for experiment_id, group in by_experiment.items():
            result = self.otlp.post(group, metadata_sets, {"x-mlflow-experiment-id": experiment_id})
            if not result.ok:
                return result
        url = self.uri + _START_TRACE_PATH
        for record in records:
            body = json.dumps(start_trace_body(record, metadata_sets), ensure_ascii=False).encode("utf-8")
            try:
                response = self.otlp.http().post(url, content=body, headers={
                    "Content-Type": "application/json", **self.otlp.settings.headers})
            except httpx.TransportError as exc:
                return self.otlp.failed(OtlpExportError(f"MLflow server {url} unreachable: {exc!r}"), None)
            result = self.otlp.result_of(response, url)
            if not result.ok:
                return result
        return EXPORTED

    def maintain(self) -> None:
        return None

    def shutdown(self, timeout_seconds: float) -> None:
        self.otlp.shutdown(timeout_seconds)
