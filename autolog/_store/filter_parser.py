"""MLflow filter strings → ``(prefix, key, op, value, position)`` clauses (the compilers are ``filter_sql``).

The grammar (the same as ``mlflow.search_traces``)::

    filter     := clause ( AND clause )*
    clause     := key op value | key IS [NOT] NULL | key [NOT] IN '(' value ( ',' value )* ')'
    key        := [ prefix '.' ] ( ident | `backticked` | "quoted" )   (prefix: ident or `backticked`)
    op         := = | != | <> | < | <= | > | >= | LIKE | ILIKE | RLIKE   (RLIKE: a Python regular expression)
    value      := 'string' | "string" | number

The parser checks the grammar only; which keys and operators a search accepts, and the
SQL they become, is ``filter_sql``'s business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from autolog._errors import InvalidFilterError

__all__ = ["NUMERIC_OPS", "STRING_OPS", "Comparison", "Parser"]

STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "RLIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<key>(?:`[^`]+`\.)?(?:[A-Za-z_][A-Za-z0-9_.\-:/]*(?:`[^`]*`|(?<=\.)"[^"]*")?|`[^`]*`))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<quote>['"])
""", re.VERBOSE)
_OPERATORS = "an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, RLIKE, IN, NOT IN, IS NULL, IS NOT NULL)"
_KEYWORDS = {"AND", "OR", "LIKE", "ILIKE", "RLIKE", "IN", "NOT", "IS", "NULL"}


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


# Integers SQLite can bind; a longer literal is compared as a float (Python's int() also
# refuses literals of more than 4,300 digits).
_MAX_INT_DIGITS = 18


def _number(word: str) -> int | float:
    if any(c in word for c in ".eE") or len(word.lstrip("-")) > _MAX_INT_DIGITS:
        return float(word)
    return int(word)


def _tokenize(text: str) -> list[_Token]:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which SQLite cannot store or compare
        raise InvalidFilterError(text, exc.start, "text without lone surrogates (valid Unicode)",
                                 text[exc.start]) from None
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
            tokens.append(_Token("number", word, _number(word), pos))
        elif kind == "op":
            tokens.append(_Token("op", word, "!=" if word == "<>" else word, pos))
        else:
            tokens.append(_Token(kind, word, word, pos))
        pos = m.end()
    return tokens


def _split_key(token: _Token, text: str) -> tuple[str | None, str]:
    """``tags.env``, ``tags.`k.1```, ``tags."k.1"``, ```tags`.env`` → (prefix, key); a bare ```k``` has no prefix."""
    raw = token.text
    prefix: str | None = None
    if raw.startswith("`") and "`." in raw[1:]:  # a backticked prefix: `tags`.env
        close = raw.index("`", 1)
        prefix, raw = raw[1:close], raw[close + 2:]
    quote_at = min((i for i in (raw.find("`"), raw.find('"')) if i >= 0), default=-1)
    if quote_at == 0:
        return prefix, raw[1:-1]
    if quote_at > 0:
        head, quoted = raw[:quote_at], raw[quote_at + 1:-1]
        if not head.endswith("."):
            raise InvalidFilterError(text, token.position + len(head), "'.' before a quoted key", raw[quote_at])
        if prefix is not None:
            return prefix, head + quoted
        first, _, middle = head.partition(".")  # "span.attributes.`k`" → ("span", "attributes.k")
        return first, middle + quoted
    if prefix is not None:
        return prefix, raw
    if "." in raw:
        first, _, rest = raw.partition(".")
        if not rest:
            raise InvalidFilterError(text, token.position + len(raw), "a key name after the '.'")
        return first, rest
    return None, raw


class Parser:
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
        if tok is None or tok.kind != "key":
            raise self.fail("a key such as tags.<name>, metadata.<name>, status or span.name")
        self.i += 1
        prefix, key = _split_key(tok, self.text)
        op_tok = self.peek()
        if op_tok is None:
            raise self.fail(_OPERATORS)
        if op_tok.kind == "op":
            self.i += 1
            return prefix, key, op_tok.value, self.value(), tok.position
        if op_tok.kind == "keyword" and op_tok.value in ("LIKE", "ILIKE", "RLIKE"):
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
        raise self.fail(_OPERATORS)
