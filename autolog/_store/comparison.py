"""The SQL behind ``compare_versions``: per-version aggregates computed by the store, not in Python.

One pass over the versions' traces groups them by (version, split key, latency in ms): the
sums and counts of each group add up to the version's totals, and the counts per latency
are the version's exact latency histogram, from which any percentile follows. Latencies are
whole milliseconds, so a version has a few thousand distinct values even over a million
traces: the rows that leave SQLite are that few, never one per trace. Feedback is a second
pass over the assessments of the same traces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog._store.dialect import SQLITE, Dialect, SessionSource
from autolog._store.records import TOKEN_COUNTS
from autolog._store.sqlite_io import marks
from autolog._store.trace_filter import compile_trace_filter

__all__ = [
    "FEEDBACK_NUMBER_SQL",
    "TOKEN_SQL",
    "SplitKey",
    "VersionTotals",
    "evaluation_rows",
    "feedback_number_sql",
    "parse_split_key",
    "unpriced_models",
    "version_feedback",
    "version_list",
    "version_samples",
    "version_totals",
]

def feedback_number_sql(d: Dialect) -> str:
    """A feedback value (JSON text ``a.value``) as MLflow counts it: true/"yes" 1, false/"no" 0, numbers as
    they are, else NULL. (DOUBLE PRECISION: a float in both databases; SQLite reads it as REAL.)"""
    return f"""CASE
    WHEN a.value IN ('true', '"yes"', '"Yes"', '"YES"') THEN CAST(1 AS DOUBLE PRECISION)
    WHEN a.value IN ('false', '"no"', '"No"', '"NO"') THEN CAST(0 AS DOUBLE PRECISION)
    WHEN {d.json_is_number('a.value')} THEN CAST(a.value AS DOUBLE PRECISION)
