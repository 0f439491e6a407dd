"""The two SQL dialects of the store: SQLite's and PostgreSQL's, as the few fragments that differ.

The store's SQL is written once, in SQLite's syntax where the two agree and neutral SQL where
they need not differ (``SUM(CASE WHEN ...)`` rather than SQLite's ``SUM(<boolean>)``). What has no
common spelling is asked of a ``Dialect`` by the SQL builders: LIKE (case-sensitive, as MLflow's),
ILIKE, RLIKE, JSON access, NULL ordering and integer casts. The schema is one definition too
(``schema.MIGRATIONS``, in SQLite's syntax): ``Dialect.ddl`` renders each statement for its database.

What is purely lexical is translated statement by statement (``PostgresDialect.translate``, cached
per statement text): ``?`` placeholders to PostgreSQL's own ``$1, $2...`` (sent by psycopg's
``RawCursor`` without parsing the text again: a 512-row INSERT is too long for psycopg's own cache
of parsed queries, and parsing it was 70 % of a batch write), ``IS ?`` to ``IS NOT DISTINCT FROM``,
and ``INSERT OR REPLACE`` / ``OR IGNORE`` to ``INSERT ... ON CONFLICT (<primary key>) DO UPDATE`` /
``DO NOTHING``, the primary keys and columns read off the same schema definition.

JSON stays TEXT in both (every JSON column is written by the store as ``json.dumps`` text); PostgreSQL
casts it to ``jsonb`` where a query looks inside, and ``autolog_jsonb`` (a function the PostgreSQL
schema defines) gives NULL for text that is not JSON, as SQLite's ``json_valid`` guards do.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = ["POSTGRES_FUNCTIONS", "SQLITE", "Dialect", "PostgresDialect", "SessionSource", "SqliteDialect",
           "TableLayout", "glob_pattern", "table_layout"]


class SessionSource(Protocol):
    """What the store's SQL builders and table mixins need of a store's connections (SQLite's or PostgreSQL's)."""

    @property
    def dialect(self) -> Dialect: ...

    def session(self, action: str, write: bool = False) -> AbstractContextManager[Any]: ...


def glob_pattern(like: str) -> str:
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


def _sqlite_path(path: Sequence[str | None]) -> str:
    """A JSON path as SQLite's path text: each key quoted; a None key is a bound parameter (``?``)."""
    out = ["'$"]
    for key in path:
        out.append(".\"' || ? || '\"" if key is None else f'."{key}"')
    return "".join(out) + "'"


