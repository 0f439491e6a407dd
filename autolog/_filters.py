"""MLflow filter strings → AST → parameterised SQL.

The grammar (the same as ``mlflow.search_traces``)::

    filter     := clause ( AND clause )*
    clause     := key op value | key IS [NOT] NULL | key [NOT] IN '(' value ( ',' value )* ')'
    key        := ident | prefix '.' ( ident | `backticked` )
    op         := = | != | <> | < | <= | > | >= | LIKE | ILIKE
    value      := 'string' | "string" | number

The parser produces ``Comparison`` nodes; the compilers turn them into SQL where every
value and every user-given key is a bound parameter. Column names come only from the
whitelists below, so no filter can change the shape of the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from autolog._errors import InvalidFilterError
from autolog._store._codec import METADATA_COLUMNS, TAG_COLUMNS

__all__ = ["Comparison", "compile_logged_model_filter", "compile_logged_model_order_by", "compile_trace_filter",
           "compile_trace_order_by", "parse_filter"]

_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<key>[A-Za-z_][A-Za-z0-9_.\-:/]*(?:`[^`]*`)?)
  | (?P<bkey>`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<quote>['"])
""", re.VERBOSE)
_KEYWORDS = {"AND", "OR", "LIKE", "ILIKE", "IN", "NOT", "IS", "NULL"}


@dataclass(frozen=True)
class Comparison:
    """One ``key op value`` clause. ``key_type`` is the prefix family, ``key`` the rest."""

    key_type: str
    key: str
    op: str
    value: Any
    position: int


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    value: Any
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise InvalidFilterError(text, pos, "a key, an operator, a quoted string or a number", text[pos])
        kind = m.lastgroup or ""
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "quote":
            quote = m.group()
            chars: list[str] = []
            i = m.end()
            while True:
                if i >= len(text):
                    raise InvalidFilterError(text, pos, f"a closing {quote} for the string started here")
                if text[i] == quote:
                    if i + 1 < len(text) and text[i + 1] == quote:  # doubled quote = escaped quote
                        chars.append(quote)
                        i += 2
                        continue
                    break
                chars.append(text[i])
                i += 1
            tokens.append(_Token("string", text[pos:i + 1], "".join(chars), pos))
            pos = i + 1
            continue
        word = m.group()
        if kind == "key" and word.upper() in _KEYWORDS:
            tokens.append(_Token("keyword", word, word.upper(), pos))
        elif kind == "number":
            tokens.append(_Token("number", word, float(word) if any(c in word for c in ".eE") else int(word), pos))
        elif kind == "op":
            tokens.append(_Token("op", word, "!=" if word == "<>" else word, pos))
        else:
            tokens.append(_Token(kind, word, word, pos))
        pos = m.end()
    return tokens


