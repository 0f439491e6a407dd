"""The SQL schema of the store, versioned from day one.

Every change to the schema is a new entry in ``MIGRATIONS``; a store opened by a newer
autolog is migrated forward in one transaction, and a store written by a newer autolog
than this one is refused with a clear error rather than silently misread.

The layout is chosen for the filters of ``search_traces``: everything a filter can name
is a column or a key/value row with an index, never a value hidden inside a JSON blob
(span attributes are the one exception: they are read with ``json_extract`` after the
span name/type indexes narrow the rows).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, NamedTuple

from autolog._errors import StoreError
from autolog._store.sqlite_io import READONLY, error_code, rollback_quietly
from autolog.entities.ids import now_ms

__all__ = ["DEFAULT_EXPERIMENT_ID", "DEFAULT_EXPERIMENT_NAME", "MIGRATIONS", "SCHEMA_VERSION", "PerDialect",
           "known_version", "migrate", "schema_is_current"]

SCHEMA_VERSION = 7
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"



class PerDialect(NamedTuple):
    """A migration step that differs by database, in each one's own SQL (None: nothing to do there). Tables
    are never created so: one definition of each, rendered for PostgreSQL by ``PostgresDialect.ddl``."""

    sqlite: str | None
    postgresql: str | None


# Each migration is a list of statements that moves the schema from version N-1 to N.
MIGRATIONS: dict[int, list[str | PerDialect]] = {
    1: [
        """CREATE TABLE experiments (
            experiment_id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            tags TEXT NOT NULL DEFAULT '{}',
            creation_time INTEGER NOT NULL
        )""",
        """CREATE TABLE logged_models (
            model_id TEXT PRIMARY KEY,
            experiment_id TEXT NOT NULL,
            name TEXT NOT NULL,
            model_type TEXT,
            source_run_id TEXT,
            status TEXT NOT NULL,
            creation_timestamp INTEGER NOT NULL,
            last_updated_timestamp INTEGER NOT NULL
        )""",
        "CREATE INDEX ix_logged_models_name ON logged_models (experiment_id, name, creation_timestamp)",
        """CREATE TABLE logged_model_tags (
            model_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE logged_model_params (
            model_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE logged_model_metrics (
            model_id TEXT NOT NULL, key TEXT NOT NULL, value REAL,
            PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID""",
        # One row per trace. `name` is the root span's name (tag mlflow.traceName),
        # `status` mirrors `state` for MLflow 2 style filters.
        """CREATE TABLE traces (
            trace_id TEXT PRIMARY KEY,
            experiment_id TEXT NOT NULL,
            name TEXT,
            request_time INTEGER NOT NULL,
            execution_duration INTEGER,
            state TEXT NOT NULL,
            client_request_id TEXT,
            model_id TEXT,
            run_id TEXT,
            request_preview TEXT,
            response_preview TEXT,
            metadata_set TEXT
        )""",
        "CREATE INDEX ix_traces_experiment_time ON traces (experiment_id, request_time)",
        "CREATE INDEX ix_traces_model ON traces (model_id, request_time)",
        "CREATE INDEX ix_traces_name ON traces (name)",
        "CREATE INDEX ix_traces_client_request_id ON traces (client_request_id)",
        """CREATE TABLE trace_tags (
            trace_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (trace_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX ix_trace_tags_key_value ON trace_tags (key, value)",
        """CREATE TABLE trace_metadata (
            trace_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (trace_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX ix_trace_metadata_key_value ON trace_metadata (key, value)",
        # Metadata every trace of a process shares (source, git, user, schema version) is
        # stored once per distinct set, named by a hash of its content, instead of once per
        # trace: a third of the rows an ingest writes.
        """CREATE TABLE metadata_sets (
            set_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (set_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX ix_metadata_sets_key_value ON metadata_sets (key, value)",
        "CREATE INDEX ix_traces_metadata_set ON traces (metadata_set)",
        # `content` is the whole span as stored JSON (see _store/_codec.py); the other
        # columns duplicate the fields that filters and tree building need.
        """CREATE TABLE spans (
            trace_id TEXT NOT NULL,
            span_id TEXT NOT NULL,
            parent_id TEXT,
            name TEXT,
            span_type TEXT,
            status TEXT,
            start_time_ns INTEGER,
            end_time_ns INTEGER,
            content TEXT NOT NULL,
            PRIMARY KEY (trace_id, span_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX ix_spans_name ON spans (name)",
        "CREATE INDEX ix_spans_type ON spans (span_type)",
        # `value` is JSON text (a feedback value may be a bool, number, string or dict).
        """CREATE TABLE assessments (
            assessment_id TEXT PRIMARY KEY,
            trace_id TEXT NOT NULL,
            span_id TEXT,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            value TEXT,
            source_type TEXT NOT NULL,
            source_id TEXT,
            rationale TEXT,
            metadata TEXT,
            error TEXT,
            create_time_ms INTEGER NOT NULL,
            last_update_time_ms INTEGER NOT NULL
        )""",
        "CREATE INDEX ix_assessments_trace ON assessments (trace_id)",
        "CREATE INDEX ix_assessments_name ON assessments (kind, name)",
    ],
    # Keys every trace carries become columns of `traces` (fewer rows and index inserts per
    # trace): the tag mlflow.traceName is `name`, the metadata mlflow.modelId is `model_id`
    # (already a column) and mlflow.trace.tokenUsage is `token_usage`. Indexes on columns that
    # are usually NULL skip the NULLs.
    2: [
        "ALTER TABLE traces ADD COLUMN token_usage TEXT",
        """UPDATE traces SET token_usage = (SELECT value FROM trace_metadata m
                                           WHERE m.trace_id = traces.trace_id AND m.key = 'mlflow.trace.tokenUsage')""",
        """UPDATE traces SET model_id = (SELECT value FROM trace_metadata m
                                        WHERE m.trace_id = traces.trace_id AND m.key = 'mlflow.modelId')
           WHERE trace_id IN (SELECT trace_id FROM trace_metadata WHERE key = 'mlflow.modelId')""",
        "DELETE FROM trace_metadata WHERE key IN ('mlflow.trace.tokenUsage', 'mlflow.modelId')",
        """UPDATE traces SET name = (SELECT value FROM trace_tags g
                                    WHERE g.trace_id = traces.trace_id AND g.key = 'mlflow.traceName')
           WHERE trace_id IN (SELECT trace_id FROM trace_tags WHERE key = 'mlflow.traceName')""",
        "DELETE FROM trace_tags WHERE key = 'mlflow.traceName'",
        "DROP INDEX ix_traces_model",
        "CREATE INDEX ix_traces_model ON traces (model_id, request_time) WHERE model_id IS NOT NULL",
        "DROP INDEX ix_traces_client_request_id",
        "CREATE INDEX ix_traces_client_request_id ON traces (client_request_id) WHERE client_request_id IS NOT NULL",
    ],
    # Evaluation: runs (an evaluation, or any start_run()), evaluation datasets with immutable
    # versions, and assessments that can be overridden (the old one stays, valid = 0) and
    # name the run that made them.
    3: [
        "ALTER TABLE assessments ADD COLUMN run_id TEXT",
        "ALTER TABLE assessments ADD COLUMN overrides TEXT",
        "ALTER TABLE assessments ADD COLUMN valid INTEGER NOT NULL DEFAULT 1",
        "CREATE INDEX ix_assessments_run ON assessments (run_id) WHERE run_id IS NOT NULL",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            experiment_id TEXT NOT NULL,
            name TEXT,
            status TEXT NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER,
            model_id TEXT,
            dataset_id TEXT,
            dataset_name TEXT,
            dataset_version INTEGER,
            dataset_digest TEXT
        )""",
        "CREATE INDEX ix_runs_experiment_time ON runs (experiment_id, start_time)",
        "CREATE INDEX ix_runs_model ON runs (model_id) WHERE model_id IS NOT NULL",
        """CREATE TABLE run_params (
            run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE run_tags (
            run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE run_metrics (
            run_id TEXT NOT NULL, key TEXT NOT NULL, value REAL, timestamp INTEGER NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID""",
        # A dataset's records belong to one of its versions; a change makes a new version
        # (records copied, then changed), so every version stays exactly as it was.
        """CREATE TABLE datasets (
            dataset_id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            experiment_ids TEXT NOT NULL DEFAULT '[]',
            tags TEXT NOT NULL DEFAULT '{}',
            created_time INTEGER NOT NULL,
            last_update_time INTEGER NOT NULL,
            current_version INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE dataset_versions (
            dataset_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            digest TEXT NOT NULL,
            record_count INTEGER NOT NULL,
            created_time INTEGER NOT NULL,
            PRIMARY KEY (dataset_id, version)
        ) WITHOUT ROWID""",
        """CREATE TABLE dataset_records (
            dataset_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            record_id TEXT NOT NULL,
            inputs_digest TEXT NOT NULL,
            inputs TEXT NOT NULL,
            outputs TEXT,
            expectations TEXT NOT NULL DEFAULT '{}',
            tags TEXT NOT NULL DEFAULT '{}',
            source TEXT,
            created_time INTEGER NOT NULL,
            last_update_time INTEGER NOT NULL,
            PRIMARY KEY (dataset_id, version, record_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX ix_dataset_records_inputs ON dataset_records (dataset_id, version, inputs_digest)",
    ],
    # Cost: `cost` is the total USD of the trace's priced LLM calls (NULL when none is priced), a
    # number for SQL to sum, average and order by; the whole {input_cost, output_cost, total_cost}
    # stays the metadata mlflow.trace.cost. The index holds only priced traces.
    4: [
        "ALTER TABLE traces ADD COLUMN cost REAL",
        """UPDATE traces SET cost = (SELECT json_extract(m.value, '$.total_cost') FROM trace_metadata m
                                    WHERE m.trace_id = traces.trace_id AND m.key = 'mlflow.trace.cost'
                                      AND json_valid(m.value))
           WHERE trace_id IN (SELECT trace_id FROM trace_metadata WHERE key = 'mlflow.trace.cost')""",
        "CREATE INDEX ix_traces_cost ON traces (cost) WHERE cost IS NOT NULL",
        # The token counts as integers beside their JSON: version comparisons sum them over a
        # million traces, and json_extract per row would be most of that time.
        "ALTER TABLE traces ADD COLUMN input_tokens INTEGER",
        "ALTER TABLE traces ADD COLUMN output_tokens INTEGER",
        "ALTER TABLE traces ADD COLUMN total_tokens INTEGER",
        """UPDATE traces SET input_tokens = json_extract(token_usage, '$.input_tokens'),
                             output_tokens = json_extract(token_usage, '$.output_tokens'),
                             total_tokens = json_extract(token_usage, '$.total_tokens')
           WHERE json_valid(token_usage)""",
        # compare_versions reads only this index (no table row): a version's traces in duration
        # order, so its latency histogram and sums come out of one streaming GROUP BY.
        """CREATE INDEX ix_traces_compare ON traces (model_id, execution_duration, state, input_tokens,
                                                     output_tokens, total_tokens, cost)""",
    ],
    # Human review: label schemas (the questions, per experiment), labeling sessions (a queue of
    # traces with the schemas its reviewers answer) and their items. A session keeps a copy of each
    # schema's definition (JSON): answers stay checked against the questions the reviewers saw, even
    # after a schema is changed or deleted. `position` is the queue order; `trace_id` is indexed so
    # deleting traces drops their items.
    5: [
        """CREATE TABLE label_schemas (
            experiment_id TEXT NOT NULL,
            name TEXT NOT NULL,
            definition TEXT NOT NULL,
            creation_time INTEGER NOT NULL,
            last_update_time INTEGER NOT NULL,
            PRIMARY KEY (experiment_id, name)
        ) WITHOUT ROWID""",
        """CREATE TABLE labeling_sessions (
            labeling_session_id TEXT PRIMARY KEY,
            experiment_id TEXT NOT NULL,
            name TEXT NOT NULL,
            schemas TEXT NOT NULL DEFAULT '[]',
            assigned_users TEXT NOT NULL DEFAULT '[]',
            creation_time INTEGER NOT NULL,
            last_update_time INTEGER NOT NULL
        )""",
        "CREATE INDEX ix_labeling_sessions_experiment ON labeling_sessions (experiment_id, creation_time)",
        """CREATE TABLE labeling_items (
            labeling_session_id TEXT NOT NULL,
            trace_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            state TEXT NOT NULL,
            reviewer TEXT,
            last_update_time INTEGER NOT NULL,
            PRIMARY KEY (labeling_session_id, trace_id)
        ) WITHOUT ROWID""",
        "CREATE UNIQUE INDEX ix_labeling_items_queue ON labeling_items (labeling_session_id, position)",
        "CREATE INDEX ix_labeling_items_trace ON labeling_items (trace_id)",
    ],
    # The trace list's orders over every experiment (the UI's default scope): newest first, and by cost,
    # tokens or latency (its sortable columns), descending with missing values last (trace_order_keys). A
    # page is then walked off an index, the rows of one millisecond sorted by id, instead of a sort of the
    # whole table: 0.2-0.7 s per page at 1,000,000 traces before, about 2 ms after, next pages too
    # (bench/bench_ui.py). ix_traces_experiment_time orders one experiment's traces only. The cost index now
    # holds the unpriced traces too, so ORDER BY cost uses it without a cost IS NOT NULL clause. No trace_id
    # column: an index holding it would cover id-only scans, which the planner then prefers to the table for
    # orders it cannot serve, looking tags up in the index's order (tags.x orders took 1.8 s, not 1.0 s).
    6: [
        "CREATE INDEX ix_traces_time ON traces (request_time)",
        "DROP INDEX ix_traces_cost",
        "CREATE INDEX ix_traces_cost ON traces (cost, request_time)",
        "CREATE INDEX ix_traces_tokens ON traces (total_tokens, request_time)",
        "CREATE INDEX ix_traces_latency ON traces (execution_duration, request_time)",
    ],
    # Searches at team scale (bench/bench_team.py, 1,000,000 traces). status = 'ERROR' with another clause
    # walks the failed traces newest first (a tag and status: 127 ms on SQLite, 58 ms on PostgreSQL before,
    # 5 ms after). A feedback or expectation value is found from its rows when it is rare (a 1 % rating scanned
    # every assessment of the name before); PostgreSQL's B-tree refuses entries over 2.7 kB, and an
    # expectation can be a long text, so there it is a hash of the value. (trace.text's trigram index on
    # PostgreSQL is not here: it tripled the server's CPU per span written, so it is asked for, with
    # ``autolog db text-index``; see pg_schema.set_text_index.)
    7: [
        "CREATE INDEX ix_traces_state ON traces (state, request_time)",
        PerDialect("CREATE INDEX ix_assessments_value ON assessments (kind, name, value)",
                   "CREATE INDEX ix_assessments_value ON assessments USING hash (value)"),
    ],
}


def known_version(row: Any, target: object) -> int:
    """The schema version in ``row`` (the ``schema_version`` table's one row, or None: 0), refused with a
    ``StoreError`` naming ``target`` when a newer autolog wrote it; the same check for both dialects."""
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(f"the store at {target} has schema version {version}, newer than this autolog understands "
                         f"({SCHEMA_VERSION}); upgrade autolog", target, "schema too new")
    return version


def _stored_version(conn: sqlite3.Connection, path: Path) -> int:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone() is None:
        return 0
    return known_version(conn.execute("SELECT version FROM schema_version").fetchone(), path)


def schema_is_current(conn: sqlite3.Connection, path: Path) -> bool:
    """Whether the store holds this version's schema, found with a plain read (no lock: a read-only store too)."""
    return _stored_version(conn, path) == SCHEMA_VERSION


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Create the schema, or bring an older one up to ``SCHEMA_VERSION``, in one ``BEGIN IMMEDIATE`` transaction.

    The version is read again under the write lock: another process may have migrated the
    store since this one looked.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if error_code(exc) == READONLY:
            raise StoreError(f"the store at {path} needs its schema created or migrated to version {SCHEMA_VERSION},"
                             f" but it is read-only ({exc}): open it once with write access", path, str(exc)) from exc
        raise
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = _stored_version(conn, path)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                sql = statement if isinstance(statement, str) else statement.sqlite
                if sql:
                    conn.execute(sql)
        if row is None:
            conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        elif version != SCHEMA_VERSION:
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        conn.execute("INSERT OR IGNORE INTO experiments VALUES (?, ?, '{}', ?)",
                     (DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, now_ms()))
        conn.execute("COMMIT")
    except BaseException:
        rollback_quietly(conn)
        raise
