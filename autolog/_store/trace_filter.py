"""MLflow trace filter strings and ``order_by`` lists → SQL over ``traces AS <alias>``.

The fields, as ``mlflow.search_traces`` names them (the ``trace.`` / ``attributes.`` prefix is optional):

    strings   name, status (= state), trace_id (= request_id), client_request_id, run_id, model_id, experiment_id
    numbers   timestamp_ms (= timestamp), execution_time_ms (= execution_time), end_time_ms (= end_time), cost,
              total_tokens
    tags.<k>, metadata.<k>              the trace's tags and metadata
    span.name / type / status, span.attributes.<k>, span.content, trace.text
                                        span clauses joined by AND must hold for one and the same span
    feedback.<name>, expectation.<name> the trace's current assessments, and those logged for its session
    prompt = 'name/version'             a prompt version linked to the trace (tag mlflow.linkedPrompts)

Every value and user-given key is a bound parameter, except the tag and metadata keys of an
``order_by``, which become quoted SQL literals (quotes doubled): ORDER BY terms cannot be bound.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from autolog._errors import InvalidArgumentError, InvalidFilterError
from autolog._store.dialect import SQLITE, Dialect
from autolog._store.filter_parser import Comparison, Parser
from autolog._store.filter_sql import (
    SortKey,
    all_of,
    check_ops,
    check_size,
    compare,
    is_blank,
    key_value_clause,
    key_value_rows,
    order_sql,
)
from autolog._store.records import METADATA_COLUMNS, TAG_COLUMNS

__all__ = ["ManyRows", "compile_trace_filter", "compile_trace_order_by", "parse_filter", "trace_order_keys"]

# Whether the rows of a query (``SELECT 1 FROM ...``, parameters) are many: a store's bounded count, asked by
# the compiler when a clause has two plans and the better one depends on how many traces match.
ManyRows = Callable[[str, list[object]], bool]

SESSION_KEY = "mlflow.trace.session"
LINKED_PROMPTS_TAG = "mlflow.linkedPrompts"

_STRING_COLUMNS = {"status": "state", "state": "state", "name": "name", "trace_id": "trace_id",
                   "request_id": "trace_id", "run_id": "run_id", "client_request_id": "client_request_id",
                   "model_id": "model_id", "experiment_id": "experiment_id"}
# Numeric fields as SQL templates over the alias ``{a}``; an end time is start plus duration, as MLflow's.
_END_TIME = "({a}.request_time + COALESCE({a}.execution_duration, 0))"
_NUMERIC_FIELDS = {"timestamp_ms": "{a}.request_time", "timestamp": "{a}.request_time",
                   "request_time": "{a}.request_time", "execution_time_ms": "{a}.execution_duration",
                   "execution_time": "{a}.execution_duration", "execution_duration": "{a}.execution_duration",
                   "end_time_ms": _END_TIME, "end_time": _END_TIME, "cost": "{a}.cost",
                   "total_tokens": "{a}.total_tokens"}
# Numeric fields that may be NULL: an unfinished trace has no duration, a trace without a priced call no cost,
# one without an LLM call no token count.
_NULLABLE_NUMERIC = frozenset(("execution_time_ms", "execution_time", "execution_duration", "cost", "total_tokens"))
_ATTRIBUTE_PREFIXES = frozenset(("attributes", "attribute", "trace"))
_PREFIXES = {"tags": "tag", "tag": "tag", "metadata": "metadata", "request_metadata": "metadata", "span": "span",
             "feedback": "feedback", "expectation": "expectation"}
_SPAN_COLUMNS = {"name": "name", "type": "span_type", "span_type": "span_type", "status": "status"}
_SPAN_KINDS = frozenset(("span", "span_attribute", "span_content"))
_FIELDS_HELP = ("a field: tags.<key>, metadata.<key>, span.name, span.type, span.status, span.attributes.<key>, "
                "span.content, trace.text, feedback.<name>, expectation.<name>, prompt, or one of ")
_ATTRIBUTES = ", ".join(sorted({*_STRING_COLUMNS, *_NUMERIC_FIELDS}))


def _comparison(text: str, prefix: str | None, key: str, op: str, value: Any, pos: int) -> Comparison:
    if prefix is None or prefix.lower() in _ATTRIBUTE_PREFIXES:
        if key == "text":  # trace.text: the content of any span
            return Comparison("span_content", "content", op, value, pos)
        if key == "prompt":
            return Comparison("prompt", key, op, value, pos)
        if key not in _STRING_COLUMNS and key not in _NUMERIC_FIELDS:
            raise InvalidFilterError(text, pos, "a trace attribute: " + _ATTRIBUTES, key)
        return Comparison("attribute", key, op, value, pos)
    key_type = _PREFIXES.get(prefix.lower())
    if key_type is None:
        raise InvalidFilterError(text, pos, _FIELDS_HELP + _ATTRIBUTES, prefix)
    if key_type == "span":
        if key.startswith("attributes."):
            key = key[len("attributes."):]
            if not key or '"' in key:
                raise InvalidFilterError(text, pos, "a span attribute name without '\"'", key)
            return Comparison("span_attribute", key, op, value, pos)
        if key == "content":
            return Comparison("span_content", key, op, value, pos)
        if key not in _SPAN_COLUMNS:
            raise InvalidFilterError(text, pos, "span.name, span.type, span.status, span.content or "
                                     "span.attributes.<key>", key)
    return Comparison(key_type, key, op, value, pos)


def _check(text: str, c: Comparison) -> None:
    if c.key_type == "span_content" and c.op not in ("LIKE", "ILIKE", "RLIKE"):
        raise InvalidFilterError(text, c.position, f"LIKE, ILIKE or RLIKE for {c.key} (it is searched as text)", c.op)
    if c.key_type == "prompt" and (c.op != "=" or not isinstance(c.value, str) or c.value.count("/") != 1):
        raise InvalidFilterError(text, c.position, "prompt = 'name/version'", f"{c.op} {c.value!r}")
    numeric = c.key_type == "attribute" and c.key in _NUMERIC_FIELDS
    check_ops(text, c, numeric=numeric, nullable=c.key in _NULLABLE_NUMERIC,
              json_value=c.key_type in ("span_attribute", "feedback", "expectation"))


def parse_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a trace filter string into AND-joined comparisons. None or blank → []."""
    if filter_string is None or is_blank(filter_string):
        return []
    out = []
    for prefix, key, op, value, pos in Parser(filter_string).parse():
        c = _comparison(filter_string, prefix, key, op, value, pos)
        _check(filter_string, c)
        out.append(c)
    return out


