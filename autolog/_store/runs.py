"""Runs (evaluations, ``start_run()`` blocks) with their params, metrics and tags, and assessments' edits.

A mixin of ``SqliteStore``, as ``LoggedModelTables``. Metrics keep their last value per key
(what an evaluation logs: one aggregate per key).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autolog._errors import InvalidArgumentError, ResourceDoesNotExist
from autolog._store.dialect import SessionSource
from autolog._store.filter_sql import RUN_FIELDS
from autolog._store.logged_models import entity_search_query
from autolog._store.rows import ASSESSMENT_COLUMNS, assessment_from_row, assessment_row
from autolog._store.sqlite_io import marks
from autolog.entities.assessment import Assessment
from autolog.entities.ids import now_ms
from autolog.entities.run import Run, RunData, RunInfo, RunStatus

__all__ = ["RunTables"]

_RUN_COLUMNS = ("run_id, experiment_id, name, status, start_time, end_time, model_id, dataset_id, dataset_name,"
                " dataset_version, dataset_digest")


class RunTables:
    """Runs and their params, metrics, tags; getting, editing and deleting assessments."""

    connections: SessionSource
    uri: str

    def create_run(self, info: RunInfo, tags: dict[str, str] | None = None) -> Run:
        with self.connections.session("creating a run", write=True) as conn:
            conn.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({marks(11)})", (
                info.run_id, info.experiment_id, info.run_name, info.status, info.start_time, info.end_time,
                info.model_id, info.dataset_id, info.dataset_name, info.dataset_version, info.dataset_digest))
            conn.executemany("INSERT OR REPLACE INTO run_tags VALUES (?,?,?)",
                             [(info.run_id, k, v) for k, v in (tags or {}).items()])
        return Run(info, RunData(tags=dict(tags or {})))

    def update_run(self, run_id: str, status: str | None = None, end_time: int | None = None,
                   model_id: str | None = None,
                   dataset: tuple[str | None, str, int | None, str] | None = None) -> None:
        """Set what is given: the status, the end time, the model, the dataset (id, name, version, digest)."""
        if status is not None and status not in RunStatus.ALL:
            raise InvalidArgumentError(f"a run's status is one of {', '.join(RunStatus.ALL)}; got {status!r}")
        with self.connections.session("updating a run", write=True) as conn:
            self._require_run(conn, run_id)
            for column, value in (("status", status), ("end_time", end_time), ("model_id", model_id)):
                if value is not None:
                    conn.execute(f"UPDATE runs SET {column} = ? WHERE run_id = ?", (value, run_id))
            if dataset is not None:
                conn.execute("UPDATE runs SET dataset_id = ?, dataset_name = ?, dataset_version = ?,"
                             " dataset_digest = ? WHERE run_id = ?", (*dataset, run_id))

    def log_run_values(self, run_id: str, params: dict[str, str] | None = None,
                       metrics: dict[str, float] | None = None, tags: dict[str, str] | None = None) -> None:
        now = now_ms()
        with self.connections.session("logging to a run", write=True) as conn:
            self._require_run(conn, run_id)
            conn.executemany("INSERT OR REPLACE INTO run_params VALUES (?,?,?)",
                             [(run_id, k, v) for k, v in (params or {}).items()])
            conn.executemany("INSERT OR REPLACE INTO run_metrics VALUES (?,?,?,?)",
                             [(run_id, k, float(v), now) for k, v in (metrics or {}).items()])
            conn.executemany("INSERT OR REPLACE INTO run_tags VALUES (?,?,?)",
                             [(run_id, k, v) for k, v in (tags or {}).items()])

    def log_model_metrics(self, model_id: str, metrics: dict[str, float]) -> None:
        with self.connections.session("logging a model's metrics", write=True) as conn:
            conn.executemany("INSERT OR REPLACE INTO logged_model_metrics VALUES (?,?,?)",
                             [(model_id, k, float(v)) for k, v in metrics.items()])

    def _require_run(self, conn: Any, run_id: str) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
            raise ResourceDoesNotExist(f"run {run_id!r} does not exist in {self.uri}")

    def get_run(self, run_id: str) -> Run:
        with self.connections.session("reading a run") as conn:
            runs = self._load_runs(conn, [run_id])
        if not runs:
            raise ResourceDoesNotExist(f"run {run_id!r} does not exist in {self.uri}")
        return runs[0]

    def search_runs(self, experiment_ids: Sequence[str] | None, filter_string: str | None,
                    order_by: list[str] | None, max_results: int) -> list[Run]:
        sql, args = entity_search_query("runs", "run_id", RUN_FIELDS, experiment_ids, filter_string, order_by,
                                        max_results, self.connections.dialect)
        with self.connections.session("searching runs") as conn:
            return self._load_runs(conn, [r[0] for r in conn.execute(sql, args)])

    def _load_runs(self, conn: Any, run_ids: Sequence[str]) -> list[Run]:
        if not run_ids:
            return []
        keys = marks(len(run_ids))
        rows = {r[0]: r for r in conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id IN ({keys})", run_ids)}
        data: dict[str, RunData] = {run_id: RunData() for run_id in rows}
        for table, attr in (("run_params", "params"), ("run_metrics", "metrics"), ("run_tags", "tags")):
            for run_id, key, value in conn.execute(f"SELECT run_id, key, value FROM {table}"
                                                   f" WHERE run_id IN ({keys})", run_ids):
                getattr(data[run_id], attr)[key] = value
        return [Run(_info(rows[i]), data[i]) for i in run_ids if i in rows]

    # -- assessments: read, edit, delete -----------------------------------------------------------
    def get_assessment(self, trace_id: str, assessment_id: str) -> Assessment:
        with self.connections.session("reading an assessment") as conn:
            row = conn.execute(f"SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE trace_id = ? AND"
                               " assessment_id = ?", (trace_id, assessment_id)).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"assessment {assessment_id!r} of trace {trace_id!r} does not exist")
        return assessment_from_row(row)

    def write_assessments(self, assessments: Sequence[Assessment]) -> int:
        """Store many assessments in one transaction (an evaluation's feedback); those of unknown traces are skipped."""
        if not assessments:
            return 0
        with self.connections.session(f"writing {len(assessments)} assessments", write=True) as conn:
            trace_ids = sorted({a.trace_id for a in assessments if a.trace_id})
            known = {r[0] for i in range(0, len(trace_ids), 500)
                     for r in conn.execute(f"SELECT trace_id FROM traces WHERE trace_id IN "
                                           f"({marks(len(trace_ids[i:i + 500]))})", trace_ids[i:i + 500])}
            rows = [assessment_row(a) for a in assessments if a.trace_id in known]
            conn.executemany(f"INSERT OR REPLACE INTO assessments ({ASSESSMENT_COLUMNS}) VALUES ({marks(16)})", rows)
        return len(rows)

    def replace_assessment(self, assessment: Assessment, invalidate: str | None = None) -> Assessment:
        """Write an assessment over its stored row; ``invalidate``: an assessment it overrides (then valid = 0)."""
        with self.connections.session("updating an assessment", write=True) as conn:
            if invalidate is not None:
                conn.execute("UPDATE assessments SET valid = 0, last_update_time_ms = ? WHERE assessment_id = ?",
                             (now_ms(), invalidate))
            conn.execute(f"INSERT OR REPLACE INTO assessments ({ASSESSMENT_COLUMNS}) VALUES ({marks(16)})",
                         assessment_row(assessment))
        return assessment

    def delete_assessment(self, trace_id: str, assessment_id: str) -> None:
        with self.connections.session("deleting an assessment", write=True) as conn:
            # An assessment it had overridden is the valid one again.
            conn.execute("UPDATE assessments SET valid = 1 WHERE assessment_id IN (SELECT overrides FROM"
                         " assessments WHERE assessment_id = ? AND trace_id = ?)", (assessment_id, trace_id))
            gone = conn.execute("DELETE FROM assessments WHERE trace_id = ? AND assessment_id = ?",
                                (trace_id, assessment_id)).rowcount
            if not gone:
                raise ResourceDoesNotExist(f"assessment {assessment_id!r} of trace {trace_id!r} does not exist")


def _info(row: Any) -> RunInfo:
    return RunInfo(run_id=row[0], experiment_id=row[1], run_name=row[2], status=row[3], start_time=row[4],
                   end_time=row[5], model_id=row[6], dataset_id=row[7], dataset_name=row[8],
                   dataset_version=row[9], dataset_digest=row[10])
