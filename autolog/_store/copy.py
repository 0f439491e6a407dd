"""Copy a whole store into another, of either backend: a local SQLite store into PostgreSQL, or back.

Both stores hold the same schema (one definition, ``schema.MIGRATIONS``), so every table is read
column by column from one and upserted into the other, in creation order (``rowid``) where the
table has one: ties within a millisecond still sort the same way after the copy.
"""

from __future__ import annotations

from typing import Any

from autolog._store.dialect import SessionSource, table_layout
from autolog._store.schema import MIGRATIONS

__all__ = ["copy_store"]

_TABLES = table_layout(s for version in sorted(MIGRATIONS) for s in MIGRATIONS[version])
_CHUNK = 256


def copy_store(source: Any, destination: Any) -> dict[str, int]:
    """Copy every row of ``source`` into ``destination`` (stores: ``SqliteStore``, ``PostgresStore``); rows
    copied per table. Rows of the same key are replaced, so a copy can be repeated."""
    src: SessionSource = source.connections
    dst: SessionSource = destination.connections
    copied: dict[str, int] = {}
    for table, layout in _TABLES.items():
        columns = ", ".join(layout.columns)
        order = " ORDER BY rowid" if layout.rowid else ""
        with src.session(f"reading {table} to copy it") as conn:
            rows = conn.execute(f"SELECT {columns} FROM {table}{order}").fetchall()
        places = "(" + ",".join("?" * len(layout.columns)) + ")"
        with dst.session(f"copying {table}", write=True) as conn:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start:start + _CHUNK]
                conn.execute(f"INSERT OR REPLACE INTO {table} ({columns}) VALUES {','.join([places] * len(chunk))}",
                             [v for row in chunk for v in row])
        copied[table] = len(rows)
    return copied