def compile_trace_filter(filter_string: str | None, alias: str = "t", d: Dialect = SQLITE,
                         many: ManyRows | None = None) -> tuple[str, list[object]]:
    """SQL boolean expression over ``traces AS <alias>`` and its bound parameters ("1=1" when empty), in dialect ``d``.

    The span clauses become one EXISTS over the trace's spans, last, so that together they
    must hold for a single span (``span.name = 'search' AND span.status = 'ERROR'``: a failed search).
    ``many``: given by a search that reads one page in an order an index serves (time, say). A tag, metadata or
    assessment clause whose matches are many is then checked per trace along that index, which stops at the
    page (``key_value_clause(per_row=True)``); one with few matches collects them. Neither database's planner
    chooses well alone: SQLite's statistics hold one average per index, so a value on half the traces and one
    on none look alike; PostgreSQL hashes all of an assessment's matches when an ORDER BY ... LIMIT would stop
    after a thousand traces.
    """
    params: list[object] = []
    parts = []
    span_conditions: list[str] = []
    span_params: list[object] = []
    for c in parse_filter(filter_string):
        if c.key_type in _SPAN_KINDS:
            span_conditions.append(_span_condition(c, span_params, d))
        else:
            parts.append(_trace_clause(alias, c, params, d, many))
        check_size(filter_string or "", c, [*params, *span_params])
    if span_conditions:
        parts.append(f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = {alias}.trace_id"
                     f" AND {all_of(span_conditions)})")
        params.extend(span_params)
    return all_of(parts), params


def _span_condition(c: Comparison, params: list[object], d: Dialect) -> str:
    """A condition on one span ``s``."""
    if c.key_type == "span":
        return compare(f"s.{_SPAN_COLUMNS[c.key]}", c, params, d=d)
    if c.key_type == "span_content":  # the stored span: its inputs, outputs and attributes
        return compare("s.content", c, params, d=d)
    path_params: list[object] = [c.key]
    numeric = isinstance(c.value, (int, float)) or c.op in ("<", "<=", ">", ">=")
    path = ("attributes", None)  # the attribute's name is bound
    expr = d.json_number("s.content", path) if numeric else d.json_text("s.content", path)
    condition = compare(expr, c, path_params, numeric, d)
    params.extend(path_params)
    return condition


