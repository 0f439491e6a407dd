"""MLflow filter strings → parameterised SQL, for traces and for LoggedModels.

The parser (``filter_parser``) produces clauses; here they become ``Comparison`` nodes
checked against the searchable fields, then SQL where every value and every user-given
key is a bound parameter. Column names come only from the whitelists below, so no filter
can change the shape of the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autolog._errors import InvalidArgumentError, InvalidFilterError
from autolog._store.filter_parser import NUMERIC_OPS, STRING_OPS, Comparison, Parser
from autolog._store.records import METADATA_COLUMNS, TAG_COLUMNS

__all__ = [
    "MAX_FILTER_VALUES",
    "MODEL_FIELDS",
    "RUN_FIELDS",
    "EntityFields",
    "SortKey",
    "all_of",
    "compile_entity_filter",
    "compile_trace_filter",
    "compile_trace_order_by",
    "order_keys",
    "order_sql",
    "parse_filter",
    "trace_order_keys",
]

# Values one filter may bind: far above any real search, and with the store's own parameters
# (experiment ids, the page cursor) still below SQLite's smallest bound-parameter limit (32,766).
MAX_FILTER_VALUES = 20_000
# SQLite refuses LIKE and GLOB patterns longer than this (SQLITE_MAX_LIKE_PATTERN_LENGTH).
_MAX_PATTERN_CHARS = 50_000


def all_of(parts: list[str], op: str = "AND") -> str:
    """``parts`` joined with ``op`` as a balanced tree of parentheses ("1=1" when empty).

    SQLite refuses expressions nested deeper than 1,000, and ``a AND b AND c ...`` nests one
    level per term: a balanced tree of 10,000 terms is 14 deep.
    """
    if not parts:
        return "1=1"
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    return f"({all_of(parts[:middle], op)}) {op} ({all_of(parts[middle:], op)})"

# -- traces -------------------------------------------------------------------------------------------
_TRACE_STRING_COLUMNS = {"status": "state", "state": "state", "name": "name", "trace_id": "trace_id",
                         "request_id": "trace_id", "run_id": "run_id", "client_request_id": "client_request_id",
                         "model_id": "model_id", "experiment_id": "experiment_id"}
_TRACE_NUMERIC_COLUMNS = {"timestamp_ms": "request_time", "timestamp": "request_time", "request_time": "request_time",
                          "execution_time_ms": "execution_duration", "execution_duration": "execution_duration",
                          "cost": "cost"}
# Numeric columns that may be NULL, so `IS NULL` / `IS NOT NULL` can name them: an unfinished trace has
# no duration, a trace without a priced LLM call no cost.
_TRACE_NULLABLE_NUMERIC = frozenset(("execution_time_ms", "execution_duration", "cost"))
_TRACE_PREFIXES = {"tags": "tag", "tag": "tag", "metadata": "metadata", "request_metadata": "metadata",
                   "attributes": "attribute", "attribute": "attribute", "trace": "attribute", "span": "span",
                   "feedback": "feedback", "expectation": "expectation"}
_SPAN_COLUMNS = {"name": "name", "type": "span_type", "span_type": "span_type", "status": "status"}


def _trace_comparison(text: str, prefix: str | None, key: str, op: str, value: Any, pos: int) -> Comparison:
    if prefix is None:
        key_type = "attribute"
    elif prefix.lower() in _TRACE_PREFIXES:
        key_type = _TRACE_PREFIXES[prefix.lower()]
    else:
        # Unknown prefix: maybe a dotted bare attribute, else a clear error listing the valid forms.
        raise InvalidFilterError(text, pos, "a field: tags.<key>, metadata.<key>, attributes.<name>, span.name, "
                                 "span.type, span.attributes.<key>, feedback.<name>, expectation.<name>, or one of "
                                 + ", ".join(sorted({*_TRACE_STRING_COLUMNS, *_TRACE_NUMERIC_COLUMNS})), prefix)
    if key_type == "attribute" and key not in _TRACE_STRING_COLUMNS and key not in _TRACE_NUMERIC_COLUMNS:
        raise InvalidFilterError(text, pos, "a trace attribute: "
                                 + ", ".join(sorted({*_TRACE_STRING_COLUMNS, *_TRACE_NUMERIC_COLUMNS})), key)
    if key_type == "span":
        if key.startswith("attributes."):
            key_type, key = "span_attribute", key[len("attributes."):]
            if not key or '"' in key:
                raise InvalidFilterError(text, pos, "a span attribute name without '\"'", key)
        elif key not in _SPAN_COLUMNS:
            raise InvalidFilterError(text, pos, "span.name, span.type, span.status or span.attributes.<key>", key)
    return Comparison(key_type, key, op, value, pos)


def _is_numeric(c: Comparison) -> bool:
    return (c.key_type == "attribute" and c.key in _TRACE_NUMERIC_COLUMNS) or c.key_type == "metric"


# Fields of JSON values (span attributes, assessments): compared as numbers by <, <=, >, >=.
_JSON_VALUE_TYPES = ("span_attribute", "feedback", "expectation")
_ORDERING_OPS = ("<", "<=", ">", ">=")


def _check_number(text: str, c: Comparison) -> None:
    if isinstance(c.value, (int, float)):
        return
    try:
        float(c.value)
    except (TypeError, ValueError):
        raise InvalidFilterError(text, c.position, f"a number to compare {c.key} with ({c.op} compares numbers)",
                                 repr(c.value)) from None


def _check_ops(text: str, c: Comparison) -> None:
    if _is_numeric(c) and c.op in ("IS NULL", "IS NOT NULL") and c.key_type == "attribute":
        if c.key not in _TRACE_NULLABLE_NUMERIC:
            raise InvalidFilterError(text, c.position, f"a numeric operator ({', '.join(NUMERIC_OPS)}) for "
                                     f"{c.key}, which is never NULL", c.op)
    elif _is_numeric(c):
        if c.op not in NUMERIC_OPS:
            nullable = c.key_type == "attribute" and c.key in _TRACE_NULLABLE_NUMERIC
            ops = ", ".join(NUMERIC_OPS) + (", IS NULL, IS NOT NULL" if nullable else "")
            raise InvalidFilterError(text, c.position, f"a numeric operator ({ops}) for {c.key}", c.op)
        _check_number(text, c)
    elif c.key_type in ("tag", "metadata", "attribute", "span", "param") and c.op not in STRING_OPS:
        raise InvalidFilterError(text, c.position, f"a string operator ({', '.join(STRING_OPS)}) for {c.key}", c.op)
    elif c.key_type in _JSON_VALUE_TYPES and c.op in _ORDERING_OPS:
        _check_number(text, c)
    if c.op in ("LIKE", "ILIKE") and len(_glob_pattern(str(c.value))) > _MAX_PATTERN_CHARS:
        raise InvalidFilterError(text, c.position, f"a {c.op} pattern of at most {_MAX_PATTERN_CHARS:,} characters",
                                 f"{len(str(c.value)):,} characters")


def _check_size(text: str, c: Comparison, params: list[object]) -> None:
    if len(params) > MAX_FILTER_VALUES:
        raise InvalidFilterError(text, c.position, f"a filter of at most {MAX_FILTER_VALUES:,} values (keys and "
                                 "values of all its clauses together); split the search", "more")


def _is_blank(filter_string: str | None) -> bool:
    if filter_string is not None and not isinstance(filter_string, str):
        raise InvalidArgumentError(f"filter_string must be a str such as \"tags.env = 'prod'\", got "
                                   f"{type(filter_string).__name__} {filter_string!r}")
    return filter_string is None or not filter_string.strip()


def parse_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a trace filter string into AND-joined comparisons. None or blank → []."""
    if filter_string is None or _is_blank(filter_string):
        return []
    out = []
    for prefix, key, op, value, pos in Parser(filter_string).parse():
        c = _trace_comparison(filter_string, prefix, key, op, value, pos)
        _check_ops(filter_string, c)
        out.append(c)
    return out