END"""


FEEDBACK_NUMBER_SQL = feedback_number_sql(SQLITE)


@dataclass(frozen=True)
class SplitKey:
    """What ``by=`` splits each version by: a tag or a metadata key of the trace."""

    kind: str  # "tags" | "metadata"
    key: str

    @property
    def label(self) -> str:
        return f"{self.kind}.{self.key}"


_SPLIT = re.compile(r"^(?P<kind>tags|tag|metadata|request_metadata)\.(?:`(?P<quoted>[^`]+)`|(?P<plain>.+))$")


def parse_split_key(by: str) -> SplitKey:
    """``"tags.environment"``, ``"metadata.`mlflow.trace.user`"`` -> a SplitKey; anything else is refused."""
    match = _SPLIT.match(by.strip()) if isinstance(by, str) else None
    if match is None:
        raise InvalidArgumentError(f"by={by!r}: split by a trace tag or metadata key, written 'tags.<key>' or "
                                   "'metadata.<key>' (backticks around a key with dots: tags.`my.key`)")
    kind = "tags" if match["kind"] in ("tags", "tag") else "metadata"
    return SplitKey(kind, match["quoted"] or match["plain"])


def _split_sql(by: SplitKey | None, args: list[object]) -> str:
    if by is None:
        return "NULL"
    if by.kind == "tags":
        args.append(by.key)
        return "(SELECT g.value FROM trace_tags g WHERE g.trace_id = t.trace_id AND g.key = ?)"
    # A trace's own metadata wins over its process's shared set (see schema: metadata_sets).
    args.extend((by.key, by.key))
    return ("COALESCE((SELECT m.value FROM trace_metadata m WHERE m.trace_id = t.trace_id AND m.key = ?),"
            " (SELECT s.value FROM metadata_sets s WHERE s.set_id = t.metadata_set AND s.key = ?))")


def _scope_sql(model_ids: Sequence[str], experiment_id: str | None, filter_string: str | None,
               since_ms: int | None, until_ms: int | None, args: list[object], d: Dialect) -> str:
    """The WHERE over ``traces AS t`` that picks the compared traces."""
    where, params = compile_trace_filter(filter_string, alias="t", d=d)
    clauses = ["t.model_id = ?" if len(model_ids) == 1 else f"t.model_id IN ({marks(len(model_ids))})", f"({where})"]
    args.extend(model_ids)
    args.extend(params)
    if experiment_id is not None:
        clauses.append("t.experiment_id = ?")
        args.append(str(experiment_id))
    if since_ms is not None:
        clauses.append("t.request_time >= ?")
        args.append(since_ms)
    if until_ms is not None:
        clauses.append("t.request_time < ?")
        args.append(until_ms)
    return " AND ".join(clauses)


@dataclass
class VersionTotals:
    """The sums and counts of one version (one split value), and its latency histogram."""

    model_id: str
    split: str | None
    traces: int = 0
    errors: int = 0
    token_sums: dict[str, int] = field(default_factory=dict)
    token_counts: dict[str, int] = field(default_factory=dict)
    cost_sum: float = 0.0
    priced: int = 0
    used_tokens_unpriced: int = 0
    latency_counts: dict[int, int] = field(default_factory=dict)  # ms -> traces (finished traces only)


_TOKEN_COLUMNS = TOKEN_COUNTS
# A trace's token counts as SQL over `traces AS t`.
TOKEN_SQL = {c: f"t.{c}" for c in _TOKEN_COLUMNS}


def version_totals(connections: SessionSource, model_ids: Sequence[str], experiment_id: str | None,
                   filter_string: str | None, since_ms: int | None, until_ms: int | None,
                   by: SplitKey | None) -> list[VersionTotals]:
    """One ``VersionTotals`` per (version, split value) that has traces in scope."""
    totals: dict[tuple[str, str | None], VersionTotals] = {}
    d = connections.dialect
    # SUM(CASE ...), not SQLite's SUM(<boolean>): PostgreSQL does not sum booleans.
    measures = ("COUNT(*), SUM(CASE WHEN t.state = 'ERROR' THEN 1 ELSE 0 END), "
                + ", ".join(f"SUM({TOKEN_SQL[c]}), COUNT({TOKEN_SQL[c]})" for c in _TOKEN_COLUMNS)
                + ", SUM(t.cost), COUNT(t.cost),"
                  f" SUM(CASE WHEN t.cost IS NULL AND {TOKEN_SQL['total_tokens']} > 0 THEN 1 ELSE 0 END)")
    # One query per version: with `model_id = ?` the rows come from ix_traces_compare already
    # ordered by duration, so the GROUP BY streams (no sort) and reads no table row. A split by a
    # metadata key reads each trace's value; a split by a tag is cheaper the other way round: the
    # traces that have the tag are found from the tag's rows, and the rest is the whole less them.
    queries: list[tuple[str, list[object], int]] = []
    for model_id in dict.fromkeys(model_ids):
        args: list[object] = []
        split = "NULL" if by is None or by.kind == "tags" else _split_sql(by, args)
        scope = _scope_sql([model_id], experiment_id, filter_string, since_ms, until_ms, args, d)
        # t.model_id is one value (the WHERE's), grouped by all the same: PostgreSQL takes no bare column.
        group = "t.model_id, t.execution_duration" if split == "NULL" else "t.model_id, 2, t.execution_duration"
        queries.append((f"SELECT t.model_id, {split}, t.execution_duration, {measures}"
                        f" FROM traces AS t WHERE {scope} GROUP BY {group}", args, 1))
    if by is not None and by.kind == "tags":
        args = [by.key]
        scope = _scope_sql(model_ids, experiment_id, filter_string, since_ms, until_ms, args, d)
        queries.append((f"SELECT t.model_id, g.value, t.execution_duration, {measures} FROM trace_tags AS g"
                        " JOIN traces AS t ON t.trace_id = g.trace_id"
                        f" WHERE g.key = ? AND g.value IS NOT NULL AND {scope} GROUP BY 1, 2, 3", args, -1))
    with connections.session("comparing versions") as conn:
        for sql, args, sign in queries:
            for row in conn.execute(sql, args):
                model_id, split_value = row[0], None if row[1] is None else str(row[1])
                _add(totals, (model_id, split_value), row, 1)
                if sign < 0:  # a tagged trace: counted in its tag value, taken out of the untagged rest
                    _add(totals, (model_id, None), row, -1)
    return [t for t in totals.values() if t.traces > 0]


def _add(totals: dict[tuple[str, str | None], VersionTotals], key: tuple[str, str | None], row: tuple[Any, ...],
         sign: int) -> None:
    """Add (sign 1) or take out (sign -1) one GROUP BY row of version_totals' measures."""
    t = totals.get(key)
    if t is None:
        t = totals[key] = VersionTotals(*key)
    duration, count, errors = row[2], row[3], row[4]
    t.traces += sign * count
    t.errors += sign * (errors or 0)
    for i, column in enumerate(_TOKEN_COLUMNS):
        value_sum, value_count = row[5 + 2 * i], row[6 + 2 * i]
        if value_count:
            t.token_sums[column] = t.token_sums.get(column, 0) + sign * int(value_sum)
            t.token_counts[column] = t.token_counts.get(column, 0) + sign * value_count
    t.cost_sum += sign * (row[11] or 0.0)
    t.priced += sign * row[12]
    t.used_tokens_unpriced += sign * (row[13] or 0)
    if duration is not None:
        left = t.latency_counts.get(int(duration), 0) + sign * count
        if left:
            t.latency_counts[int(duration)] = left
        else:
            t.latency_counts.pop(int(duration), None)