def _many(many: ManyRows | None, c: Comparison, *rows: tuple[str, list[object]]) -> bool:
    """Whether a clause is checked per trace: the search asks (``many``) and any of its row sets is large."""
    return many is not None and c.op != "IS NULL" and any(many(*r) for r in rows)


def _trace_clause(alias: str, c: Comparison, params: list[object], d: Dialect, many: ManyRows | None) -> str:
    if c.key_type == "attribute":
        if c.key in _NUMERIC_FIELDS:
            return compare(_NUMERIC_FIELDS[c.key].format(a=alias), c, params, numeric=True, d=d)
        if c.key == "run_id" and c.op in ("=", "IN"):
            # A trace belongs to the run that made it, and to every evaluation run that judged it
            # (evaluating existing traces attaches that run's feedback), as MLflow links them.
            made = compare(f"{alias}.run_id", c, params, d=d)
            judged = compare("a.run_id", c, params, d=d)
            return f"({made} OR {alias}.trace_id IN (SELECT a.trace_id FROM assessments a WHERE {judged}))"
        return compare(f"{alias}.{_STRING_COLUMNS[c.key]}", c, params, d=d)
    if c.key_type == "tag" and c.key in TAG_COLUMNS:
        return compare(f"{alias}.{TAG_COLUMNS[c.key]}", c, params, d=d)
    if c.key_type == "metadata" and c.key in METADATA_COLUMNS:
        return compare(f"{alias}.{METADATA_COLUMNS[c.key]}", c, params, d=d)
    if c.key_type == "tag":
        per_row = many is not None and _many(many, c, key_value_rows("trace_tags", "1", c, d))  # no SQL unasked
        return key_value_clause("trace_tags", "trace_id", f"{alias}.trace_id", c, params, d=d, per_row=per_row)
    if c.key_type == "metadata":
        return _metadata_clause(alias, c, params, d, many)
    if c.key_type == "prompt":
        name, version = str(c.value).split("/")
        params.extend((LINKED_PROMPTS_TAG, name, version))
        # The tag holds a JSON list of {"name", "version"}; a tag that is not JSON matches nothing.
        return (f"EXISTS (SELECT 1 FROM trace_tags g, {d.json_array('g.value', 'p')}"
                f" WHERE g.trace_id = {alias}.trace_id AND g.key = ?"
                f" AND {d.json_value('p.value', ('name',))} = ? AND {d.json_text('p.value', ('version',))} = ?)")
    return _assessment_clause(alias, c, params, d, many)


def _metadata_clause(alias: str, c: Comparison, params: list[object], d: Dialect, many: ManyRows | None) -> str:
    """Metadata lives per trace (trace_metadata) or in the trace's shared set (metadata_sets)."""
    if c.op == "IS NULL":  # absent from both places
        own = key_value_clause("trace_metadata", "trace_id", f"{alias}.trace_id", c, params, d=d)
        shared = key_value_clause("metadata_sets", "set_id", f"{alias}.metadata_set", c, params, d=d)
        return f"({own} AND ({alias}.metadata_set IS NULL OR {shared}))"
    own_rows, own_params = key_value_rows("trace_metadata", "trace_id", c, d)
    set_rows, set_params = key_value_rows("metadata_sets", "set_id", c, d)
    shared_rows = f"SELECT trace_id FROM traces WHERE metadata_set IN ({set_rows})"
    if _many(many, c, (own_rows, own_params), (shared_rows, set_params)):
        own = key_value_clause("trace_metadata", "trace_id", f"{alias}.trace_id", c, params, d=d, per_row=True)
        shared = key_value_clause("metadata_sets", "set_id", f"{alias}.metadata_set", c, params, d=d, per_row=True)
        return f"({own} OR {shared})"
    # One semi-join over both sources, not an OR of two: PostgreSQL cannot drive an OR of subqueries from
    # their few rows, and checks every trace against both instead.
    params.extend((*own_params, *set_params))
    return f"{alias}.trace_id IN ({own_rows} UNION ALL {shared_rows})"