def _glob_pattern(like: str) -> str:
    """A LIKE pattern as an equivalent GLOB pattern, which SQLite matches case-sensitively."""
    out = []
    for ch in like:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def _compare(expr: str, c: Comparison, params: list[object], numeric: bool = False) -> str:
    """SQL comparing ``expr`` with the comparison's value; appends the bound values to ``params``."""
    op = c.op
    if op in ("IN", "NOT IN"):
        params.extend(float(v) if numeric else str(v) for v in c.value)
        return f"{expr} {op} ({','.join('?' * len(c.value))})"
    if op == "IS NULL":
        return f"{expr} IS NULL"
    if op == "IS NOT NULL":
        return f"{expr} IS NOT NULL"
    if op == "LIKE":
        params.append(_glob_pattern(str(c.value)))
        return f"{expr} GLOB ?"
    if op == "ILIKE":
        params.append(str(c.value))
        return f"{expr} LIKE ?"
    params.append(float(c.value) if numeric else str(c.value))
    return f"{expr} {op} ?"


def _key_value_clause(table: str, id_column: str, outer: str, c: Comparison, params: list[object],
                      numeric: bool = False) -> str:
    # Semi-join on the (key, value) index: the subquery is evaluated once, not per row.
    if c.op == "IS NULL":
        params.append(c.key)
        return f"{outer} NOT IN (SELECT {id_column} FROM {table} WHERE key = ?)"
    params.append(c.key)
    if c.op == "IS NOT NULL":
        return f"{outer} IN (SELECT {id_column} FROM {table} WHERE key = ?)"
    return f"{outer} IN (SELECT {id_column} FROM {table} WHERE key = ? AND {_compare('value', c, params, numeric)})"