def _split_key(token: _Token, text: str) -> tuple[str | None, str]:
    raw = token.text
    if token.kind == "bkey":
        return None, raw[1:-1]
    if "`" in raw:
        head, _, quoted = raw.partition("`")
        if not head.endswith("."):
            raise InvalidFilterError(text, token.position + len(head), "'.' before a backticked key", "`")
        prefix, _, middle = head.partition(".")  # "span.attributes.`k`" → ("span", "attributes.k")
        return prefix, middle + quoted[:-1]
    if "." in raw:
        prefix, _, rest = raw.partition(".")
        if not rest:
            raise InvalidFilterError(text, token.position + len(raw), "a key name after the '.'")
        return prefix, rest
    return None, raw


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def fail(self, expected: str) -> InvalidFilterError:
        tok = self.peek()
        if tok is None:
            return InvalidFilterError(self.text, len(self.text), expected)
        return InvalidFilterError(self.text, tok.position, expected, tok.text)

    def next(self) -> _Token | None:
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self) -> list[tuple[str | None, str, str, Any, int]]:
        clauses = [self.clause()]
        while self.peek() is not None:
            tok = self.peek()
            assert tok is not None
            if tok.kind == "keyword" and tok.value == "AND":
                self.i += 1
                clauses.append(self.clause())
            elif tok.kind == "keyword" and tok.value == "OR":
                raise self.fail("AND (OR is not supported: run one search per alternative)")
            else:
                raise self.fail("AND or the end of the filter")
        return clauses

    def value(self) -> Any:
        tok = self.next()
        if tok is None or tok.kind not in ("string", "number"):
            self.i -= 1
            raise self.fail("a quoted string or number")
        return tok.value

    def clause(self) -> tuple[str | None, str, str, Any, int]:
        tok = self.peek()
        if tok is None or tok.kind not in ("key", "bkey"):
            raise self.fail("a key such as tags.<name>, metadata.<name>, status or span.name")
        self.i += 1
        prefix, key = _split_key(tok, self.text)
        op_tok = self.peek()
        if op_tok is None:
            raise self.fail("an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL)")
        if op_tok.kind == "op":
            self.i += 1
            return prefix, key, op_tok.value, self.value(), tok.position
        if op_tok.kind == "keyword" and op_tok.value in ("LIKE", "ILIKE"):
            self.i += 1
            value = self.value()
            if not isinstance(value, str):
                self.i -= 1
                raise self.fail(f"a quoted pattern after {op_tok.value}")
            return prefix, key, op_tok.value, value, tok.position
        if op_tok.kind == "keyword" and op_tok.value == "IS":
            self.i += 1
            negate = self.peek() is not None and self.peek().value == "NOT"  # type: ignore[union-attr]
            if negate:
                self.i += 1
            null = self.next()
            if null is None or null.value != "NULL":
                self.i -= 1
                raise self.fail("NULL after IS" + (" NOT" if negate else ""))
            return prefix, key, "IS NOT NULL" if negate else "IS NULL", None, tok.position
        if op_tok.kind == "keyword" and op_tok.value in ("IN", "NOT"):
            self.i += 1
            op = "IN"
            if op_tok.value == "NOT":
                nxt = self.next()
                if nxt is None or nxt.value != "IN":
                    self.i -= 1
                    raise self.fail("IN after NOT")
                op = "NOT IN"
            if (paren := self.next()) is None or paren.kind != "lparen":
                self.i -= 1
                raise self.fail(f"'(' after {op}")
            values = [self.value()]
            while True:
                sep = self.next()
                if sep is not None and sep.kind == "comma":
                    values.append(self.value())
                elif sep is not None and sep.kind == "rparen":
                    break
                else:
                    self.i -= 1
                    raise self.fail("',' or ')' in the value list")
            return prefix, key, op, tuple(values), tok.position
        raise self.fail("an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL)")


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
        if c.op not in _NUMERIC_OPS:
            raise InvalidFilterError(text, c.position, f"a numeric operator ({', '.join(_NUMERIC_OPS)}) for "
                                     f"{c.key}", c.op)
        if not isinstance(c.value, (int, float)):
            try:
                float(c.value)
            except (TypeError, ValueError):
                raise InvalidFilterError(text, c.position, f"a number to compare {c.key} with", repr(c.value)) from None
    elif c.key_type in ("tag", "metadata", "attribute", "span", "param") and c.op not in _STRING_OPS:
        raise InvalidFilterError(text, c.position, f"a string operator ({', '.join(_STRING_OPS)}) for {c.key}", c.op)


def parse_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a trace filter string into AND-joined comparisons. None or blank → []."""
    if filter_string is None or not filter_string.strip():
        return []
    out = []
    for prefix, key, op, value, pos in _Parser(filter_string).parse():
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
    for prefix, key, op, value, pos in _Parser(filter_string).parse():
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
        elif op not in _STRING_OPS:
            raise InvalidFilterError(filter_string, pos, f"a string operator ({', '.join(_STRING_OPS)})", op)
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
