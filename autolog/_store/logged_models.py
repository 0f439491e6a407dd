"""The LoggedModel tables of the SQLite store (``SqliteStore`` inherits these methods)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from autolog._errors import InvalidArgumentError, InvalidFilterError, ResourceDoesNotExist
from autolog._store.dialect import SQLITE, Dialect, SessionSource
from autolog._store.filter_sql import (
    MODEL_FIELDS,
    EntityFields,
    SortKey,
    compile_entity_filter,
    order_keys,
    order_sql,
)
from autolog._store.sqlite_io import chunks, marks
from autolog.entities.ids import now_ms
from autolog.entities.logged_model import LoggedModel, Metric

__all__ = ["MAX_EXPERIMENT_IDS", "LoggedModelTables", "check_experiment_ids", "entity_search_query"]

# Bound parameters a search spends on experiment ids, at most (see filter_sql.MAX_FILTER_VALUES).
MAX_EXPERIMENT_IDS = 10_000


def check_experiment_ids(experiment_ids: Sequence[str] | None) -> None:
    if experiment_ids and len(experiment_ids) > MAX_EXPERIMENT_IDS:
        raise InvalidArgumentError(f"experiment_ids: at most {MAX_EXPERIMENT_IDS:,} ids in one search, "
                                   f"got {len(experiment_ids):,}")


class LoggedModelTables:
    """LoggedModels, their tags, params and metrics."""

    uri: str
    connections: SessionSource

    def create_logged_model(self, m: LoggedModel) -> LoggedModel:
        with self.connections.session("creating a logged model", write=True) as conn:
            conn.execute("INSERT INTO logged_models VALUES (?,?,?,?,?,?,?,?)", (
                m.model_id, m.experiment_id, m.name, m.model_type, m.source_run_id, m.status,
                m.creation_timestamp, m.last_updated_timestamp))
            conn.executemany("INSERT INTO logged_model_tags VALUES (?,?,?)",
                             [(m.model_id, k, v) for k, v in m.tags.items()])
            conn.executemany("INSERT INTO logged_model_params VALUES (?,?,?)",
                             [(m.model_id, k, v) for k, v in m.params.items()])
            conn.executemany("INSERT INTO logged_model_metrics VALUES (?,?,?)",
                             [(m.model_id, x.key, x.value) for x in m.metrics])
        return m

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self._set_model_values(model_id, "logged_model_tags", tags)

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        self._set_model_values(model_id, "logged_model_params", params)

    def _set_model_values(self, model_id: str, table: str, values: dict[str, str]) -> None:
        """Upsert key/value rows of a model (``table``: its tags or params) and touch its update time."""
        with self.connections.session("updating a logged model", write=True) as conn:
            self._require_model(conn, model_id)
            conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?,?,?)",
                             [(model_id, k, v) for k, v in values.items()])
            conn.execute("UPDATE logged_models SET last_updated_timestamp = ? WHERE model_id = ?", (now_ms(), model_id))

    def _require_model(self, conn: Any, model_id: str) -> None:
        if conn.execute("SELECT 1 FROM logged_models WHERE model_id = ?", (model_id,)).fetchone() is None:
            raise ResourceDoesNotExist(f"logged model {model_id!r} does not exist in {self.uri}")

    def set_logged_model_status(self, model_id: str, status: str) -> None:
        with self.connections.session("updating a logged model", write=True) as conn:
            self._require_model(conn, model_id)
            conn.execute("UPDATE logged_models SET status = ?, last_updated_timestamp = ? WHERE model_id = ?",
                         (status, now_ms(), model_id))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self.connections.session("deleting a logged model tag", write=True) as conn:
            self._require_model(conn, model_id)
            if conn.execute("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?",
                            (model_id, key)).rowcount == 0:
                raise ResourceDoesNotExist(f"logged model {model_id!r} has no tag {key!r}")

    def _load_models(self, conn: Any, model_ids: Sequence[str]) -> list[LoggedModel]:
        models: dict[str, LoggedModel] = {}
        for chunk in chunks(list(model_ids)):
            places = marks(len(chunk))
            for row in conn.execute(
                    "SELECT model_id, name, experiment_id, creation_timestamp, last_updated_timestamp, model_type,"
                    f" source_run_id, status FROM logged_models WHERE model_id IN ({places})", chunk):
                model_id, name, experiment_id, created, updated, model_type, source_run_id, status = row
                models[model_id] = LoggedModel(model_id, name, experiment_id, created, updated, status=status,
                                               model_type=model_type, source_run_id=source_run_id)
            for table, attr in (("logged_model_tags", "tags"), ("logged_model_params", "params")):
                for mid, k, v in conn.execute(f"SELECT * FROM {table} WHERE model_id IN ({places})", chunk):
                    getattr(models[mid], attr)[k] = v
            for mid, k, v in conn.execute(f"SELECT * FROM logged_model_metrics WHERE model_id IN ({places})", chunk):
                models[mid].metrics.append(Metric(k, v, models[mid].last_updated_timestamp, 0, mid))
        return [models[m] for m in model_ids if m in models]

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with self.connections.session("reading a logged model") as conn:
            found = self._load_models(conn, [model_id])
        if not found:
            raise ResourceDoesNotExist(f"logged model {model_id!r} does not exist in {self.uri}")
        return found[0]

    def get_logged_models(self, model_ids: Sequence[str]) -> list[LoggedModel]:
        """The known models among ``model_ids``, in that order (with tags, params and metrics), in one batch."""
        with self.connections.session("reading logged models") as conn:
            return self._load_models(conn, model_ids)

    def logged_model_names(self, model_ids: Sequence[str]) -> dict[str, str]:
        """model id -> name of the known ids among ``model_ids``, in one query per 500 ids (a page of a trace list
        names its versions without loading their tags, params and metrics)."""
        names: dict[str, str] = {}
        with self.connections.session("reading logged model names") as conn:
            for chunk in chunks(list(dict.fromkeys(model_ids))):
                names.update(conn.execute(f"SELECT model_id, name FROM logged_models WHERE model_id IN"
                                          f" ({marks(len(chunk))})", chunk).fetchall())
        return names

    def find_newest_logged_model(self, experiment_id: str, name: str) -> LoggedModel | None:
        with self.connections.session("reading a logged model") as conn:
            row = conn.execute(
                "SELECT model_id FROM logged_models WHERE experiment_id = ? AND name = ?"
                " ORDER BY creation_timestamp DESC, rowid DESC LIMIT 1", (experiment_id, name)).fetchone()
            return None if row is None else self._load_models(conn, [row[0]])[0]

    def search_logged_models(self, experiment_ids: Sequence[str] | None, filter_string: str | None,
                             order_by: list[str] | None, max_results: int) -> list[LoggedModel]:
        sql, args = entity_search_query("logged_models", "model_id", MODEL_FIELDS, experiment_ids, filter_string,
                                        order_by, max_results, self.connections.dialect)
        with self.connections.session("searching logged models") as conn:
            return self._load_models(conn, [r[0] for r in conn.execute(sql, args)])


def entity_search_query(table: str, id_column: str, fields: EntityFields, experiment_ids: Sequence[str] | None,
                        filter_string: str | None, order_by: list[str] | None,
                        max_results: int, d: Dialect = SQLITE) -> tuple[str, list[object]]:
    """The SELECT of the ids of a table's entities (LoggedModels, runs) matching a filter, in order: one builder,
    so both searches take the same experiment, filter, order and limit arguments."""
    where, params = compile_entity_filter(filter_string, fields, alias="e", d=d)
    check_experiment_ids(experiment_ids)
    args: list[object] = list(params)
    clauses = [f"({where})"]
    if experiment_ids:
        clauses.append(f"e.experiment_id IN ({marks(len(experiment_ids))})")
        args.extend(str(e) for e in experiment_ids)
    order = compile_entity_order_by(order_by, fields, alias="e", d=d)
    args.append(min(max_results, _MAX_LIMIT))
    return f"SELECT e.{id_column} FROM {table} AS e WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT ?", args


def compile_entity_order_by(order_by: list[str] | None, fields: EntityFields, alias: str, d: Dialect = SQLITE) -> str:
    """ORDER BY of an entity search: its columns, and ``metrics.<key>`` / ``params.<key>`` / ``tags.<key>``
    (MLflow's ``order_by=[{"field_name": "metrics.accuracy", "ascending": False}]``), missing values last
    whichever the direction, then the entity id."""
    columns = {**fields.numeric_columns, **fields.string_columns}
    not_null = frozenset((fields.id_column, "experiment_id", "name", "status", *(c for c, _ in fields.default_order)))
    tiebreak = SortKey(f"{alias}.{fields.id_column}", False, False)
    if not order_by:
        return order_sql(order_keys(None, columns, not_null, alias, list(fields.default_order), fields.id_column), d)
    if isinstance(order_by, str) or not all(isinstance(clause, str) for clause in order_by):
        raise InvalidArgumentError(f"order_by must be a list of str such as ['metrics.score DESC'], got {order_by!r}")
    keys: list[SortKey] = []
    for clause in order_by:
        match = _KEY_VALUE_CLAUSE.match(clause)
        kind = _KEY_VALUE_PREFIXES.get(match.group(1)) if match else None
        if match is None or kind is None:  # a column, or a bad clause: order_keys checks and explains it
            keys.extend(order_keys([clause], columns, not_null, alias, [], fields.id_column)[:-1])
            continue
        key, direction = match.group(2).strip("`"), (match.group(3) or "ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise InvalidFilterError(clause, match.start(3), "ASC or DESC", match.group(3), what="order_by")
        literal = "'" + key.replace("'", "''") + "'"  # a quoted SQL string: quotes doubled
        value = (f"(SELECT kv.value FROM {fields.tables[kind]} AS kv"
                 f" WHERE kv.{fields.id_column} = {alias}.{fields.id_column} AND kv.key = {literal})")
        keys.append(SortKey(f"({value} IS NULL)", False, False))  # entities without the key come last
        keys.append(SortKey(value, direction == "DESC", True))
    return order_sql([*keys, tiebreak], d)


_KEY_VALUE_CLAUSE = re.compile(r"\s*(\w+)\.(`[^`]+`|[^\s`]+)(?:\s+(\w+))?\s*$")
_KEY_VALUE_PREFIXES = {"metrics": "metric", "metric": "metric", "params": "param", "param": "param",
                       "tags": "tag", "tag": "tag"}
_MAX_LIMIT = 2**62  # SQLite binds 64-bit integers; a larger max_results means "all"