def _metadata_clause(alias: str, c: Comparison, params: list[object]) -> str:
    """Metadata lives per trace (trace_metadata) or in the trace's shared set (metadata_sets)."""
    own = _key_value_clause("trace_metadata", "trace_id", f"{alias}.trace_id", c, params)
    shared = _key_value_clause("metadata_sets", "set_id", f"{alias}.metadata_set", c, params)
    if c.op == "IS NULL":  # absent from both places
        return f"({own} AND ({alias}.metadata_set IS NULL OR {shared}))"
    return f"({own} OR {shared})"


def _assessment_clause(alias: str, c: Comparison, params: list[object]) -> str:
    params.extend((c.key_type, c.key))
    # Overridden assessments (valid = 0) are history, not the current judgement.
    base = (f"EXISTS (SELECT 1 FROM assessments a WHERE a.trace_id = {alias}.trace_id AND a.valid = 1"
            " AND a.kind = ? AND a.name = ?")
    if c.op in ("IS NULL", "IS NOT NULL"):
        return ("NOT " if c.op == "IS NULL" else "") + base + ")"
    value = c.value
    if isinstance(value, str) and value.lower() in ("true", "false") and c.op in ("=", "!="):
        # JSON booleans: feedback.correct = 'true' matches a stored true, not the string "true" only.
        params.append(value.lower())
        return f"{base} AND json_type(a.value) {c.op} ?)"
    numeric = isinstance(value, (int, float)) or c.op in ("<", "<=", ">", ">=")
    expr = "json_extract(a.value, '$')" if numeric else "CAST(json_extract(a.value, '$') AS TEXT)"
    return f"{base} AND {_compare(expr, c, params, numeric)})"


def compile_trace_filter(filter_string: str | None, alias: str = "t") -> tuple[str, list[object]]:
    """SQL boolean expression over ``traces AS <alias>`` and its bound parameters ("1=1" when empty)."""
    params: list[object] = []
    parts = []
    for c in parse_filter(filter_string):
        parts.append(_trace_clause(alias, c, params))
        _check_size(filter_string or "", c, params)
    return all_of(parts), params


