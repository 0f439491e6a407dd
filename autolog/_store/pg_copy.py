"""Trace batches into PostgreSQL by COPY: each table's rows streamed into a staging table, then upserted from it.

Why COPY: a multi-row ``INSERT ... VALUES`` of a 512-trace batch is ~50,000 bound parameters that the server
parses, binds and plans statement by statement; COPY streams the same rows in one message per table and the
server reads them about three times faster, with less CPU on both sides (the bench's 8 writing processes and
the server share the same cores).

Why staging tables: COPY cannot upsert. Rows go into a temporary table of the session, then one
``INSERT INTO <table> (...) SELECT ... FROM <staging> ORDER BY <key> ON CONFLICT ...`` per table moves them, with
the very ``ON CONFLICT`` clause the VALUES path has (``PostgresDialect.translate`` of ``TRACE_WRITES``), so:

* a batch written twice leaves one copy, the last write winning (``DO UPDATE``), metadata sets never replaced
  (``DO NOTHING``); rows are unique per key within a batch (``record_rows(unique=True)``), as one upsert needs;
* the rows are inserted in key order: two processes upserting overlapping keys take their row locks in the
  same order, so one waits for the other instead of both deadlocking.

The staging tables are ``TEMP`` (the session's own: no WAL, no locks other sessions see) and ``ON COMMIT DELETE
ROWS`` (empty when each transaction starts; rows of a rolled back one vanish with it). Every COPY transaction
makes them if its session lacks them (``IF NOT EXISTS``: a catalog lookup when they exist). Emptying them costs
each committing transaction that touched them about 0.4 ms per table (a truncation), which is why the store keeps
its multi-row INSERT for small batches; a transaction that does not touch them (a read, a small batch) pays
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from autolog._store.pg_io import PgConnection
from autolog._store.pg_schema import POSTGRES
from autolog._store.traces import TRACE_WRITES

__all__ = ["COPY_TARGETS", "CopyTarget", "copy_rows", "stage"]

_HEAD = re.compile(r"^INSERT INTO (\w+) \(([^)]*)\)$")


class CopyTarget(NamedTuple):
    """One table of ``TRACE_WRITES``: its staging table, the COPY into it and the upsert out of it."""

    table: str
    key: tuple[str, ...]  # the table's primary key: the first columns of its rows
    stage: str
    create: str
    copy: str
    upsert: str


def _target(statement: str) -> CopyTarget:
    # The translated statement without VALUES: "INSERT INTO t (columns) ON CONFLICT ...", the columns and the
    # conflict clause being exactly those of the VALUES path.
    head, on, conflict = POSTGRES.translate(statement).partition(" ON CONFLICT")
    parsed = _HEAD.match(head)
    if parsed is None or not on:
        raise ValueError(f"not an upsert PostgresDialect makes: {statement!r}")
    table, columns = parsed.group(1), parsed.group(2)
    stage = f"autolog_stage_{table}"
    key = POSTGRES.tables[table].key
    if tuple(c.strip() for c in columns.split(","))[:len(key)] != key:
        raise ValueError(f"the rows of {statement!r} do not begin with their key {key}")
    # CREATE TABLE AS, not LIKE: the columns' types and collations (the key sorts as the table's) without the
    # table's NOT NULL constraints (traces' identity rowid is not copied); the INSERT checks those.
    return CopyTarget(table, key, stage,
                      f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS"
                      f" AS SELECT {columns} FROM {table} WITH NO DATA",
                      f"COPY {stage} ({columns}) FROM STDIN",
                      f"{head} SELECT {columns} FROM {stage} ORDER BY {', '.join(key)}{on}{conflict}")


COPY_TARGETS = tuple(_target(statement) for statement, _ in TRACE_WRITES)

def stage(conn: PgConnection) -> None:
    """Make the staging tables in the connection's open transaction, unless its session has them.

    Asked in every COPY transaction, not remembered per connection: behind a pooler in transaction mode
    (PgBouncer) consecutive transactions of one connection may run in different server sessions. When they exist
    it is a catalog lookup per table, in one round trip."""
    conn.conn.execute(";".join(t.create for t in COPY_TARGETS))  # no parameters: one simple query


def copy_rows(conn: PgConnection, tables: Sequence[Sequence[Sequence[Any]]],
              convert: Callable[[list[Any]], list[Any]] | None = None) -> None:
    """COPY each table's rows (``TRACE_WRITES``' order) into its staging table, then upsert them all.

    ``convert``: applied to each row's values first (the store's check of NUL and 64-bit bounds).
    The connection must be in a transaction and have the staging tables (``stage``).
    """
    raw = conn.conn
    upserts = []
    with raw.cursor() as cursor:
        for target, rows in zip(COPY_TARGETS, tables, strict=True):
            if not rows:
                continue
            with cursor.copy(target.copy) as copy:
                write = copy.write_row
                if convert is None:
                    for row in rows:
                        write(row)
                else:
                    for row in rows:
                        write(convert(list(row)))
            upserts.append(target.upsert)
        if upserts:
            # Several statements without parameters: sent as one simple query (one round trip for all tables).
            cursor.execute(";".join(upserts))
