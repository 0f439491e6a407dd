"""Store fixtures: a PostgreSQL server for the session (``pg_server.py``), a database per test, and ``backend_uri``,
the tracking URI of a fresh store of each backend (SQLite, PostgreSQL), so that one test runs on both.

Without PostgreSQL's binaries, or psycopg (the ``postgres`` extra), the PostgreSQL cases skip, saying
why, unless AUTOLOG_REQUIRE_POSTGRES=1 (CI), where they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog._store.copy import copy_store
from autolog._store.sqlite import SqliteStore
from tests.store.pg_server import PgServer, find_bindir


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = find_bindir()
    message = None
    if bindir is None:
        message = "PostgreSQL's initdb and pg_ctl are not installed (apt-get install -y postgresql)"
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        message = f"psycopg 3 and psycopg_pool are not installed ({exc}): pip install -e '.[postgres]'"
    if message is not None or bindir is None:
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


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The name of a backend, for tests that build their own store of it (``copy_to_backend``)."""
    return str(request.param)


@pytest.fixture
def copy_to_backend(request: pytest.FixtureRequest, backend: str) -> Iterator[Callable[[autolog.Client], Any]]:
    """A function: the client's stored traces (flushed) in a store of ``backend``; on SQLite the client's own
    store, on PostgreSQL a copy of it (``copy_store``) in a new database."""
    opened: list[Any] = []

    def copy(client: autolog.Client) -> Any:
        assert client.flush(10)
        source = SqliteStore(client.tracking_uri)
        if backend == "sqlite":
            return source
        from autolog._store.postgres import PostgresStore

        target = PostgresStore(request.getfixturevalue("pg_uri"))
        opened.append(target)
        copy_store(source, target)
        return target

    yield copy
    for target in opened:
        target.close()
