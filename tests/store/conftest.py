"""Store fixtures: a PostgreSQL server for the session (``pg_server.py``), a database per test, and ``backend_uri``,
the tracking URI of a fresh store of each backend (SQLite, PostgreSQL), so that one test runs on both.

Without PostgreSQL's binaries the PostgreSQL cases skip, saying why, unless AUTOLOG_REQUIRE_POSTGRES=1
(CI), where they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.pg_server import PgServer, find_bindir


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL's initdb and pg_ctl are not installed (apt-get install -y postgresql)"
        if os.environ.get("AUTOLOG_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = PgServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """The name of a new, empty database, dropped after the test."""
    name = pg_server.create_database()
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def pg_uri(pg_server: PgServer, pg_database: str) -> str:
    return pg_server.uri(pg_database)


@pytest.fixture(params=["sqlite", "postgres"])
def backend_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store's URI, for each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'backend.db'}"
    uri: str = request.getfixturevalue("pg_uri")
    return uri
