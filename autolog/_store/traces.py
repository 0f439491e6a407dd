"""The trace, assessment and experiment methods both SQL stores share (``SqliteStore``, ``PostgresStore``).

A mixin: the store gives ``connections`` (its sessions and their ``dialect``) and ``uri``. Every
statement is the dialect's (``dialect``): SQLite's text, translated by PostgreSQL's connections.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autolog._errors import ResourceDoesNotExist
from autolog._store.dialect import Dialect, SessionSource
from autolog._store.filter_sql import order_sql
from autolog._store.logged_models import check_experiment_ids
from autolog._store.pages import after_clause, decode_page_token, encode_page_token
from autolog._store.records import TAG_COLUMNS, TAGS_FIELD
from autolog._store.rows import (
    ASSESSMENT_COLUMNS,
    TRACE_ROW_COLUMNS,
    assessment_from_row,
    assessment_row,
    trace_from_rows,
)
from autolog._store.sqlite_io import chunks, marks
from autolog._store.trace_filter import ManyRows, compile_trace_filter, trace_order_keys
from autolog.entities.assessment import Assessment
from autolog.entities.experiment import Experiment
from autolog.entities.ids import now_ms
from autolog.entities.trace import Trace

__all__ = ["MAX_LIMIT", "TRACE_WRITES", "TraceTables"]

_SET_COLUMN = TRACE_ROW_COLUMNS.split(", ").index("metadata_set")
MAX_LIMIT = 2**62  # both databases bind 64-bit integers; a larger max_results means "all"


# The statements of a batch write and their row widths, in order: metadata sets (shared, never replaced),
# traces, tags, metadata, spans. Upserts by key: a batch written twice leaves one copy.
TRACE_WRITES = (
    ("INSERT OR IGNORE INTO metadata_sets", 3),
    ("INSERT OR REPLACE INTO traces (trace_id, experiment_id, name, request_time, execution_duration, state,"
     " client_request_id, model_id, run_id, token_usage, input_tokens, output_tokens, total_tokens, cost,"
     " request_preview, response_preview, metadata_set)", TAGS_FIELD),
    ("INSERT OR REPLACE INTO trace_tags", 3),
    ("INSERT OR REPLACE INTO trace_metadata", 3),
    ("INSERT OR REPLACE INTO spans", 9),
)


class TraceTables:
    """Reading, searching, tagging and deleting traces; assessments; experiments."""

    connections: SessionSource
    uri: str

    def schema_version(self) -> int:
        with self.connections.session("reading the schema version") as conn:
            return int(conn.execute("SELECT version FROM schema_version").fetchone()[0])

    def _require_trace(self, conn: Any, trace_id: str) -> None:
        if conn.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone() is None:
            raise ResourceDoesNotExist(f"trace {trace_id!r} does not exist in {self.uri}")

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        with self.connections.session("setting a trace tag", write=True) as conn:
            self._require_trace(conn, trace_id)
            if key in TAG_COLUMNS:
                conn.execute(f"UPDATE traces SET {TAG_COLUMNS[key]} = ? WHERE trace_id = ?", (value, trace_id))
            else:
                conn.execute("INSERT OR REPLACE INTO trace_tags VALUES (?,?,?)", (trace_id, key, value))

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        with self.connections.session("deleting a trace tag", write=True) as conn:
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
        with self.connections.session("deleting traces", write=True) as conn:
            for chunk in chunks(trace_ids):
                places = marks(len(chunk))
                # metadata sets are shared; a deleted trace leaves the labeling queues it was in
                for table in ("trace_tags", "trace_metadata", "spans", "assessments", "labeling_items"):
                    conn.execute(f"DELETE FROM {table} WHERE trace_id IN ({places})", chunk)
                deleted += conn.execute(f"DELETE FROM traces WHERE trace_id IN ({places})", chunk).rowcount
        return deleted

    # -- traces: reads -----------------------------------------------------------------------------
    def get_trace(self, trace_id: str) -> Trace:
        with self.connections.session("reading a trace") as conn:
            traces = self._load_traces(conn, [trace_id])
        if not traces:
            raise ResourceDoesNotExist(f"trace {trace_id!r} does not exist in {self.uri}")
        return traces[0]

    def load_traces(self, trace_ids: Sequence[str], include_spans: bool = True) -> list[Trace]:
        """Load traces, in the order of ``trace_ids`` (unknown ids are skipped); without their spans
        (an empty span list) when ``include_spans`` is False."""
        with self.connections.session("reading traces") as conn:
            return self._load_traces(conn, trace_ids, include_spans)

    def _load_traces(self, conn: Any, trace_ids: Sequence[str],
                     include_spans: bool = True) -> list[Trace]:
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
            # Spans are most of a trace's bytes: a page of a trace list reads none of them.
            if include_spans:
                for row in conn.execute(f"SELECT * FROM spans WHERE trace_id IN ({places})", chunk):
                    spans.setdefault(row[0], []).append(row[1:])
            for row in conn.execute(f"SELECT {ASSESSMENT_COLUMNS} FROM assessments"
                                    f" WHERE trace_id IN ({places}) ORDER BY create_time_ms", chunk):
                assessments.setdefault(row[1], []).append(assessment_from_row(row))
        return [trace_from_rows(rows[t], tags.get(t, {}),
                                {**shared_sets.get(rows[t][_SET_COLUMN], {}), **meta.get(t, {})},
                                spans.get(t, []), assessments.get(t, []))
                for t in trace_ids if t in rows]

    def search_traces(self, experiment_ids: Sequence[str] | None, filter_string: str | None,
                      order_by: list[str] | None, max_results: int, page_token: str | None = None,
                      model_id: str | None = None, include_spans: bool = True) -> tuple[list[Trace], str | None]:
        """One page of matching traces and the token of the next page (None on the last page).

        Pages are keyset cursors (see ``pages``): traces written while a caller pages through
        a search never make a later page repeat or skip a trace. ``include_spans=False`` reads
        the traces' info, tags, metadata and assessments only (their span lists are empty).
        """
        with self.connections.session("searching traces") as conn:
            rows, token = self._search(conn, experiment_ids, filter_string, order_by, max_results, page_token,
                                       model_id)
            return self._load_traces(conn, [r[0] for r in rows], include_spans), token

    def search_trace_ids(self, experiment_ids: Sequence[str] | None, filter_string: str | None,
                         order_by: list[str] | None, max_results: int, page_token: str | None = None,
                         model_id: str | None = None) -> list[str]:
        """The ids of one page of matching traces (``search_traces`` without loading them)."""
        with self.connections.session("searching traces") as conn:
            rows, _ = self._search(conn, experiment_ids, filter_string, order_by, max_results, page_token, model_id)
        return [r[0] for r in rows]

    def _search(self, conn: Any, experiment_ids: Sequence[str] | None, filter_string: str | None,
                order_by: list[str] | None, max_results: int, page_token: str | None,
                model_id: str | None) -> tuple[list[Any], str | None]:
        d = self.connections.dialect
        keys = trace_order_keys(order_by, alias="t")
        limit = min(max_results, MAX_LIMIT)
        many = _match_counter(conn, d, limit + 1) if keys[0].expr in _INDEXED_ORDERS else None
        clauses, args = _match_clauses(experiment_ids, filter_string, model_id, d, many)
        after = decode_page_token(page_token, keys)
        if after is not None:
            after_sql, after_params = after_clause(keys, after)
            clauses.append(f"({after_sql})")
            args.extend(after_params)
        sql = (f"SELECT t.trace_id, {', '.join(k.expr for k in keys)} FROM traces AS t"
               f" WHERE {' AND '.join(clauses)} ORDER BY {order_sql(keys, d)} LIMIT ?")
        rows = conn.execute(sql, [*args, limit + 1]).fetchall()
        if len(rows) <= limit:
            return rows, None
        return rows[:limit], encode_page_token(keys, rows[limit - 1][1:])

    def count_traces(self, experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                     model_id: str | None = None) -> int:
        """How many traces ``search_traces`` would find over all its pages, counted in SQL (none is loaded)."""
        clauses, args = _match_clauses(experiment_ids, filter_string, model_id, self.connections.dialect)
        with self.connections.session("counting traces") as conn:
            sql = f"SELECT COUNT(*) FROM traces AS t WHERE {' AND '.join(clauses)}"
            return int(conn.execute(sql, args).fetchone()[0])

    # -- assessments -------------------------------------------------------------------------------
    def log_assessment(self, a: Assessment) -> Assessment:
        with self.connections.session("logging an assessment", write=True) as conn:
            self._require_trace(conn, a.trace_id or "")
            self.insert_assessment(conn, a)
        return a

    def insert_assessment(self, conn: Any, a: Assessment) -> None:
        """Write one assessment row in the caller's transaction (a labeling submit writes several in one)."""
        conn.execute(f"INSERT OR REPLACE INTO assessments ({ASSESSMENT_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                     assessment_row(a))

    # -- experiments -------------------------------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> Experiment:
        with self.connections.session("reading an experiment") as conn:
            row = conn.execute("SELECT * FROM experiments WHERE name = ?", (name,)).fetchone()
        if row is not None:  # found without the write lock: a read-only store can name its experiments
            return Experiment(row[0], row[1], json.loads(row[2]), row[3])
        with self.connections.session("creating an experiment", write=True) as conn:
            row = conn.execute("SELECT * FROM experiments WHERE name = ?", (name,)).fetchone()
            if row is None:
                number = self.connections.dialect.int_of_text("experiment_id")
                next_id = conn.execute(f"SELECT COALESCE(MAX({number}), 0) + 1 FROM experiments").fetchone()[0]
                row = (str(next_id), name, "{}", now_ms())
                conn.execute("INSERT INTO experiments VALUES (?,?,?,?)", row)
        return Experiment(row[0], row[1], json.loads(row[2]), row[3])

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self.connections.session("reading an experiment") as conn:
            row = conn.execute("SELECT * FROM experiments WHERE experiment_id = ?", (experiment_id,)).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"experiment {experiment_id!r} does not exist in {self.uri}")
        return Experiment(row[0], row[1], json.loads(row[2]), row[3])

    def list_experiments(self) -> list[Experiment]:
        """Every experiment, by id (numeric ids in number order)."""
        with self.connections.session("listing experiments") as conn:
            number = self.connections.dialect.int_of_text("experiment_id")
            rows = conn.execute(f"SELECT * FROM experiments ORDER BY {number}, experiment_id")
            return [Experiment(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self.connections.session("reading an experiment") as conn:
            row = conn.execute("SELECT * FROM experiments WHERE name = ?", (name,)).fetchone()
        return None if row is None else Experiment(row[0], row[1], json.loads(row[2]), row[3])


# First sort keys an index of traces serves (schema v6): a search in that order can walk the index and stop at
# its page, checking a common tag per trace, instead of collecting and sorting all its matches.
_INDEXED_ORDERS = frozenset(("t.request_time", "t.cost", "t.total_tokens", "t.execution_duration"))


def _match_counter(conn: Any, d: Dialect, page: int) -> ManyRows:
    """``many`` of ``compile_trace_filter`` for one search of ``page`` rows: whether a clause's matching rows
    reach a bound, counted up to the bound (about 1 ms at 1,000,000 traces).

    The bound balances the two plans. Collecting M matches costs about 3 µs each (they are then sorted);
    walking the time index costs about 0.75 µs a trace, and finds a page after page x N / M traces of N. They
    are equal at M = 0.5 x sqrt(page x N): 5,000 of 1,000,000 traces for a page of 100 (bench_team: a tag
    on half the traces took 150 ms collected, 1 ms walked; one on none, 0.1 ms collected, 0.76 s walked; on
    PostgreSQL a feedback value on 6 % of them 50 ms hashed, 2 ms walked).
    """
    bound: list[int] = []

    def many(sql: str, params: list[object]) -> bool:
        if not bound:
            traces = conn.execute(d.rows_estimate.format(table="traces")).fetchone()[0] or 0
            bound.append(max(1_000, int(0.5 * (page * traces) ** 0.5)))
        found = conn.execute(f"SELECT COUNT(*) FROM ({sql} LIMIT {bound[0]}) AS m", params).fetchone()[0]
        return bool(found >= bound[0])

    return many


def _match_clauses(experiment_ids: Sequence[str] | None, filter_string: str | None,
                   model_id: str | None, d: Dialect, many: ManyRows | None = None) -> tuple[list[str], list[object]]:
    """The WHERE clauses (over ``traces AS t``) and parameters of a search: one place, so a count matches a search."""
    where, params = compile_trace_filter(filter_string, alias="t", d=d, many=many)
    check_experiment_ids(experiment_ids)
    clauses = [f"({where})"]
    args: list[object] = list(params)
    if experiment_ids:
        clauses.append(f"t.experiment_id IN ({marks(len(experiment_ids))})")
        args.extend(str(e) for e in experiment_ids)
    if model_id is not None:
        clauses.append("t.model_id = ?")
        args.append(model_id)
    return clauses, args
