"""Where the tracking URI comes from, and which URIs autolog can serve.

An explicit URI wins, then the one given to ``configure()``, then ``$AUTOLOG_TRACKING_URI``,
then ``$MLFLOW_TRACKING_URI`` (so code and deployments written for MLflow keep their
setting), then ``sqlite:///autolog.db``. Served: ``sqlite:///<path>``, plain file paths, and an MLflow
tracking server ``http(s)://host[:port]`` (traces and versions go to it: ``autolog._export.mlflow_rest``), and a
PostgreSQL database ``postgresql://user:password@host:5432/db`` (``autolog._store.postgres``).
Anything else (``databricks``, ``mysql://``, ``file://``...) is an ``InvalidArgumentError``
naming the URI and where it came from, never a file named after it.
"""

from __future__ import annotations

import os
import re
import urllib.parse

from autolog._errors import InvalidArgumentError

__all__ = ["DEFAULT_TRACKING_URI", "resolve_tracking_uri"]

DEFAULT_TRACKING_URI = "sqlite:///autolog.db"
_ENV_VARS = ("AUTOLOG_TRACKING_URI", "MLFLOW_TRACKING_URI")
# "scheme:" as in RFC 3986; a single letter is a Windows drive ("C:\\x.db"), a path.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]+):")
_BARE_NAMES = {"databricks", "databricks-uc", "uc"}
# A PostgreSQL store (autolog._store.postgres); postgresql+psycopg is SQLAlchemy's spelling, MLflow's too.
_POSTGRES_SCHEMES = {"postgresql", "postgresql+psycopg", "postgres"}


def resolve_tracking_uri(explicit: str | None = None, configured: str | None = None) -> str:
    """The URI to open, checked. Raises InvalidArgumentError for a URI autolog cannot serve."""
    if explicit:
        return check_tracking_uri(explicit, "the tracking_uri argument")
    if configured:
        return check_tracking_uri(configured, "configure()/set_tracking_uri()")
    for name in _ENV_VARS:
        value = os.environ.get(name)
        if value:
            return check_tracking_uri(value, f"${name}")
    return DEFAULT_TRACKING_URI


def check_tracking_uri(uri: str, source: str) -> str:
    if not isinstance(uri, str):
        raise InvalidArgumentError(f"tracking URI must be a str, got {uri!r} (from {source})")
    text = uri.strip()
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() in ("http", "https"):
        parsed = urllib.parse.urlsplit(text)
        if not parsed.netloc or parsed.query or parsed.fragment:
            raise InvalidArgumentError(f"tracking URI {uri!r} (from {source}): an MLflow server is "
                                       "http(s)://host[:port][/path], without query or fragment")
        return text.rstrip("/")
    if scheme and scheme.group(1).lower() in _POSTGRES_SCHEMES:
        return text
    if text.lower() in _BARE_NAMES or (scheme and scheme.group(1).lower() != "sqlite"):
        raise InvalidArgumentError(
            f"tracking URI {uri!r} (from {source}) is not supported by autolog: use sqlite:///<relative path>, "
            "sqlite:////<absolute path>, a file path, postgresql://user:password@host:5432/database, or an MLflow "
            "server's http(s):// URL (Databricks and other databases are not served yet)")
    if text.startswith("sqlite:") and not text.startswith("sqlite:///"):
        raise InvalidArgumentError(f"tracking URI {uri!r} (from {source}): use sqlite:///<relative path> or "
                                   "sqlite:////<absolute path>")
    return uri