def _trace_clause(alias: str, c: Comparison, params: list[object]) -> str:
    if c.key_type == "attribute":
        if c.key in _TRACE_NUMERIC_COLUMNS:
            return _compare(f"{alias}.{_TRACE_NUMERIC_COLUMNS[c.key]}", c, params, numeric=True)
        return _compare(f"{alias}.{_TRACE_STRING_COLUMNS[c.key]}", c, params)
    if c.key_type == "tag" and c.key in TAG_COLUMNS:
        return _compare(f"{alias}.{TAG_COLUMNS[c.key]}", c, params)
    if c.key_type == "metadata" and c.key in METADATA_COLUMNS:
        return _compare(f"{alias}.{METADATA_COLUMNS[c.key]}", c, params)
    if c.key_type == "tag":
        return _key_value_clause("trace_tags", "trace_id", f"{alias}.trace_id", c, params)
    if c.key_type == "metadata":
        return _metadata_clause(alias, c, params)
    if c.key_type == "span":
        inner = _compare(f"s.{_SPAN_COLUMNS[c.key]}", c, params)
        return f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = {alias}.trace_id AND {inner})"
    if c.key_type == "span_attribute":
        path_params: list[object] = [c.key]
        numeric = isinstance(c.value, (int, float)) or c.op in _ORDERING_OPS
        raw = "json_extract(s.content, '$.attributes.\"' || ? || '\"')"
        expr = raw if numeric else f"CAST({raw} AS TEXT)"
        inner = _compare(expr, c, path_params, numeric)
        params.extend(path_params)
        return f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = {alias}.trace_id AND {inner})"
    return _assessment_clause(alias, c, params)


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key: an SQL expression, its direction, and whether it can be NULL (SQLite sorts NULL first)."""

    expr: str
    descending: bool
    nullable: bool


def order_sql(keys: list[SortKey]) -> str:
    return ", ".join(f"{k.expr} {'DESC' if k.descending else 'ASC'}" for k in keys)


# Ascending, a NULL of these columns sorts as this (after every real value) rather than first:
# traces without a cost come last whichever way costs are sorted (descending, NULL is last anyway).
_NULLS_LAST_VALUE = "1e308"


def order_keys(order_by: list[str] | None, columns: dict[str, str], not_null: frozenset[str], alias: str,
                default: list[tuple[str, bool]], tiebreak: str,
                nulls_last: frozenset[str] = frozenset()) -> list[SortKey]:
    """The sort keys of ``order_by`` (``default`` when empty), always ending with the unique ``tiebreak`` column.

    A column in ``nulls_last`` sorts its NULLs last in both directions.
    """
    if not order_by:
        return [SortKey(f"{alias}.{column}", descending, column not in not_null) for column, descending in default]
    if isinstance(order_by, str) or not all(isinstance(clause, str) for clause in order_by):
        raise InvalidArgumentError(f"order_by must be a list of str such as ['timestamp_ms DESC'], got {order_by!r}")
    keys: list[SortKey] = []
    seen: set[str] = set()
    for clause in order_by:
        words = clause.split()
        if not words or len(words) > 2:
            raise InvalidFilterError(clause, 0, "'<field> [ASC|DESC]'", clause or None)
        field = words[0].strip("`")
        for prefix in ("attributes.", "attribute.", "trace."):
            field = field.removeprefix(prefix)
        if field not in columns:
            raise InvalidFilterError(clause, 0, "one of " + ", ".join(sorted(columns)), words[0])
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise InvalidFilterError(clause, len(words[0]) + 1, "ASC or DESC", words[1])
        column = columns[field]
        if column not in seen:  # a repeated field cannot change the order
            seen.add(column)
            if column in nulls_last and direction == "ASC":
                keys.append(SortKey(f"COALESCE({alias}.{column}, {_NULLS_LAST_VALUE})", False, False))
            else:
                keys.append(SortKey(f"{alias}.{column}", direction == "DESC", column not in not_null))
    return [*keys, SortKey(f"{alias}.{tiebreak}", False, False)]


_TRACE_ORDER_COLUMNS = {**_TRACE_NUMERIC_COLUMNS, **_TRACE_STRING_COLUMNS}
_TRACE_NOT_NULL = frozenset(("trace_id", "experiment_id", "request_time", "state"))


def trace_order_keys(order_by: list[str] | None, alias: str = "t") -> list[SortKey]:
    """Sort keys of a trace search, newest first by default; the trace id is always the last key."""
    return order_keys(order_by, _TRACE_ORDER_COLUMNS, _TRACE_NOT_NULL, alias,
                       [("request_time", True), ("trace_id", True)], "trace_id", frozenset(("cost",)))


def compile_trace_order_by(order_by: list[str] | None, alias: str = "t") -> str:
    """ORDER BY text for traces; the trace id is always the last key, so pages are stable."""
    return order_sql(trace_order_keys(order_by, alias))


# -- logged models and runs: attributes, tags.<k>, params.<k>, metrics.<k> ----------------------------
@dataclass(frozen=True)
class EntityFields:
    """What a filter over logged models or runs may name: its table's columns and its key/value tables."""

    what: str  # "model", "run": for error messages
    id_column: str
    string_columns: dict[str, str]
    numeric_columns: dict[str, str]
    tables: dict[str, str]  # "tag" | "param" | "metric" -> table name
    default_order: tuple[tuple[str, bool], ...]


