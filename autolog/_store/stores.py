"""Which store a tracking URI opens: ``sqlite:///`` and file paths the SQLite store, ``postgresql://`` PostgreSQL's.

psycopg is imported only for a PostgreSQL URI, so the SQLite store works without it installed; a
PostgreSQL URI without it is a clear error saying what to install.
"""

from __future__ import annotations

from typing import Any

from autolog._errors import InvalidArgumentError
from autolog._store.pg_io import conninfo_from_uri, is_postgres_uri, redacted
from autolog._store.sqlite import SqliteStore

__all__ = ["POSTGRES_EXTRA", "is_postgres_uri", "open_store", "redacted"]

POSTGRES_EXTRA = "pip install 'autolog-genai[postgres]'"


def open_store(uri: str) -> Any:
    """The store for a checked tracking URI: a ``SqliteStore`` or a ``PostgresStore`` (no I/O yet)."""
    if not is_postgres_uri(uri):
        return SqliteStore(uri)
    conninfo_from_uri(uri)  # a URI without a host or database is refused now, on the caller's thread
    from autolog._store.postgres import PostgresStore  # imports psycopg only when it connects

    try:
        import psycopg  # noqa: F401 - here, so that a missing install is said now, not at the first write
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise InvalidArgumentError(f"tracking URI {redacted(uri)!r} needs psycopg 3 and psycopg_pool ({exc}): "
                                   f"{POSTGRES_EXTRA}") from None
    return PostgresStore(uri)
