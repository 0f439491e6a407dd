"""The test PostgreSQL server itself: it starts, gives each test its own database, and survives a restart."""

from __future__ import annotations

from tests.store.pg_server import PgServer


def test_each_test_gets_its_own_empty_database(pg_server: PgServer, pg_database: str) -> None:
    import psycopg  # after pg_server: it skips (or fails, in CI) without psycopg

    with psycopg.connect(pg_server.uri(pg_database)) as conn:
        assert conn.execute("SELECT current_database(), count(*) FROM pg_tables WHERE schemaname = 'public'"
                            ).fetchone() == (pg_database, 0)
        assert conn.execute("SHOW server_version").fetchone()[0].startswith(("15", "16", "17"))