MODEL_FIELDS = EntityFields(
    "model", "model_id",
    {"name": "name", "model_id": "model_id", "model_type": "model_type", "status": "status",
     "source_run_id": "source_run_id", "experiment_id": "experiment_id"},
    {"creation_timestamp": "creation_timestamp", "creation_time": "creation_timestamp",
     "last_updated_timestamp": "last_updated_timestamp"},
    {"tag": "logged_model_tags", "param": "logged_model_params", "metric": "logged_model_metrics"},
    (("creation_timestamp", True), ("model_id", True)))
RUN_FIELDS = EntityFields(
    "run", "run_id",
    {"run_name": "name", "name": "name", "run_id": "run_id", "status": "status", "experiment_id": "experiment_id",
     "model_id": "model_id", "dataset_name": "dataset_name", "dataset_digest": "dataset_digest"},
    {"start_time": "start_time", "end_time": "end_time", "dataset_version": "dataset_version"},
    {"tag": "run_tags", "param": "run_params", "metric": "run_metrics"},
    (("start_time", True), ("run_id", True)))
_ENTITY_PREFIXES = {"tags": "tag", "tag": "tag", "params": "param", "param": "param", "metrics": "metric",
                    "metric": "metric", "attributes": "attribute", "attribute": "attribute"}


def compile_entity_filter(filter_string: str | None, fields: EntityFields, alias: str) -> tuple[str, list[object]]:
    """SQL boolean expression over the entity's table ``AS <alias>`` and its bound parameters."""
    if filter_string is None or _is_blank(filter_string):
        return "1=1", []
    params: list[object] = []
    parts = []
    for prefix, key, op, value, pos in Parser(filter_string).parse():
        key_type = "attribute" if prefix is None else _ENTITY_PREFIXES.get(prefix.lower(), "")
        if not key_type or (key_type == "attribute" and key not in fields.string_columns
                            and key not in fields.numeric_columns):
            raise InvalidFilterError(filter_string, pos, f"a {fields.what} field: tags.<key>, params.<key>, "
                                     "metrics.<key>, or one of " + ", ".join(sorted({*fields.string_columns,
                                                                                    *fields.numeric_columns})),
                                     prefix or key)
        c = Comparison(key_type, key, op, value, pos)
        numeric = key_type == "metric" or (key_type == "attribute" and key in fields.numeric_columns)
        # Checked as a metric (numbers) or as a param (strings): the rules of those two kinds.
        _check_ops(filter_string, Comparison("metric" if numeric else "param", key, op, value, pos))
        if key_type == "attribute":
            column = fields.numeric_columns.get(key) or fields.string_columns[key]
            parts.append(_compare(f"{alias}.{column}", c, params, numeric))
        else:
            parts.append(_key_value_clause(fields.tables[key_type], fields.id_column, f"{alias}.{fields.id_column}",
                                           c, params, numeric))
        _check_size(filter_string, c, params)
    return all_of(parts), params