def version_feedback(connections: SessionSource, model_ids: Sequence[str], experiment_id: str | None,
                     filter_string: str | None, since_ms: int | None, until_ms: int | None,
                     by: SplitKey | None) -> list[tuple[str, str | None, str, float | None, int, float | None]]:
    """``(model_id, split, feedback name, mean, n, mean of squares)`` over the valid, numeric feedback of the
    traces in scope (the mean of squares gives the spread, for a confidence interval).

    Only values that count as numbers are in the mean and in n (text verdicts and errors are not).
    """
    if not model_ids:
        return []
    args: list[object] = []
    split = _split_sql(by, args)
    scope = _scope_sql(model_ids, experiment_id, filter_string, since_ms, until_ms, args, connections.dialect)
    sql = (f"SELECT t.model_id, {split} AS split, a.name, AVG(v), COUNT(v), AVG(v * v) FROM traces AS t"
           f" JOIN (SELECT a.trace_id, a.name, {feedback_number_sql(connections.dialect)} AS v FROM assessments AS a"
           "       WHERE a.kind = 'feedback' AND a.valid = 1 AND a.error IS NULL) AS a ON a.trace_id = t.trace_id"
           f" WHERE {scope} GROUP BY 1, 2, 3 ORDER BY 3")
    with connections.session("comparing versions' feedback") as conn:
        return [(m, None if s is None else str(s), n, mean, count, squares)
                for m, s, n, mean, count, squares in conn.execute(sql, args)]


def version_samples(connections: SessionSource, model_id: str, experiment_id: str | None, filter_string: str | None,
                    limit: int) -> tuple[list[int], list[float]]:
    """The latencies (ms, finished traces) and costs (priced traces) of a version's newest ``limit`` traces in
    scope, for a distribution chart: one query, through ix_traces_model (the version's traces by time)."""
    args: list[object] = []
    scope = _scope_sql([model_id], experiment_id, filter_string, None, None, args, connections.dialect)
    sql = (f"SELECT t.execution_duration, t.cost FROM traces AS t WHERE {scope}"
           " ORDER BY t.request_time DESC LIMIT ?")
    with connections.session("sampling a version's traces") as conn:
        rows = conn.execute(sql, [*args, limit]).fetchall()
    return ([int(d) for d, _ in rows if d is not None], [float(c) for _, c in rows if c is not None])