class Dialect:
    """SQLite's fragments; ``PostgresDialect`` overrides those that differ."""

    name = "sqlite"
    # The end of a correlated EXISTS that must stay one lookup per outer row (trace_filter's ``many``).
    per_row = ""

    def by_index(self, index: str) -> str:
        """After a table in FROM: read it through ``index``. For a per-row lookup by id where another index
        matches more of the WHERE's columns: a SQLite store nobody has ANALYZEd (most of them) has no statistics,
        and its planner then prefers the index with more equal columns (``ix_assessments_value`` over
        ``ix_assessments_trace``), scanning every matching assessment once per trace (22 s instead of 3 ms for
        ``feedback.helpful = 'true'`` over 1,000,000 traces). PostgreSQL always has statistics: nothing."""
        return f" INDEXED BY {index}"
    # An estimate of a table's rows, cheap: SQLite's rowid grows with each row (deleted ones aside).
    rows_estimate = "SELECT MAX(rowid) FROM {table}"

    # -- statements ------------------------------------------------------------------------------------
    def translate(self, sql: str) -> str:
        """The statement as this database takes it (SQLite: as written)."""
        return sql

    def ddl(self, statement: str) -> str:
        """A statement of ``schema.MIGRATIONS`` rendered for this database (SQLite: as written)."""
        return statement

    # -- comparisons -----------------------------------------------------------------------------------
    def like(self, expr: str) -> str:
        """Case-sensitive LIKE (MLflow's) against one bound pattern, given by ``like_param``."""
        return f"{expr} GLOB ?"

    def like_param(self, pattern: str) -> str:
        return glob_pattern(pattern)

    def ilike(self, expr: str) -> str:
        return f"{expr} LIKE ?"  # SQLite's LIKE ignores ASCII case

    def regexp(self, expr: str) -> str:
        return f"{expr} REGEXP ?"  # the function every SQLite connection registers (sqlite_io): re.search

    # -- JSON (``doc`` is JSON text; a None key in ``path`` is one bound parameter) ------------------------
    def json_path_param(self, *keys: str) -> Any:
        """The bound value of a whole path given by ``json_value(doc, None)``."""
        return "$" + "".join('."' + k.replace('"', '\\"') + '"' for k in keys)

    def json_value(self, doc: str, path: Sequence[str | None] | None) -> str:
        """The value at ``path`` as SQLite gives it (a number, text, JSON text); None: the path is one bound value."""
        return f"json_extract({doc}, {'?' if path is None else _sqlite_path(path)})"

    def json_text(self, doc: str, path: Sequence[str | None]) -> str:
        """The value at ``path`` as text (a string unquoted)."""
        return f"CAST({self.json_value(doc, path)} AS TEXT)"

    def json_number(self, doc: str, path: Sequence[str | None]) -> str:
        return self.json_value(doc, path)

    def json_object(self, doc: str, path: Sequence[str]) -> str:
        """The value at ``path`` for Python to read: an object or array as JSON text, a number as itself."""
        return self.json_value(doc, path)

    def json_quoted(self, doc: str, path: Sequence[str]) -> str:
        """The value at ``path`` as JSON text (an object as itself, a string quoted)."""
        return f"json_quote({self.json_value(doc, path)})"

    def json_scalar_text(self, doc: str) -> str:
        """The whole document as text, MLflow's way: a JSON boolean 'true' / 'false', a string unquoted."""
        return (f"(CASE json_type({doc}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
                f" ELSE CAST(json_extract({doc}, '$') AS TEXT) END)")


    def json_is_number(self, doc: str) -> str:
        return f"(json_valid({doc}) AND json_type({doc}) IN ('integer', 'real'))"

    def json_array(self, doc: str, alias: str, path: Sequence[str] = ()) -> str:
        """A FROM item: the elements of the JSON array at ``path`` of ``doc`` (none if it is not one), as
        ``<alias>.value``; text that is not JSON has none."""
        if path:
            return f"json_each({doc}, {_sqlite_path(path)}) AS {alias}"
        return f"json_each(CASE WHEN json_valid({doc}) THEN {doc} ELSE '[]' END) AS {alias}"

    def json_array_length(self, doc: str, path: Sequence[str]) -> str:
        return f"json_array_length({doc}, {_sqlite_path(path)})"

    def element_text(self, value: str) -> str:
        """A scalar element of ``json_array`` (``<alias>.value``) as text."""
        return value  # json_each gives a string element as SQL text

    # -- ordering and casts ---------------------------------------------------------------------------
    def order_term(self, expr: str, descending: bool) -> str:
        """One ORDER BY term, NULL sorting first (SQLite's order; the page cursors assume it)."""
        return f"{expr} {'DESC' if descending else 'ASC'}"

    def int_of_text(self, expr: str) -> str:
        """A text column holding digits as an integer (for numeric ids' order)."""
        return f"CAST({expr} AS INTEGER)"


SqliteDialect = Dialect
SQLITE = Dialect()


# -- PostgreSQL --------------------------------------------------------------------------------------------
# Defined with the schema (and again by every migration: CREATE OR REPLACE). ``autolog_jsonb`` is
# PostgreSQL 15's stand-in for SQLite's json_valid (``IS JSON`` came in 16); ``autolog_num`` is a JSON
# number as a float, NULL for any other value (SQLite's json_extract gives numbers as numbers).
# autolog_jsonb is PARALLEL UNSAFE: its EXCEPTION block is a subtransaction, which a parallel worker may not
# start; marked safe, a big table's parallel plan failed ("cannot start subtransactions during a parallel
# operation") on feedback.<name> filters at 1,000,000 traces (bench_team.py).
POSTGRES_FUNCTIONS = (
    """CREATE OR REPLACE FUNCTION autolog_jsonb(doc text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL UNSAFE AS $$
    BEGIN
        RETURN doc::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION autolog_num(v jsonb) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE jsonb_typeof(v) WHEN 'number' THEN (v #>> '{}')::double precision END $$""",
)


class TableLayout:
    """A table's columns (in order) and primary key, as the schema definition creates them."""

    def __init__(self) -> None:
        self.columns: list[str] = []
        self.key: tuple[str, ...] = ()
        self.rowid = True  # SQLite gives every table a rowid unless WITHOUT ROWID


