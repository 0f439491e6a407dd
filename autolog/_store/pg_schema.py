"""The store's schema on PostgreSQL: ``schema.MIGRATIONS`` rendered by ``PostgresDialect.ddl``, applied once.

Migrations run in one transaction under a transaction-scoped advisory lock, so that many processes
starting together against a new database migrate it once: the others wait on the lock, then find
the schema current. A schema newer than this autolog's is refused with the same ``StoreError`` as
SQLite's; a database holding another application's tables of the same names (MLflow's own database,
say) is refused rather than mixed into.
"""

from __future__ import annotations

from typing import Any

from autolog._errors import StoreError
from autolog._store.dialect import POSTGRES_FUNCTIONS, PostgresDialect, table_layout
from autolog._store.schema import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    known_version,
)
from autolog.entities.ids import now_ms

__all__ = ["MIGRATION_LOCK", "POSTGRES", "TEXT_INDEX", "pg_migrate", "pg_schema_is_current", "set_text_index"]

POSTGRES = PostgresDialect(table_layout(s for version in sorted(MIGRATIONS) for s in MIGRATIONS[version]))
# The advisory lock key of migrations: any 64-bit number, the same in every autolog (b"autolog\x00").
MIGRATION_LOCK = 0x6175746F6C6F6700
_TABLES = frozenset(POSTGRES.tables)


def _stored_version(conn: Any, target: str) -> int:
    """The schema version the database holds (0: none yet), read with plain statements (no lock)."""
    row = conn.execute("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema()"
                       " AND table_name = 'schema_version' AND column_name = 'version'").fetchone()
    if row is None:
        if conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema()"
                        " AND table_name = 'schema_version'").fetchone() is not None:
            raise _foreign(target, ["schema_version"])
        return 0
    return known_version(conn.execute("SELECT version FROM schema_version").fetchone(), target)


def _foreign(target: str, tables: list[str]) -> StoreError:
    return StoreError(f"the PostgreSQL database at {target} is not an autolog store: it holds tables named "
                      f"{', '.join(sorted(tables))} but no autolog schema_version; use an empty database (or one "
                      "autolog created)", target, "not an autolog store")


def pg_schema_is_current(conn: Any, target: str) -> bool:
    return _stored_version(conn, target) == SCHEMA_VERSION


def pg_migrate(conn: Any, target: str) -> None:
    """Create the schema or bring it up to ``SCHEMA_VERSION``, in one transaction under the migration lock.

    ``conn`` is a psycopg connection in autocommit mode. Statements are sent as rendered (no parameters:
    no placeholder translation), the version read again under the lock.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        version = _stored_version(conn, target)
        if version == 0:
            taken = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables"
                                                " WHERE table_schema = current_schema()") if r[0] in _TABLES]
            if taken:
                raise _foreign(target, taken)
        for function in POSTGRES_FUNCTIONS:
            conn.execute(function)
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                sql = POSTGRES.ddl(statement) if isinstance(statement, str) else statement.postgresql
                if sql:
                    conn.execute(sql)
        if conn.execute("SELECT 1 FROM schema_version").fetchone() is None:
            conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))
        elif version != SCHEMA_VERSION:
            conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION,))
        conn.execute("INSERT INTO experiments (experiment_id, name, tags, creation_time) VALUES (%s, %s, '{}', %s)"
                     " ON CONFLICT DO NOTHING", (DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, now_ms()))


# trace.text (LIKE / ILIKE '%...%', RLIKE over span contents) through pg_trgm, which PostgreSQL ships (contrib).
# Not part of the schema: a GIN trigram index of every span's content took the server's CPU per span written
# from about 15 to 38 µs (bench_team, 8 processes: 59k -> 33k spans/s), while without it a search for a rare
# phrase over 1,000,000 traces read the spans in about 0.3 s (0.05 s with it); a common phrase takes
# milliseconds either way (the time index is walked). A team that searches text more than it writes asks for it.
TEXT_INDEX = "ix_spans_content_trgm"


def set_text_index(conn: Any, target: str, present: bool) -> bool:
    """Create (``present``) or drop the trigram index of span contents; whether anything changed.

    ``conn``: a connection in autocommit mode. CONCURRENTLY, so that writers go on meanwhile (minutes at
    millions of spans); an index a failed build left INVALID is dropped and built again.
    """
    row = conn.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                       " WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
                       (TEXT_INDEX,)).fetchone()
    if not present:
        if row is None:
            return False
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TEXT_INDEX}")
        return True
    if row is not None and row[0]:
        return False
    import psycopg

    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except psycopg.Error as exc:
        raise StoreError(f"the PostgreSQL database at {target} cannot have the pg_trgm extension ({exc}); a "
                         "superuser can run CREATE EXTENSION pg_trgm in it (Debian and Ubuntu ship it with "
                         "postgresql; elsewhere install postgresql-contrib)", target, "no pg_trgm") from exc
    if row is not None:
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TEXT_INDEX}")
    conn.execute(f"CREATE INDEX CONCURRENTLY {TEXT_INDEX} ON spans USING gin (content gin_trgm_ops)")
    return True
