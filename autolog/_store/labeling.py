"""The human-review tables of the SQLite store (``SqliteStore`` inherits these methods).

Label schemas are stored per experiment as their JSON definition (``autolog.genai.label_schemas``
makes and checks them; the store only keeps them). A labeling session is a queue of traces:
one ``labeling_items`` row per trace, in ``position`` order, with its state and last reviewer.
A submit writes the reviewer's assessments and marks the item in one transaction, so an answer
is never stored for an item that still reads PENDING (or the reverse).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from autolog._errors import InvalidArgumentError, ResourceDoesNotExist
from autolog._store.dialect import SessionSource
from autolog._store.sqlite_io import chunks, marks
from autolog.entities.assessment import Assessment
from autolog.entities.ids import now_ms

__all__ = ["ITEM_STATES", "SESSION_KEY", "LabelingTables"]

ITEM_STATES = ("PENDING", "COMPLETED", "SKIPPED")
SESSION_KEY = "labeling_session_id"  # the assessment metadata key naming the session an answer was given in
_SESSION_COLUMNS = "labeling_session_id, experiment_id, name, schemas, assigned_users, creation_time, last_update_time"
_ITEM_COLUMNS = "trace_id, state, reviewer, last_update_time"


def _session_from_row(row: Sequence[Any]) -> dict[str, Any]:
    session_id, experiment_id, name, schemas, users, created, updated = row
    return {"labeling_session_id": session_id, "experiment_id": experiment_id, "name": name,
            "schemas": json.loads(schemas), "assigned_users": json.loads(users), "creation_time": created,
            "last_update_time": updated}


class LabelingTables:
    """Label schemas, labeling sessions and their queues of traces."""

    uri: str
    connections: SessionSource

    def insert_assessment(self, conn: Any, a: Assessment) -> None:
        """Write one assessment row in the caller's transaction: ``TraceTables``', which owns the row format."""
        raise NotImplementedError

    # -- label schemas -----------------------------------------------------------------------------
    def put_label_schema(self, experiment_id: str, definition: dict[str, Any], overwrite: bool = False) -> None:
        """Store a schema's definition (a dict with its ``name``); an existing name needs ``overwrite``."""
        name, now = definition["name"], now_ms()
        with self.connections.session("writing a label schema", write=True) as conn:
            found = conn.execute("SELECT creation_time FROM label_schemas WHERE experiment_id = ? AND name = ?",
                                 (experiment_id, name)).fetchone()
            if found is not None and not overwrite:
                raise InvalidArgumentError(f"a label schema named {name!r} already exists in experiment "
                                           f"{experiment_id!r}: pass overwrite=True to replace it")
            conn.execute("INSERT OR REPLACE INTO label_schemas VALUES (?,?,?,?,?)",
                         (experiment_id, name, json.dumps(definition), found[0] if found else now, now))

    def get_label_schema_definition(self, experiment_id: str, name: str) -> dict[str, Any]:
        with self.connections.session("reading a label schema") as conn:
            row = conn.execute("SELECT definition FROM label_schemas WHERE experiment_id = ? AND name = ?",
                               (experiment_id, name)).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"label schema {name!r} does not exist in experiment {experiment_id!r}"
                                       f" of {self.uri}")
        return json.loads(row[0])  # type: ignore[no-any-return]

    def label_schema_definitions(self, experiment_id: str | None = None) -> list[dict[str, Any]]:
        """The schemas of one experiment (every experiment's when None), by name; each with its ``experiment_id``."""
        sql, args = "SELECT experiment_id, definition FROM label_schemas", []
        if experiment_id is not None:
            sql, args = sql + " WHERE experiment_id = ?", [experiment_id]
        with self.connections.session("reading label schemas") as conn:
            rows = conn.execute(sql + " ORDER BY name, experiment_id", args).fetchall()
        return [{**json.loads(definition), "experiment_id": experiment} for experiment, definition in rows]

    def delete_label_schema(self, experiment_id: str, name: str) -> None:
        with self.connections.session("deleting a label schema", write=True) as conn:
            if conn.execute("DELETE FROM label_schemas WHERE experiment_id = ? AND name = ?",
                            (experiment_id, name)).rowcount == 0:
                raise ResourceDoesNotExist(f"label schema {name!r} does not exist in experiment {experiment_id!r}"
                                           f" of {self.uri}")

    # -- sessions ----------------------------------------------------------------------------------
    def create_labeling_session(self, experiment_id: str, name: str, schemas: list[dict[str, Any]],
                                assigned_users: list[str], trace_ids: Sequence[str]) -> dict[str, Any]:
        """A new session with the schemas' definitions and a queue of ``trace_ids`` (checked to exist)."""
        session_id, now = f"ls-{secrets.token_hex(16)}", now_ms()
        with self.connections.session("creating a labeling session", write=True) as conn:
            conn.execute(f"INSERT INTO labeling_sessions ({_SESSION_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                         (session_id, experiment_id, name, json.dumps(schemas), json.dumps(assigned_users), now, now))
            self._add_items(conn, session_id, trace_ids, now)
            return self._session(conn, session_id)

    def _session(self, conn: Any, session_id: str) -> dict[str, Any]:
        row = conn.execute(f"SELECT {_SESSION_COLUMNS} FROM labeling_sessions WHERE labeling_session_id = ?",
                           (session_id,)).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"labeling session {session_id!r} does not exist in {self.uri}")
        return _session_from_row(row)

    def get_labeling_session(self, session_id: str) -> dict[str, Any]:
        with self.connections.session("reading a labeling session") as conn:
            return self._session(conn, session_id)

    def labeling_sessions(self, experiment_id: str | None = None) -> list[dict[str, Any]]:
        """The sessions of one experiment (every experiment's when None), oldest first."""
        sql, args = f"SELECT {_SESSION_COLUMNS} FROM labeling_sessions", []
        if experiment_id is not None:
            sql, args = sql + " WHERE experiment_id = ?", [experiment_id]
        with self.connections.session("reading labeling sessions") as conn:
            # rowid breaks ties of one millisecond in the order of creation (the ids are random)
            rows = conn.execute(sql + " ORDER BY creation_time, rowid", args).fetchall()
        return [_session_from_row(r) for r in rows]

    def delete_labeling_session(self, session_id: str) -> None:
        """Delete the session and its queue; the assessments its reviewers made stay on their traces."""
        with self.connections.session("deleting a labeling session", write=True) as conn:
            if conn.execute("DELETE FROM labeling_sessions WHERE labeling_session_id = ?", (session_id,)).rowcount == 0:
                raise ResourceDoesNotExist(f"labeling session {session_id!r} does not exist in {self.uri}")
            conn.execute("DELETE FROM labeling_items WHERE labeling_session_id = ?", (session_id,))

    # -- the queue ---------------------------------------------------------------------------------
    def add_labeling_items(self, session_id: str, trace_ids: Sequence[str]) -> int:
        """Append traces to the end of the queue (those already in it keep their place); how many were added."""
        now = now_ms()
        with self.connections.session("adding traces to a labeling session", write=True) as conn:
            self._session(conn, session_id)
            added = self._add_items(conn, session_id, trace_ids, now)
            if added:
                conn.execute("UPDATE labeling_sessions SET last_update_time = ? WHERE labeling_session_id = ?",
                             (now, session_id))
            return added

    def _add_items(self, conn: Any, session_id: str, trace_ids: Sequence[str], now: int) -> int:
        wanted = list(dict.fromkeys(trace_ids))
        known: set[str] = set()
        present: set[str] = set()
        for chunk in chunks(wanted):
            places = marks(len(chunk))
            known.update(r[0] for r in conn.execute(f"SELECT trace_id FROM traces WHERE trace_id IN ({places})", chunk))
            present.update(r[0] for r in conn.execute(
                f"SELECT trace_id FROM labeling_items WHERE labeling_session_id = ? AND trace_id IN ({places})",
                [session_id, *chunk]))
        missing = [t for t in wanted if t not in known]
        if missing:  # the transaction rolls back: a session is never made with part of its traces
            more = f" (nor {len(missing) - 1} other trace ids given)" if len(missing) > 1 else ""
            raise ResourceDoesNotExist(f"trace {missing[0]!r} does not exist in {self.uri}{more}")
        end = conn.execute("SELECT COALESCE(MAX(position), -1) FROM labeling_items WHERE labeling_session_id = ?",
                           (session_id,)).fetchone()[0]
        new = [t for t in wanted if t not in present]
        conn.executemany("INSERT INTO labeling_items VALUES (?,?,?,'PENDING',NULL,?)",
                         [(session_id, t, end + 1 + i, now) for i, t in enumerate(new)])
        return len(new)

    def labeling_items(self, session_id: str) -> list[tuple[str, str, str | None, int]]:
        """The queue in order: ``(trace_id, state, reviewer, last_update_time)`` each."""
        with self.connections.session("reading a labeling queue") as conn:
            self._session(conn, session_id)
            return [tuple(r) for r in conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM labeling_items WHERE labeling_session_id = ? ORDER BY position",
                (session_id,))]

    def labeling_progress(self, session_id: str) -> dict[str, int]:
        """``{"total", "completed", "skipped", "pending"}``, counted in SQL."""
        with self.connections.session("counting a labeling queue") as conn:
            self._session(conn, session_id)
            counts = dict(conn.execute("SELECT state, COUNT(*) FROM labeling_items WHERE labeling_session_id = ?"
                                       " GROUP BY state", (session_id,)).fetchall())
        return {"total": sum(counts.values()), **{s.lower(): int(counts.get(s, 0)) for s in
                                                  ("COMPLETED", "SKIPPED", "PENDING")}}

    def submit_labeling_item(self, session_id: str, trace_id: str, reviewer: str, state: str,
                             assessments: Sequence[Assessment]) -> tuple[str, str, str | None, int]:
        """Write checked answers and mark the item, in one transaction.

        An answer the same reviewer gave to the same question in this session before is overridden
        (kept, ``valid = 0``): re-labeling an item replaces the reviewer's answer instead of adding a second one.
        """
        if state not in ITEM_STATES:
            raise InvalidArgumentError(f"a labeling item's state is one of {', '.join(ITEM_STATES)}; got {state!r}")
        now = now_ms()
        with self.connections.session("submitting a labeling item", write=True) as conn:
            self._session(conn, session_id)
            if conn.execute("SELECT 1 FROM labeling_items WHERE labeling_session_id = ? AND trace_id = ?",
                            (session_id, trace_id)).fetchone() is None:
                raise ResourceDoesNotExist(f"trace {trace_id!r} is not in labeling session {session_id!r}")
            for a in assessments:
                in_session = self.connections.dialect.json_value("metadata", (SESSION_KEY,))
                old = conn.execute("SELECT assessment_id FROM assessments WHERE trace_id = ? AND name = ? AND kind = ?"
                                   f" AND source_id IS ? AND valid = 1 AND {in_session} = ?",
                                   (trace_id, a.name, a.kind, a.source.source_id, session_id)).fetchall()
                for (old_id,) in old:
                    conn.execute("UPDATE assessments SET valid = 0, last_update_time_ms = ? WHERE assessment_id = ?",
                                 (now, old_id))
                    a.overrides = old_id
                self.insert_assessment(conn, a)
            conn.execute("UPDATE labeling_items SET state = ?, reviewer = ?, last_update_time = ?"
                         " WHERE labeling_session_id = ? AND trace_id = ?",
                         (state, reviewer, now, session_id, trace_id))
            conn.execute("UPDATE labeling_sessions SET last_update_time = ? WHERE labeling_session_id = ?",
                         (now, session_id))
            row = conn.execute(f"SELECT {_ITEM_COLUMNS} FROM labeling_items WHERE labeling_session_id = ?"
                               " AND trace_id = ?", (session_id, trace_id)).fetchone()
        return tuple(row)
