"""PostgreSQL plumbing of the store: URIs, errors as ``StoreError``, and connections that speak the store's SQL.

psycopg 3 is imported here and in the other ``pg_*`` modules only: the SQLite store never needs it.
Errors name the destination without its password, say what went wrong in words, and are of a
retryable kind (``StoreUnavailableError``, ``StoreBusyError``) only when trying again can help: the
server cannot be reached or restarts, or a transaction lost a race. A wrong password, a missing
database, one that holds another application's tables, are not.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from autolog._errors import InvalidArgumentError, StoreBusyError, StoreError
from autolog._store.dialect import Dialect

__all__ = ["CONNECT_TIMEOUT_SECONDS", "PgConnection", "StoreUnavailableError", "conninfo_from_uri", "is_postgres_uri",
           "pg_store_error", "redacted"]

CONNECT_TIMEOUT_SECONDS = 5
_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


class StoreUnavailableError(StoreError):
    """The PostgreSQL server cannot be reached, or dropped the connection (a restart): trying again may succeed."""


def is_postgres_uri(uri: str) -> bool:
    return isinstance(uri, str) and uri.strip().lower().startswith(_SCHEMES)


def redacted(uri: str) -> str:
    """The URI without its password (``postgresql://user:***@host:5432/db``): what errors and stats show."""
    parts = urllib.parse.urlsplit(uri.strip())
    if parts.password is None:
        return uri.strip()
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def conninfo_from_uri(uri: str) -> str:
    """The libpq URI psycopg connects with: ``postgresql+psycopg://`` (SQLAlchemy's spelling) as ``postgresql://``.

    A URI without a database name is refused: the store never guesses one (libpq would use the user's name).
    """
    rest = uri.strip().partition("://")[2]
    parts = urllib.parse.urlsplit("postgresql://" + rest)
    if not parts.hostname and "host=" not in parts.query:
        raise InvalidArgumentError(f"tracking URI {redacted(uri)!r}: name the server, "
                                   "postgresql://user:password@host:5432/database")
    if not parts.path.strip("/"):
        raise InvalidArgumentError(f"tracking URI {redacted(uri)!r}: name the database, "
                                   "postgresql://user:password@host:5432/database")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidArgumentError(f"tracking URI {redacted(uri)!r}: {exc}") from None
    return "postgresql://" + rest


# SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_BUSY_STATES = {"40001": "a concurrent transaction conflicted with this one (serialization failure)",
                "40P01": "a deadlock with another transaction", "55P03": "a lock could not be taken"}
_UNAVAILABLE_STATES = {"57P01": "the server is shutting down", "57P02": "the server crashed",
                       "57P03": "the server is starting up or cannot accept connections now",
                       "53300": "the server has too many connections"}
_REFUSED_STATES = {"28P01": "rejected the password", "28000": "rejected the user (no matching pg_hba.conf entry, "
                   "or the role may not log in)", "3D000": "has no such database",
                   "42501": "refused the privileges the store needs", "53100": "is out of disk space",
                   "25006": "is read-only (a standby?): it can be searched, not written"}


# A failed connection carries no SQLSTATE (psycopg has only libpq's message): the server's words give it.
_STATE_OF_MESSAGE = (("password authentication failed", "28P01"), ("no pg_hba.conf entry", "28000"),
                     ("role \"", "28000"), ("is not permitted to log in", "28000"), ("database \"", "3D000"),
                     ("permission denied for database", "42501"), ("the database system is starting up", "57P03"),
                     ("the database system is shutting down", "57P01"), ("too many clients", "53300"))


def _sqlstate(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None)
    if state:
        return str(state)
    message = str(exc)
    if "does not exist" not in message and "failed" not in message and "not permitted" not in message:
        return next((code for text, code in _STATE_OF_MESSAGE[-3:] if text in message), "")
    return next((code for text, code in _STATE_OF_MESSAGE if text in message), "")


def pg_store_error(target: str, exc: BaseException, action: str) -> StoreError:
    """The ``StoreError`` for ``exc``, raised while ``action`` against the store at ``target`` (redacted URI)."""
    import psycopg
    import psycopg_pool

    cause = (str(exc).strip() or type(exc).__name__).replace("\n", " ")
    state = _sqlstate(exc)
    where = f"the PostgreSQL store at {target}"
    if state in _BUSY_STATES:
        return StoreBusyError(f"{where} could not commit: {_BUSY_STATES[state]} (while {action}; PostgreSQL: "
                              f"{cause})", target, cause)
    if state in _REFUSED_STATES:
        return StoreError(f"{where} {_REFUSED_STATES[state]} (while {action}; PostgreSQL: {cause})", target, cause)
    if state in _UNAVAILABLE_STATES or state.startswith("08"):
        what = _UNAVAILABLE_STATES.get(state, "lost the connection")
        return StoreUnavailableError(f"{where} is unavailable: {what} (while {action}; PostgreSQL: {cause})",
                                     target, cause)
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return StoreUnavailableError(f"{where} is unavailable: no connection could be made or freed in time "
                                     f"(while {action}: {cause})", target, cause)
    if isinstance(exc, psycopg.OperationalError):
        # No SQLSTATE: libpq's own failure (refused, timed out, unknown host, connection cut).
        return StoreUnavailableError(f"{where} cannot be reached (while {action}; {cause})", target, cause)
    if isinstance(exc, psycopg.Error):
        return StoreError(f"{where} failed (while {action}; PostgreSQL: {cause})", target, cause)
    return StoreError(f"{where} failed (while {action}: {cause})", target, cause)


class PgConnection:
    """A psycopg connection taking the store's SQL (SQLite's text, ``?`` placeholders): ``execute`` and
    ``executemany`` translate each statement once (``PostgresDialect.translate``: ``$1`` placeholders) and
    return the cursor, a ``RawCursor`` (it sends the text as it is)."""

    __slots__ = ("conn", "dialect")

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        import psycopg

        cursor = psycopg.RawCursor(self.conn)
        values = tuple(parameters) if parameters is not None else ()
        try:
            cursor.execute(self.dialect.translate(sql), values)
        except psycopg.DataError:
            if not _has_nul(values):
                raise
            cursor.execute(self.dialect.translate(sql), _without_nul(values))
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        import psycopg

        cursor = psycopg.RawCursor(self.conn)
        batch = [tuple(r) for r in rows]
        if batch:  # nothing to write: no round trip
            try:
                cursor.executemany(self.dialect.translate(sql), batch)
            except psycopg.DataError:
                if not any(_has_nul(row) for row in batch):
                    raise
                cursor.executemany(self.dialect.translate(sql), [_without_nul(row) for row in batch])
        return cursor


# PostgreSQL's text cannot hold NUL (SQLite's can), and psycopg refuses such a value before sending anything, so
# the statement is sent again with U+FFFD for NUL, as a trace batch stores it (postgres._bindable): a tag or a
# filter value typed with a NUL is then stored and matched as on SQLite, not a server error. Only a refused
# statement pays for the check.
def _has_nul(values: Sequence[Any]) -> bool:
    return any(type(v) is str and "\x00" in v for v in values)


def _without_nul(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(v.replace("\x00", "\ufffd") if type(v) is str else v for v in values)