def unpriced_models(connections: SessionSource, model_id: str, sample: int = 200) -> list[str]:
    """Names of the LLM models in a version's traces that used tokens but have no cost (no price known).

    Looks at up to ``sample`` such traces: enough to name the models, without reading every span.
    """
    d = connections.dialect
    sql = (f"SELECT DISTINCT {d.json_value('s.content', ('attributes', 'mlflow.llm.model'))} FROM spans AS s"
           " WHERE s.trace_id IN (SELECT t.trace_id FROM traces AS t WHERE t.model_id = ? AND t.cost IS NULL"
           f"                      AND {TOKEN_SQL['total_tokens']} > 0 LIMIT ?)"
           f" AND {d.json_value('s.content', ('attributes', 'mlflow.chat.tokenUsage'))} IS NOT NULL")
    with connections.session("listing unpriced models") as conn:
        return sorted(str(r[0]) for r in conn.execute(sql, (model_id, sample)) if r[0] is not None)


def version_list(connections: SessionSource, experiment_id: str | None,
                 model_ids: Sequence[str] | None = None) -> list[tuple[str, str, int, int, int | None]]:
    """``(model_id, name, created ms, traces, last trace ms)`` of every version (of the experiment; among
    ``model_ids`` if given), newest first."""
    clauses: list[str] = []
    args: list[object] = []
    if experiment_id is not None:
        clauses.append("m.experiment_id = ?")
        args.append(str(experiment_id))
    if model_ids is not None:
        clauses.append(f"m.model_id IN ({marks(len(model_ids))})" if model_ids else "1=0")
        args.extend(model_ids)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = ("SELECT m.model_id, m.name, m.creation_timestamp,"
           " (SELECT COUNT(*) FROM traces AS t WHERE t.model_id = m.model_id),"
           " (SELECT MAX(t.request_time) FROM traces AS t WHERE t.model_id = m.model_id)"
           f" FROM logged_models AS m {where} ORDER BY m.creation_timestamp DESC, m.rowid DESC")
    with connections.session("listing versions") as conn:
        return [tuple(r) for r in conn.execute(sql, args)]


def evaluation_rows(connections: SessionSource, run_id: str) -> tuple[list[Any], list[Any]]:
    """An evaluation run's traces and valid numeric feedback, for ``compare_evaluations``, in either dialect.

    Traces: ``(trace_id, request_time, execution_duration, total_tokens, cost, inputs JSON, outputs JSON)`` of
    the traces the run made or judged, oldest first; the root span's inputs and outputs as JSON text.
    Feedback: ``(trace_id, name, number or None, value JSON, rationale)``, oldest first, the run's own and
    the human overrides of it.
    """
    d = connections.dialect
    root = ("(SELECT {} FROM spans AS s WHERE s.trace_id = t.trace_id AND s.parent_id IS NULL"
            " ORDER BY s.start_time_ns LIMIT 1)")
    traces_sql = (f"SELECT t.trace_id, t.request_time, t.execution_duration, {TOKEN_SQL['total_tokens']}, t.cost,"
                  f" {root.format(d.json_quoted('s.content', ('inputs',)))},"
                  f" {root.format(d.json_quoted('s.content', ('outputs',)))}"
                  " FROM traces AS t WHERE t.trace_id IN (SELECT trace_id FROM traces WHERE run_id = ?"
                  "  UNION SELECT trace_id FROM assessments WHERE run_id = ?) ORDER BY t.request_time, t.trace_id")
    feedback_sql = (f"SELECT a.trace_id, a.name, {feedback_number_sql(d)}, a.value, a.rationale FROM assessments AS a"
                    " WHERE a.kind = 'feedback' AND a.valid = 1 AND a.error IS NULL AND (a.run_id = ? OR a.overrides"
                    " IN (SELECT assessment_id FROM assessments WHERE run_id = ?)) ORDER BY a.create_time_ms")
    with connections.session(f"reading evaluation run {run_id}") as conn:
        return (conn.execute(traces_sql, (run_id, run_id)).fetchall(),
                conn.execute(feedback_sql, (run_id, run_id)).fetchall())
