"""MLflow filter strings → parameterised SQL, for traces and for LoggedModels.

The parser (``filter_parser``) produces clauses; here they become ``Comparison`` nodes
checked against the searchable fields, then SQL where every value and every user-given
key is a bound parameter. Column names come only from the whitelists below, so no filter
can change the shape of the query.
"""

from __future__ import annotations

from typing import Any

from autolog._errors import InvalidFilterError
from autolog._store.filter_parser import NUMERIC_OPS, STRING_OPS, Comparison, Parser
from autolog._store.records import METADATA_COLUMNS, TAG_COLUMNS

__all__ = ["compile_logged_model_filter", "compile_logged_model_order_by", "compile_trace_filter",
           "compile_trace_order_by", "parse_filter"]

# -- traces -------------------------------------------------------------------------------------------
_TRACE_STRING_COLUMNS = {"status": "state", "state": "state", "name": "name", "trace_id": "trace_id",
                         "request_id": "trace_id", "run_id": "run_id", "client_request_id": "client_request_id",
                         "model_id": "model_id", "experiment_id": "experiment_id"}
_TRACE_NUMERIC_COLUMNS = {"timestamp_ms": "request_time", "timestamp": "request_time", "request_time": "request_time",
                          "execution_time_ms": "execution_duration", "execution_duration": "execution_duration"}
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


def _check_ops(text: str, c: Comparison) -> None:
    if _is_numeric(c):
        if c.op not in NUMERIC_OPS:
            raise InvalidFilterError(text, c.position, f"a numeric operator ({', '.join(NUMERIC_OPS)}) for "
                                     f"{c.key}", c.op)
        if not isinstance(c.value, (int, float)):
            try:
                float(c.value)
            except (TypeError, ValueError):
                raise InvalidFilterError(text, c.position, f"a number to compare {c.key} with", repr(c.value)) from None
    elif c.key_type in ("tag", "metadata", "attribute", "span", "param") and c.op not in STRING_OPS:
        raise InvalidFilterError(text, c.position, f"a string operator ({', '.join(STRING_OPS)}) for {c.key}", c.op)