_CREATE_TABLE = re.compile(r"^\s*CREATE TABLE (\w+) \((.*)\)\s*(WITHOUT ROWID)?\s*$", re.S)
_ADD_COLUMN = re.compile(r"^\s*ALTER TABLE (\w+) ADD COLUMN (\w+)", re.S)
_TABLE_KEY = re.compile(r"PRIMARY KEY \(([^)]*)\)")


def _split_columns(body: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return [p.strip() for p in parts if p.strip()]


def table_layout(statements: Iterable[object]) -> dict[str, TableLayout]:
    """Every table's columns and primary key, read off the CREATE TABLE and ADD COLUMN statements given (other
    steps, such as ``schema.PerDialect`` indexes, are skipped)."""
    tables: dict[str, TableLayout] = {}
    for statement in statements:
        if not isinstance(statement, str):
            continue
        created = _CREATE_TABLE.match(statement)
        if created:
            layout = tables[created.group(1)] = TableLayout()
            layout.rowid = created.group(3) is None
            for part in _split_columns(created.group(2)):
                key = _TABLE_KEY.match(part)
                if key:
                    layout.key = tuple(c.strip() for c in key.group(1).split(","))
                    continue
                column = part.split()[0]
                layout.columns.append(column)
                if "PRIMARY KEY" in part:
                    layout.key = (column,)
            continue
        added = _ADD_COLUMN.match(statement)
        if added:
            tables[added.group(1)].columns.append(added.group(2))
    return tables


_TYPES = re.compile(r"\b(TEXT|INTEGER|REAL)\b")
_PG_TYPES = {"TEXT": 'TEXT COLLATE "C"', "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION"}
_CREATE_INDEX = re.compile(r"^(\s*CREATE (?:UNIQUE )?INDEX \w+ ON \w+ )\(([^)]*)\)(.*)$", re.S)
_JSON_EXTRACT_LITERAL = re.compile(r"json_extract\(([\w.]+), '\$\.(\w+)'\)")
_JSON_VALID = re.compile(r"json_valid\(([\w.]+)\)")
_UPSERT = re.compile(r"^\s*INSERT OR (REPLACE|IGNORE) INTO (\w+)(?:\s*\(([^)]*)\))?", re.S)
_IS_PARAM = re.compile(r"\bIS (NOT )?\?")


class PostgresDialect(Dialect):
    """PostgreSQL's fragments, for a schema whose tables are ``tables`` (``table_layout`` of the migrations)."""

    name = "postgresql"
    # OFFSET 0 keeps PostgreSQL from turning the EXISTS into a hashed IN over every match (it may not when the
    # subquery has an OFFSET), which it prefers under an ORDER BY ... LIMIT that would stop early.
    per_row = " OFFSET 0"

    def by_index(self, index: str) -> str:
        return ""
    rows_estimate = "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass('{table}')"

    def __init__(self, tables: dict[str, TableLayout]) -> None:
        self.tables = tables
        self.translate = functools.lru_cache(maxsize=1024)(self._translate)  # type: ignore[method-assign]

    def ddl(self, statement: str) -> str:
        """Types (TEXT with byte-wise collation as SQLite's, BIGINT, DOUBLE PRECISION), an identity ``rowid``
        where SQLite has its implicit one (it breaks ties in creation order), index columns with NULL first, and
        data migrations' JSON access."""
        created = _CREATE_TABLE.match(statement)
        if created:
            body = _TYPES.sub(lambda m: _PG_TYPES[m.group(1)], created.group(2).rstrip())
            if created.group(3) is None:
                body += ",\n            rowid BIGINT GENERATED BY DEFAULT AS IDENTITY"
            return f"CREATE TABLE {created.group(1)} ({body}\n        )"
        if _ADD_COLUMN.match(statement):
            return _TYPES.sub(lambda m: _PG_TYPES[m.group(1)], statement)
        index = _CREATE_INDEX.match(statement)
        if index:
            # NULL first in the index, as SQLite sorts it: order_term's "ASC NULLS FIRST" reads it forwards and
            # "DESC NULLS LAST" backwards, so the trace list's orders walk an index as on SQLite.
            columns = ", ".join(f"{c.strip()} NULLS FIRST" for c in index.group(2).split(","))
            return f"{index.group(1)}({columns}){index.group(3)}"
        statement = _JSON_EXTRACT_LITERAL.sub(lambda m: f"autolog_num(autolog_jsonb({m.group(1)}) -> '{m.group(2)}')",
                                              statement)
        return _JSON_VALID.sub(lambda m: f"(autolog_jsonb({m.group(1)}) IS NOT NULL)", statement)

    def _translate(self, sql: str) -> str:
        suffix = ""
        upsert = _UPSERT.match(sql)
        if upsert:
            kind, table, given = upsert.groups()
            layout = self.tables[table]
            columns = [c.strip() for c in given.split(",")] if given else layout.columns
            head = f"INSERT INTO {table} ({', '.join(columns)})"
            sql = head + sql[upsert.end():]
            if kind == "IGNORE":
                suffix = " ON CONFLICT DO NOTHING"
            else:
                update = [c for c in columns if c not in layout.key]
                sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
                action = f"DO UPDATE SET {sets}" if update else "DO NOTHING"
                suffix = f" ON CONFLICT ({', '.join(layout.key)}) {action}"
        sql = _IS_PARAM.sub(lambda m: "IS DISTINCT FROM ?" if m.group(1) else "IS NOT DISTINCT FROM ?", sql)
        return _placeholders(sql) + suffix

    def like(self, expr: str) -> str:
        return f"{expr} LIKE ? ESCAPE ''"  # PostgreSQL's LIKE is case-sensitive; '' turns off its backslash escape

    def like_param(self, pattern: str) -> str:
        return pattern

    def ilike(self, expr: str) -> str:
        return f"{expr} ILIKE ? ESCAPE ''"

    def regexp(self, expr: str) -> str:
        return f"{expr} ~ ?"

    @staticmethod
    def _path(path: Sequence[str | None]) -> str:
        keys = ["?" if k is None else "'" + k.replace("'", "''") + "'" for k in path]
        return f"ARRAY[{', '.join(keys)}]::text[]"

    def json_path_param(self, *keys: str) -> Any:
        return list(keys)

    def json_value(self, doc: str, path: Sequence[str | None] | None) -> str:
        return f"(({doc})::jsonb #>> {'?::text[]' if path is None else self._path(path)})"

    def json_text(self, doc: str, path: Sequence[str | None]) -> str:
        return self.json_value(doc, path)

    def json_number(self, doc: str, path: Sequence[str | None]) -> str:
        if not path:  # a whole document is a user's value (an assessment's), which may be no JSON (NaN)
            return f"autolog_num(autolog_jsonb({doc}))"
        return f"autolog_num(({doc})::jsonb #> {self._path(path)})"

    def json_object(self, doc: str, path: Sequence[str]) -> str:
        return f"(({doc})::jsonb #> {self._path(path)})"  # jsonb: psycopg gives the Python value

    def json_quoted(self, doc: str, path: Sequence[str]) -> str:
        return f"((({doc})::jsonb #> {self._path(path)})::text)"

    def json_scalar_text(self, doc: str) -> str:
        return f"(autolog_jsonb({doc}) #>> '{{}}')"  # true -> 'true', "x" -> 'x', 1.5 -> '1.5'


    def json_is_number(self, doc: str) -> str:
        return f"(jsonb_typeof(autolog_jsonb({doc})) = 'number')"

    def json_array(self, doc: str, alias: str, path: Sequence[str] = ()) -> str:
        value = f"(({doc})::jsonb #> {self._path(path)})" if path else f"autolog_jsonb({doc})"
        return (f"jsonb_array_elements(CASE WHEN jsonb_typeof({value}) = 'array' THEN {value} ELSE '[]'::jsonb END)"
                f" AS {alias}(value)")

    def json_array_length(self, doc: str, path: Sequence[str]) -> str:
        value = f"(({doc})::jsonb #> {self._path(path)})"
        return f"(CASE WHEN jsonb_typeof({value}) = 'array' THEN jsonb_array_length({value}) END)"

    def element_text(self, value: str) -> str:
        return f"({value} #>> '{{}}')"

    def order_term(self, expr: str, descending: bool) -> str:
        # SQLite's NULL is the smallest value; PostgreSQL's the largest: say where NULLs go.
        return f"{expr} DESC NULLS LAST" if descending else f"{expr} ASC NULLS FIRST"

    def int_of_text(self, expr: str) -> str:
        return f"(CASE WHEN {expr} ~ '^[0-9]{{1,18}}$' THEN CAST({expr} AS BIGINT) END)"


def _placeholders(sql: str) -> str:
    """``?`` outside string literals → ``$1``, ``$2``... in order."""
    out = []
    quoted = False
    n = 0
    for ch in sql:
        if ch == "'":
            quoted = not quoted
            out.append(ch)
        elif ch == "?" and not quoted:
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
    return "".join(out)