def _assessment_value(c: Comparison, params: list[object], d: Dialect) -> str:
    """The condition on ``a.value`` (JSON text) of a feedback or expectation clause ("" for IS [NOT] NULL)."""
    if c.op in ("IS NULL", "IS NOT NULL"):
        return ""
    value = c.value
    if isinstance(value, str) and value.lower() in ("true", "false") and c.op in ("=", "!="):
        # JSON booleans: feedback.correct = 'true' matches a stored true, not the string "true". The store writes
        # values as json.dumps does, so a stored true is the text 'true': compared as text, the database's
        # statistics of the column say how common it is (a JSON function per row hides that from PostgreSQL's
        # planner, which then hashed every assessment: 0.45 s at 1,000,000 traces, 1 ms compared as text).
        params.append(value.lower())
        return f" AND a.value {c.op} ?"
    values = value if c.op in ("IN", "NOT IN") else [value]
    if c.op in ("=", "IN", "!=", "NOT IN") and all(isinstance(v, str) for v in values):
        texts = list(dict.fromkeys(t for v in values for t in _stored_texts(v)))
        params.extend(texts)
        marks = ",".join("?" * len(texts))
        if c.op in ("=", "IN"):
            return f" AND a.value IN ({marks})"
        # The complement among values that have a text: a JSON null (no text) matches neither = nor !=.
        return f" AND a.value NOT IN ({marks}) AND a.value <> 'null'"
    numeric = isinstance(value, (int, float)) or c.op in ("<", "<=", ">", ">=")
    # As text, a JSON boolean is 'true' / 'false' (its JSON text, as MLflow matches it), not SQLite's 1 / 0.
    expr = d.json_number("a.value", ()) if numeric else d.json_scalar_text("a.value")
    return " AND " + compare(expr, c, params, numeric, d)


def _stored_texts(value: str) -> list[str]:
    """The stored JSON texts (``json.dumps``, as ``rows.assessment_row`` writes) of the values whose text is
    ``value``: the string itself, and the number, boolean, list or object ``value`` reads as, as json.dumps
    writes it (``'0.00001'`` is also the number 1e-05, ``'[1,2]'`` the list ``[1, 2]``, ``'3'`` both 3 and 3.0)."""
    texts = [json.dumps(value)]
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth: the string only
        return texts
    if parsed is None or isinstance(parsed, str):
        return texts
    texts.append(json.dumps(parsed))
    if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
        number = float(parsed)
        texts.append(json.dumps(number))
        if number.is_integer() and abs(number) < 2**63:
            texts.append(json.dumps(int(number)))
    return list(dict.fromkeys(texts))


def _assessment_clause(alias: str, c: Comparison, params: list[object], d: Dialect, many: ManyRows | None) -> str:
    """The trace's own matching assessment, or one logged for its session (metadata mlflow.trace.session).

    Overridden assessments (valid = 0) are history, not the current judgement.
    """
    own_params: list[object] = [c.key_type, c.key]
    own_value = _assessment_value(c, own_params, d)
    matching = f"a.valid = 1 AND a.kind = ? AND a.name = ?{own_value}"
    session_params: list[object] = [SESSION_KEY, SESSION_KEY, c.key_type, c.key, f'%"{SESSION_KEY}":%']
    session_value = _assessment_value(c, session_params, d)
    # Uncorrelated, so the database finds the sessions with a matching assessment once per search.
    session = ("SELECT sm.trace_id FROM trace_metadata sm WHERE sm.key = ? AND sm.value IN"
               " (SELECT am.value FROM assessments a JOIN trace_metadata am ON am.trace_id = a.trace_id"
               " AND am.key = ? WHERE a.valid = 1 AND a.kind = ? AND a.name = ? AND a.metadata LIKE ?"
               f"{session_value})")
    per_row = _many(many, c, (f"SELECT 1 FROM assessments a WHERE {matching}", own_params))
    params.extend((*own_params, *session_params))
    if per_row:
        by_trace = d.by_index("ix_assessments_trace")
        return (f"(EXISTS (SELECT 1 FROM assessments a{by_trace} WHERE a.trace_id = {alias}.trace_id AND {matching}"
                f"{d.per_row}) OR {alias}.trace_id IN ({session}))")
    if c.op == "IS NULL":  # an anti-join per trace: NOT IN over a large list is checked element by element
        return (f"(NOT EXISTS (SELECT 1 FROM assessments a{d.by_index('ix_assessments_trace')}"
                f" WHERE a.trace_id = {alias}.trace_id AND {matching})"
                f" AND {alias}.trace_id NOT IN ({session}))")
    # Few matches: one semi-join over the trace's own and its session's assessments, driven from their rows;
    # an OR of two subqueries would be checked against every trace.
    return f"{alias}.trace_id IN (SELECT a.trace_id FROM assessments a WHERE {matching} UNION ALL {session})"