def parse_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a trace filter string into AND-joined comparisons. None or blank → []."""
    if filter_string is None or not filter_string.strip():
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
    base = f"EXISTS (SELECT 1 FROM assessments a WHERE a.trace_id = {alias}.trace_id AND a.kind = ? AND a.name = ?"
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
        if c.key_type == "attribute":
            if c.key in _TRACE_NUMERIC_COLUMNS:
                parts.append(_compare(f"{alias}.{_TRACE_NUMERIC_COLUMNS[c.key]}", c, params, numeric=True))
            else:
                parts.append(_compare(f"{alias}.{_TRACE_STRING_COLUMNS[c.key]}", c, params))
        elif c.key_type == "tag" and c.key in TAG_COLUMNS:
            parts.append(_compare(f"{alias}.{TAG_COLUMNS[c.key]}", c, params))
        elif c.key_type == "metadata" and c.key in METADATA_COLUMNS:
            parts.append(_compare(f"{alias}.{METADATA_COLUMNS[c.key]}", c, params))
        elif c.key_type == "tag":
            parts.append(_key_value_clause("trace_tags", "trace_id", f"{alias}.trace_id", c, params))
        elif c.key_type == "metadata":
            parts.append(_metadata_clause(alias, c, params))
        elif c.key_type == "span":
            inner = _compare(f"s.{_SPAN_COLUMNS[c.key]}", c, params)
            parts.append(f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = {alias}.trace_id AND {inner})")
        elif c.key_type == "span_attribute":
            path_params: list[object] = [c.key]
            numeric = isinstance(c.value, (int, float)) or c.op in ("<", "<=", ">", ">=")
            raw = "json_extract(s.content, '$.attributes.\"' || ? || '\"')"
            expr = raw if numeric else f"CAST({raw} AS TEXT)"
            inner = _compare(expr, c, path_params, numeric)
            params.extend(path_params)
            parts.append(f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = {alias}.trace_id AND {inner})")
        else:
            parts.append(_assessment_clause(alias, c, params))
    return (" AND ".join(parts) or "1=1"), params


def _order_by(order_by: list[str] | None, columns: dict[str, str], alias: str, default: str, tiebreak: str) -> str:
    if not order_by:
        return default
    parts = []
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
        parts.append(f"{alias}.{columns[field]} {direction}")
    return ", ".join([*parts, f"{alias}.{tiebreak}"])


_TRACE_ORDER_COLUMNS = {**_TRACE_NUMERIC_COLUMNS, **_TRACE_STRING_COLUMNS}


def compile_trace_order_by(order_by: list[str] | None, alias: str = "t") -> str:
    """ORDER BY text for traces; the trace id is always the last key, so pages are stable."""
    return _order_by(order_by, _TRACE_ORDER_COLUMNS, alias, f"{alias}.request_time DESC, {alias}.trace_id DESC",
                     "trace_id")


# -- logged models ------------------------------------------------------------------------------------
_MODEL_STRING_COLUMNS = {"name": "name", "model_id": "model_id", "model_type": "model_type", "status": "status",
                         "source_run_id": "source_run_id", "experiment_id": "experiment_id"}
_MODEL_NUMERIC_COLUMNS = {"creation_timestamp": "creation_timestamp", "creation_time": "creation_timestamp",
                          "last_updated_timestamp": "last_updated_timestamp"}
_MODEL_PREFIXES = {"tags": "tag", "tag": "tag", "params": "param", "param": "param", "metrics": "metric",
                   "metric": "metric", "attributes": "attribute", "attribute": "attribute"}


def compile_logged_model_filter(filter_string: str | None, alias: str = "m") -> tuple[str, list[object]]:
    """SQL boolean expression over ``logged_models AS <alias>`` and its bound parameters."""
    if filter_string is None or not filter_string.strip():
        return "1=1", []
    params: list[object] = []
    parts = []
    for prefix, key, op, value, pos in Parser(filter_string).parse():
        key_type = "attribute" if prefix is None else _MODEL_PREFIXES.get(prefix.lower(), "")
        if not key_type or (key_type == "attribute" and key not in _MODEL_STRING_COLUMNS
                            and key not in _MODEL_NUMERIC_COLUMNS):
            raise InvalidFilterError(filter_string, pos, "a model field: tags.<key>, params.<key>, metrics.<key>, "
                                     "or one of " + ", ".join(sorted({*_MODEL_STRING_COLUMNS,
                                                                     *_MODEL_NUMERIC_COLUMNS})), prefix or key)
        c = Comparison(key_type, key, op, value, pos)
        numeric = key_type == "metric" or (key_type == "attribute" and key in _MODEL_NUMERIC_COLUMNS)
        if numeric:
            _check_ops(filter_string, Comparison("metric", key, op, value, pos))
        elif op not in STRING_OPS:
            raise InvalidFilterError(filter_string, pos, f"a string operator ({', '.join(STRING_OPS)})", op)
        if key_type == "attribute":
            column = _MODEL_NUMERIC_COLUMNS.get(key) or _MODEL_STRING_COLUMNS[key]
            parts.append(_compare(f"{alias}.{column}", c, params, numeric))
        else:
            table = {"tag": "logged_model_tags", "param": "logged_model_params", "metric": "logged_model_metrics"}
            parts.append(_key_value_clause(table[key_type], "model_id", f"{alias}.model_id", c, params, numeric))
    return " AND ".join(parts), params


def compile_logged_model_order_by(order_by: list[str] | None, alias: str = "m") -> str:
    columns = {**_MODEL_NUMERIC_COLUMNS, **_MODEL_STRING_COLUMNS}
    return _order_by(order_by, columns, alias, f"{alias}.creation_timestamp DESC, {alias}.model_id DESC",
                     "model_id")
