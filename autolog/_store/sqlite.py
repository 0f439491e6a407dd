"""The embedded store: one SQLite file in WAL mode, shared safely by threads and processes.

Each thread (and each process after ``fork``) gets its own connection. Writers take
SQLite's write lock with ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout`` for other
processes; trace writes are upserts keyed by trace id, so a batch that is written twice
(a retry, a spool replay) leaves exactly one copy.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autolog._errors import ResourceDoesNotExist, StoreError
from autolog._store.filter_sql import (
    compile_logged_model_filter,
    compile_logged_model_order_by,
    compile_trace_filter,
    compile_trace_order_by,
)
from autolog._store.records import METADATA_FIELD, SPANS_FIELD, TAG_COLUMNS, TAGS_FIELD, Record
from autolog._store.rows import ASSESSMENT_COLUMNS, TRACE_ROW_COLUMNS, assessment_from_row, trace_from_rows
from autolog._store.schema import MIGRATIONS, SCHEMA_VERSION
from autolog._store.sqlite_io import chunks, connect, insert_rows, marks, path_from_uri
from autolog.entities.assessment import Assessment
from autolog.entities.experiment import Experiment
from autolog.entities.ids import now_ms
from autolog.entities.logged_model import LoggedModel
from autolog.entities.trace import Trace

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
_SET_COLUMN = TRACE_ROW_COLUMNS.split(", ").index("metadata_set")


class SqliteStore:
    """Thread-safe, multi-process store. Every method may block on disk I/O."""

    # Errors after which a write is worth retrying: the file is locked by another process
    # (past the busy timeout), or another connection switches it to WAL mode.
    transient_errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.path = path_from_uri(uri)
        if self.path.parent != Path(""):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._pid = os.getpid()
        self._migrate_lock = threading.Lock()
        self._migrated = False

    # -- connections -------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # forked: never use the parent's connections
            self._local = threading.local()
            self._pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        if not self._migrated:
            # Migrated lazily (on the export worker or the first read) so that
            # configuring autolog never touches the disk on the caller's thread.
            with self._migrate_lock:
                if not self._migrated:
                    self._migrate(conn)
                    self._migrated = True
        return conn

    @contextmanager
    def _write(self, conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        conn = conn or self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _migrate(self, conn: sqlite3.Connection) -> None:
        with self._write(conn):
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(f"the store at {self.path} has schema version {version}, newer than this autolog "
                                 f"understands ({SCHEMA_VERSION}); upgrade autolog")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            elif version != SCHEMA_VERSION:
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            conn.execute("INSERT OR IGNORE INTO experiments VALUES (?, ?, '{}', ?)",
                         (DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, now_ms()))

    def schema_version(self) -> int:
        return int(self._conn().execute("SELECT version FROM schema_version").fetchone()[0])

    # -- traces: writes ----------------------------------------------------------------------------
    def write_records(self, records: Iterable[Record], metadata_sets: dict[str, dict[str, str]] | None = None) -> int:
        """Upsert a batch of trace records (see ``records.RECORD_FIELDS``) in one transaction.

        ``metadata_sets`` holds the content of the shared metadata sets the records name.
        """
        trace_rows: list[tuple[Any, ...]] = []
        tag_rows: list[tuple[str, str, str]] = []
        meta_rows: list[tuple[str, str, str]] = []
        span_rows: list[tuple[Any, ...]] = []
        for r in records:
            tid = r[0]
            trace_rows.append(r[:TAGS_FIELD])
            tag_rows.extend((tid, k, v) for k, v in r[TAGS_FIELD])
            meta_rows.extend((tid, k, v) for k, v in r[METADATA_FIELD])
            span_rows.extend((tid, *s) for s in r[SPANS_FIELD])
        set_rows = [(set_id, k, v) for set_id, values in (metadata_sets or {}).items() for k, v in values.items()]
        with self._write() as conn:
            insert_rows(conn, "INSERT OR IGNORE INTO metadata_sets", 3, set_rows)
            insert_rows(conn, "INSERT OR REPLACE INTO traces (trace_id, experiment_id, name, request_time,"
                              " execution_duration, state, client_request_id, model_id, run_id, token_usage,"
                              " request_preview, response_preview, metadata_set)", TAGS_FIELD, trace_rows)
            insert_rows(conn, "INSERT OR REPLACE INTO trace_tags", 3, tag_rows)
            insert_rows(conn, "INSERT OR REPLACE INTO trace_metadata", 3, meta_rows)
            insert_rows(conn, "INSERT OR REPLACE INTO spans", 9, span_rows)
        return len(trace_rows)

    def checkpoint(self) -> None:
        """Copy the WAL's pages into the database file without waiting for readers (PASSIVE)."""
        self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _require_trace(self, conn: sqlite3.Connection, trace_id: str) -> None:
        if conn.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone() is None:
            raise ResourceDoesNotExist(f"trace {trace_id!r} does not exist in {self.uri}")

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        with self._write() as conn:
            self._require_trace(conn, trace_id)
            if key in TAG_COLUMNS:
                conn.execute(f"UPDATE traces SET {TAG_COLUMNS[key]} = ? WHERE trace_id = ?", (value, trace_id))
            else:
                conn.execute("INSERT OR REPLACE INTO trace_tags VALUES (?,?,?)", (trace_id, key, value))

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        with self._write() as conn:
            self._require_trace(conn, trace_id)
            if key in TAG_COLUMNS:
                column = TAG_COLUMNS[key]
                deleted = conn.execute(f"UPDATE traces SET {column} = NULL WHERE trace_id = ? AND {column} IS NOT NULL",
                                       (trace_id,)).rowcount
            else:
                deleted = conn.execute("DELETE FROM trace_tags WHERE trace_id = ? AND key = ?",
                                       (trace_id, key)).rowcount
            if deleted == 0:
                raise ResourceDoesNotExist(f"trace {trace_id!r} has no tag {key!r}")

    def delete_traces(self, trace_ids: Sequence[str]) -> int:
        deleted = 0
        with self._write() as conn:
            for chunk in chunks(trace_ids):
                places = marks(len(chunk))
                for table in ("trace_tags", "trace_metadata", "spans", "assessments"):  # metadata sets are shared
                    conn.execute(f"DELETE FROM {table} WHERE trace_id IN ({places})", chunk)
                deleted += conn.execute(f"DELETE FROM traces WHERE trace_id IN ({places})", chunk).rowcount
        return deleted

    # -- traces: reads -----------------------------------------------------------------------------
    def get_trace(self, trace_id: str) -> Trace:
        traces = self.load_traces([trace_id])
        if not traces:
            raise ResourceDoesNotExist(f"trace {trace_id!r} does not exist in {self.uri}")
        return traces[0]

    def load_traces(self, trace_ids: Sequence[str]) -> list[Trace]:
        """Load whole traces, in the order of ``trace_ids`` (unknown ids are skipped)."""
        conn = self._conn()
        rows: dict[str, Any] = {}
        tags: dict[str, dict[str, str]] = {}
        meta: dict[str, dict[str, str]] = {}
        spans: dict[str, list[Any]] = {}
        assessments: dict[str, list[Assessment]] = {}
        shared_sets: dict[str, dict[str, str]] = {}
        for chunk in chunks(list(trace_ids)):
            places = marks(len(chunk))
            for row in conn.execute(f"SELECT {TRACE_ROW_COLUMNS} FROM traces WHERE trace_id IN ({places})", chunk):
                rows[row[0]] = row
                set_id = row[_SET_COLUMN]
                if set_id is not None and set_id not in shared_sets:
                    shared_sets[set_id] = dict(conn.execute(
                        "SELECT key, value FROM metadata_sets WHERE set_id = ?", (set_id,)).fetchall())
            for tid, k, v in conn.execute(f"SELECT * FROM trace_tags WHERE trace_id IN ({places})", chunk):
                tags.setdefault(tid, {})[k] = v
            for tid, k, v in conn.execute(f"SELECT * FROM trace_metadata WHERE trace_id IN ({places})", chunk):
                meta.setdefault(tid, {})[k] = v
            for row in conn.execute(f"SELECT * FROM spans WHERE trace_id IN ({places})", chunk):
                spans.setdefault(row[0], []).append(row[1:])
            for row in conn.execute(f"SELECT {ASSESSMENT_COLUMNS} FROM assessments"
                                    f" WHERE trace_id IN ({places}) ORDER BY create_time_ms", chunk):
                assessments.setdefault(row[1], []).append(assessment_from_row(row))
        return [trace_from_rows(rows[t], tags.get(t, {}),
                                {**shared_sets.get(rows[t][_SET_COLUMN], {}), **meta.get(t, {})},
                                spans.get(t, []), assessments.get(t, []))
                for t in trace_ids if t in rows]

    def search_trace_ids(self, experiment_ids: Sequence[str] | None, filter_string: str | None,
                         order_by: list[str] | None, max_results: int, offset: int,
                         model_id: str | None = None) -> list[str]:
        where, params = compile_trace_filter(filter_string, alias="t")
        order = compile_trace_order_by(order_by, alias="t")
        clauses = [f"({where})"]
        args: list[object] = list(params)
        if experiment_ids:
            clauses.append(f"t.experiment_id IN ({marks(len(experiment_ids))})")
            args.extend(str(e) for e in experiment_ids)
        if model_id is not None:
            clauses.append("t.model_id = ?")
            args.append(model_id)
        sql = f"SELECT t.trace_id FROM traces AS t WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT ? OFFSET ?"
        args.extend((max_results, offset))
        return [r[0] for r in self._conn().execute(sql, args)]

    def count_traces(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM traces").fetchone()[0])

    # -- assessments -------------------------------------------------------------------------------
    def log_assessment(self, a: Assessment) -> Assessment:
        with self._write() as conn:
            self._require_trace(conn, a.trace_id or "")
            conn.execute("INSERT OR REPLACE INTO assessments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (
                a.assessment_id, a.trace_id, a.span_id, a.name, a.kind, json.dumps(a.value, default=str),
                a.source.source_type, a.source.source_id, a.rationale,
                json.dumps(a.metadata) if a.metadata else None, a.error, a.create_time_ms, a.last_update_time_ms))
        return a

    # -- experiments -------------------------------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> Experiment:
        with self._write() as conn:
            row = conn.execute("SELECT * FROM experiments WHERE name = ?", (name,)).fetchone()
            if row is None:
                next_id = conn.execute("SELECT COALESCE(MAX(CAST(experiment_id AS INTEGER)), 0) + 1 FROM experiments"
                                       ).fetchone()[0]
                row = (str(next_id), name, "{}", now_ms())
                conn.execute("INSERT INTO experiments VALUES (?,?,?,?)", row)
        return Experiment(row[0], row[1], json.loads(row[2]), row[3])

    def get_experiment(self, experiment_id: str) -> Experiment:
        row = self._conn().execute("SELECT * FROM experiments WHERE experiment_id = ?", (experiment_id,)).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"experiment {experiment_id!r} does not exist in {self.uri}")
        return Experiment(row[0], row[1], json.loads(row[2]), row[3])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        row = self._conn().execute("SELECT * FROM experiments WHERE name = ?", (name,)).fetchone()
        return None if row is None else Experiment(row[0], row[1], json.loads(row[2]), row[3])

    # -- logged models -----------------------------------------------------------------------------
    def create_logged_model(self, m: LoggedModel) -> LoggedModel:
        with self._write() as conn:
            conn.execute("INSERT INTO logged_models VALUES (?,?,?,?,?,?,?,?)", (
                m.model_id, m.experiment_id, m.name, m.model_type, m.source_run_id, m.status,
                m.creation_timestamp, m.last_updated_timestamp))
            conn.executemany("INSERT INTO logged_model_tags VALUES (?,?,?)",
                             [(m.model_id, k, v) for k, v in m.tags.items()])
            conn.executemany("INSERT INTO logged_model_params VALUES (?,?,?)",
                             [(m.model_id, k, v) for k, v in m.params.items()])
            conn.executemany("INSERT INTO logged_model_metrics VALUES (?,?,?)",
                             [(m.model_id, k, v) for k, v in m.metrics.items()])
        return m

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self._set_model_values(model_id, "logged_model_tags", tags)

    def _set_model_values(self, model_id: str, table: str, values: dict[str, str]) -> None:
        """Upsert key/value rows of a model (``table``: its tags or params) and touch its update time."""
        with self._write() as conn:
            self._require_model(conn, model_id)
            conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?,?,?)",
                             [(model_id, k, v) for k, v in values.items()])
            conn.execute("UPDATE logged_models SET last_updated_timestamp = ? WHERE model_id = ?", (now_ms(), model_id))

    def _require_model(self, conn: sqlite3.Connection, model_id: str) -> None:
        if conn.execute("SELECT 1 FROM logged_models WHERE model_id = ?", (model_id,)).fetchone() is None:
            raise ResourceDoesNotExist(f"logged model {model_id!r} does not exist in {self.uri}")

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        self._set_model_values(model_id, "logged_model_params", params)

    def set_logged_model_status(self, model_id: str, status: str) -> None:
        with self._write() as conn:
            self._require_model(conn, model_id)
            conn.execute("UPDATE logged_models SET status = ?, last_updated_timestamp = ? WHERE model_id = ?",
                         (status, now_ms(), model_id))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self._write() as conn:
            self._require_model(conn, model_id)
            if conn.execute("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?",
                            (model_id, key)).rowcount == 0:
                raise ResourceDoesNotExist(f"logged model {model_id!r} has no tag {key!r}")

    def _load_models(self, model_ids: Sequence[str]) -> list[LoggedModel]:
        conn = self._conn()
        models: dict[str, LoggedModel] = {}
        for chunk in chunks(list(model_ids)):
            places = marks(len(chunk))
            for row in conn.execute(
                    "SELECT model_id, name, experiment_id, creation_timestamp, last_updated_timestamp, model_type,"
                    f" source_run_id, status FROM logged_models WHERE model_id IN ({places})", chunk):
                model_id, name, experiment_id, created, updated, model_type, source_run_id, status = row
                models[model_id] = LoggedModel(model_id, name, experiment_id, created, updated, status=status,
                                               model_type=model_type, source_run_id=source_run_id)
            for table, attr in (("logged_model_tags", "tags"), ("logged_model_params", "params"),
                                ("logged_model_metrics", "metrics")):
                for mid, k, v in conn.execute(f"SELECT * FROM {table} WHERE model_id IN ({places})", chunk):
                    getattr(models[mid], attr)[k] = v
        return [models[m] for m in model_ids if m in models]

    def get_logged_model(self, model_id: str) -> LoggedModel:
        found = self._load_models([model_id])
        if not found:
            raise ResourceDoesNotExist(f"logged model {model_id!r} does not exist in {self.uri}")
        return found[0]

    def find_newest_logged_model(self, experiment_id: str, name: str) -> LoggedModel | None:
        row = self._conn().execute(
            "SELECT model_id FROM logged_models WHERE experiment_id = ? AND name = ?"
            " ORDER BY creation_timestamp DESC, rowid DESC LIMIT 1", (experiment_id, name)).fetchone()
        return None if row is None else self.get_logged_model(row[0])

    def search_logged_models(self, experiment_ids: Sequence[str] | None, filter_string: str | None,
                             order_by: list[str] | None, max_results: int, offset: int = 0) -> list[LoggedModel]:
        where, params = compile_logged_model_filter(filter_string, alias="m")
        args: list[object] = list(params)
        clauses = [f"({where})"]
        if experiment_ids:
            clauses.append(f"m.experiment_id IN ({marks(len(experiment_ids))})")
            args.extend(str(e) for e in experiment_ids)
        order = compile_logged_model_order_by(order_by, alias="m")
        sql = (f"SELECT m.model_id FROM logged_models AS m WHERE {' AND '.join(clauses)} ORDER BY {order}"
               " LIMIT ? OFFSET ?")
        args.extend((max_results, offset))
        return self._load_models([r[0] for r in self._conn().execute(sql, args)])