# -- order_by ------------------------------------------------------------------------------------------
_NOT_NULL_COLUMNS = frozenset(("trace_id", "experiment_id", "state"))
_ORDER_CLAUSE = re.compile(r"\s*(?:(\w+)\.)?(`[^`]*`|[^\s`]+)(?:\s+(\S+))?\s*$")
_ORDER_KEY_VALUE = {"tag": "tag", "tags": "tag", "metadata": "metadata", "request_metadata": "metadata"}


def _literal(key: str) -> str:
    return "'" + key.replace("'", "''") + "'"  # a quoted SQL string: quotes doubled


def _order_expression(clause: str, prefix: str | None, field: str, alias: str) -> tuple[str, bool]:
    """The SQL expression a field sorts by, and whether it can be NULL."""
    kind = _ORDER_KEY_VALUE.get(prefix.lower()) if prefix else None
    if kind == "tag" and field in TAG_COLUMNS:
        return f"{alias}.{TAG_COLUMNS[field]}", True
    if kind == "metadata" and field in METADATA_COLUMNS:
        return f"{alias}.{METADATA_COLUMNS[field]}", True
    if kind == "tag":
        tag = f"SELECT g.value FROM trace_tags g WHERE g.trace_id = {alias}.trace_id AND g.key = {_literal(field)}"
        return f"({tag})", True
    if kind == "metadata":
        own = f"SELECT m.value FROM trace_metadata m WHERE m.trace_id = {alias}.trace_id AND m.key = {_literal(field)}"
        shared = (f"SELECT m.value FROM metadata_sets m WHERE m.set_id = {alias}.metadata_set"
                  f" AND m.key = {_literal(field)}")
        return f"COALESCE(({own}), ({shared}))", True
    if prefix is not None and prefix.lower() not in _ATTRIBUTE_PREFIXES:
        raise InvalidFilterError(clause, 0, "tag.<key>, metadata.<key> or a trace attribute", prefix, what="order_by")
    if field in _NUMERIC_FIELDS:
        return _NUMERIC_FIELDS[field].format(a=alias), field in _NULLABLE_NUMERIC
    if field in _STRING_COLUMNS:
        column = _STRING_COLUMNS[field]
        return f"{alias}.{column}", column not in _NOT_NULL_COLUMNS
    raise InvalidFilterError(clause, 0, "tag.<key>, metadata.<key> or one of " + _ATTRIBUTES, field, what="order_by")


def trace_order_keys(order_by: list[str] | None, alias: str = "t") -> list[SortKey]:
    """Sort keys of a trace search, as MLflow's: the given keys with missing values last whichever the
    direction, then newest first, then the trace id (unique, so pages are stable)."""
    if order_by is not None and (isinstance(order_by, str) or not all(isinstance(c, str) for c in order_by)):
        raise InvalidArgumentError(f"order_by must be a list of str such as ['timestamp_ms DESC'], got {order_by!r}")
    keys: list[SortKey] = []
    seen: set[str] = set()
    for clause in order_by or []:
        match = _ORDER_CLAUSE.match(clause)
        if match is None or not clause.strip():
            raise InvalidFilterError(clause, 0, "'<field> [ASC|DESC]'", clause or None, what="order_by")
        prefix, field, direction = match.group(1), match.group(2).strip("`"), (match.group(3) or "ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise InvalidFilterError(clause, match.start(3), "ASC or DESC", match.group(3), what="order_by")
        expr, nullable = _order_expression(clause, prefix, field, alias)
        if expr in seen:  # a repeated field cannot change the order
            continue
        seen.add(expr)
        # SQLite sorts NULL last in DESC already; only ASC needs the (x IS NULL) key. Without it a DESC
        # order is the columns of an index (ix_traces_cost, _tokens, _latency), read without a sort.
        if nullable and direction == "ASC":
            keys.append(SortKey(f"({expr} IS NULL)", False, False))
        keys.append(SortKey(expr, direction == "DESC", nullable))
    newest = SortKey(f"{alias}.request_time", True, False)
    given = next((k for k in keys if k.expr == newest.expr), None)
    if given is None:
        keys.append(newest)
    # Trace ids begin with their start time in nanoseconds, so they order traces within one millisecond:
    # in the direction the caller asked for time (``timestamp_ms ASC`` is oldest first to the nanosecond),
    # else newest first.
    return [*keys, SortKey(f"{alias}.trace_id", given.descending if given else True, False)]


def compile_trace_order_by(order_by: list[str] | None, alias: str = "t", d: Dialect = SQLITE) -> str:
    """ORDER BY text for traces; the trace id is always the last key, so pages are stable."""
    return order_sql(trace_order_keys(order_by, alias), d)
