"""MLflow filter strings → parameterised SQL: the pieces every search shares, and LoggedModel and run filters.

The parser (``filter_parser``) produces clauses; here they become ``Comparison`` nodes
checked against the searchable fields, then SQL where every value and every user-given
key is a bound parameter. Column names come only from whitelists, so no filter can change
the shape of the query. Trace filters, which have more fields, are ``trace_filter``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from autolog._errors import InvalidArgumentError, InvalidFilterError
from autolog._store.dialect import SQLITE, Dialect, glob_pattern
from autolog._store.filter_parser import NUMERIC_OPS, STRING_OPS, Comparison, Parser

__all__ = [
    "MAX_FILTER_VALUES",
    "MODEL_FIELDS",
    "RUN_FIELDS",
    "EntityFields",
    "SortKey",
    "all_of",
    "check_ops",
    "check_size",
    "compare",
    "compile_entity_filter",
    "is_blank",
    "key_value_clause",
    "key_value_rows",
    "order_keys",
    "order_sql",
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

# -- shared by the trace and entity compilers ----------------------------------------------------------
_ORDERING_OPS = ("<", "<=", ">", ">=")


def _check_number(text: str, c: Comparison) -> None:
    if isinstance(c.value, (int, float)):
        return
    try:
        float(c.value)
    except (TypeError, ValueError):
        raise InvalidFilterError(text, c.position, f"a number to compare {c.key} with ({c.op} compares numbers)",
                                 repr(c.value)) from None

def check_size(text: str, c: Comparison, params: list[object]) -> None:
    if len(params) > MAX_FILTER_VALUES:
        raise InvalidFilterError(text, c.position, f"a filter of at most {MAX_FILTER_VALUES:,} values (keys and "
                                 "values of all its clauses together); split the search", "more")

def is_blank(filter_string: str | None) -> bool:
    if filter_string is not None and not isinstance(filter_string, str):
        raise InvalidArgumentError(f"filter_string must be a str such as \"tags.env = 'prod'\", got "
                                   f"{type(filter_string).__name__} {filter_string!r}")
    return filter_string is None or not filter_string.strip()

def compare(expr: str, c: Comparison, params: list[object], numeric: bool = False, d: Dialect = SQLITE) -> str:
    """SQL comparing ``expr`` with the comparison's value in dialect ``d``; appends the bound values to ``params``."""
    op = c.op
    if op in ("IN", "NOT IN"):
        params.extend(float(v) if numeric else str(v) for v in c.value)
        return f"{expr} {op} ({','.join('?' * len(c.value))})"
    if op == "IS NULL":
        return f"{expr} IS NULL"
    if op == "IS NOT NULL":
        return f"{expr} IS NOT NULL"
    if op == "LIKE":
        params.append(d.like_param(str(c.value)))
        return d.like(expr)
    if op == "ILIKE":
        params.append(str(c.value))
        return d.ilike(expr)
    if op == "RLIKE":
        params.append(str(c.value))
        return d.regexp(expr)
    params.append(float(c.value) if numeric else str(c.value))
    return f"{expr} {op} ?"

def key_value_rows(table: str, column: str, c: Comparison, d: Dialect = SQLITE,
                   numeric: bool = False) -> tuple[str, list[object]]:
    """``SELECT <column> FROM <table>`` of the key/value rows matching ``c`` (any operator but IS NULL) and
    its parameters: a search's semi-join on the (key, value) index, and what a store counts (``many``)."""
    params: list[object] = [c.key]
    value = "" if c.op == "IS NOT NULL" else f" AND {compare('value', c, params, numeric, d)}"
    return f"SELECT {column} FROM {table} WHERE key = ?{value}", params


def key_value_clause(table: str, id_column: str, outer: str, c: Comparison, params: list[object],
                     numeric: bool = False, d: Dialect = SQLITE, per_row: bool = False) -> str:
    """``outer`` has a row of ``table`` (key/value rows by ``id_column``) matching ``c``.

    By default a semi-join on the (key, value) index: the matching ids are collected once, the best plan
    when they are few. ``per_row``: a correlated EXISTS on the table's (id, key) key instead, so that a
    search ordered by an index walks it and stops at its page, the best plan when most rows match
    (``trace_filter``'s ``many`` tells which)."""
    if c.op == "IS NULL":
        params.append(c.key)
        return f"{outer} NOT IN (SELECT {id_column} FROM {table} WHERE key = ?)"
    if per_row:
        params.append(c.key)
        value = "" if c.op == "IS NOT NULL" else f" AND {compare('kv.value', c, params, numeric, d)}"
        return f"EXISTS (SELECT 1 FROM {table} kv WHERE kv.{id_column} = {outer} AND kv.key = ?{value}{d.per_row})"
    rows, row_params = key_value_rows(table, id_column, c, d, numeric)
    params.extend(row_params)
    return f"{outer} IN ({rows})"


def check_ops(text: str, c: Comparison, *, numeric: bool, nullable: bool = False, json_value: bool = False) -> None:
    """Refuse an operator the field's kind has no meaning for, a non-number compared by a numeric operator,
    a LIKE pattern SQLite cannot take and an RLIKE pattern that is not a regular expression.

    ``numeric``: a number column (``nullable``: one that may be NULL); ``json_value``: a JSON value
    (a span attribute, an assessment), compared as a number by <, <=, >, >= and as text otherwise.
    """
    if numeric and c.op in ("IS NULL", "IS NOT NULL"):
        if not nullable:
            raise InvalidFilterError(text, c.position, f"a numeric operator ({', '.join(NUMERIC_OPS)}) for "
                                     f"{c.key}, which is never NULL", c.op)
    elif numeric:
        if c.op not in NUMERIC_OPS:
            ops = ", ".join(NUMERIC_OPS) + (", IS NULL, IS NOT NULL" if nullable else "")
            raise InvalidFilterError(text, c.position, f"a numeric operator ({ops}) for {c.key}", c.op)
        _check_number(text, c)
    elif json_value:
        if c.op in _ORDERING_OPS:
            _check_number(text, c)
    elif c.op not in STRING_OPS:
        raise InvalidFilterError(text, c.position, f"a string operator ({', '.join(STRING_OPS)}) for {c.key}", c.op)
    if c.op in ("LIKE", "ILIKE") and len(glob_pattern(str(c.value))) > _MAX_PATTERN_CHARS:
        raise InvalidFilterError(text, c.position, f"a {c.op} pattern of at most {_MAX_PATTERN_CHARS:,} characters",
                                 f"{len(str(c.value)):,} characters")
    if c.op == "RLIKE":
        try:
            re.compile(str(c.value))
        except re.error as exc:
            raise InvalidFilterError(text, c.position, f"a regular expression after RLIKE ({exc})",
                                     repr(c.value)) from None


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key: an SQL expression, its direction, and whether it can be NULL (SQLite sorts NULL first)."""

    expr: str
    descending: bool
    nullable: bool


def order_sql(keys: list[SortKey], d: Dialect = SQLITE) -> str:
    return ", ".join(d.order_term(k.expr, k.descending) for k in keys)


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
            raise InvalidFilterError(clause, 0, "'<field> [ASC|DESC]'", clause or None, what="order_by")
        field = words[0].strip("`")
        for prefix in ("attributes.", "attribute.", "trace."):
            field = field.removeprefix(prefix)
        if field not in columns:
            raise InvalidFilterError(clause, 0, "one of " + ", ".join(sorted(columns)), words[0], what="order_by")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise InvalidFilterError(clause, len(words[0]) + 1, "ASC or DESC", words[1], what="order_by")
        column = columns[field]
        if column not in seen:  # a repeated field cannot change the order
            seen.add(column)
            if column in nulls_last and direction == "ASC":
                keys.append(SortKey(f"COALESCE({alias}.{column}, {_NULLS_LAST_VALUE})", False, False))
            else:
                keys.append(SortKey(f"{alias}.{column}", direction == "DESC", column not in not_null))
    return [*keys, SortKey(f"{alias}.{tiebreak}", False, False)]


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


def compile_entity_filter(filter_string: str | None, fields: EntityFields, alias: str,
                          d: Dialect = SQLITE) -> tuple[str, list[object]]:
    """SQL boolean expression over the entity's table ``AS <alias>`` and its bound parameters."""
    if filter_string is None or is_blank(filter_string):
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
        check_ops(filter_string, c, numeric=numeric)
        if key_type == "attribute":
            column = fields.numeric_columns.get(key) or fields.string_columns[key]
            parts.append(compare(f"{alias}.{column}", c, params, numeric, d))
        else:
            parts.append(key_value_clause(fields.tables[key_type], fields.id_column, f"{alias}.{fields.id_column}",
                                           c, params, numeric, d))
        check_size(filter_string, c, params)
    return all_of(parts), params
