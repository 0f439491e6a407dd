"""The evaluation dataset tables of the SQLite store (``SqliteStore`` inherits these methods).

Versions are immutable. A change of the records (a merge that changes something, a delete)
is one transaction that copies version N's rows to N+1, applies the change to the copy,
writes N+1's digest and record count, and makes N+1 current; nothing ever updates the rows
of an existing version. Records are de-duplicated on their inputs: ``inputs_digest`` is a
sha256 of the inputs' JSON with sorted keys, the same inputs MLflow's store matches on.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from autolog._errors import InvalidArgumentError, InvalidFilterError, ResourceDoesNotExist, check_key
from autolog._store.dialect import Dialect, SessionSource
from autolog._store.filter_parser import Parser
from autolog._store.sqlite_io import chunks, marks
from autolog.entities.dataset import DatasetRecord, EvaluationDataset
from autolog.entities.ids import now_ms

__all__ = ["DatasetTables", "content_digest", "inputs_digest"]

_DATASET_COLUMNS = "dataset_id, name, experiment_ids, tags, created_time, last_update_time, current_version"
_RECORD_COLUMNS = "record_id, inputs, outputs, expectations, tags, source, created_time, last_update_time"
# What a dataset filter may name: the column behind each attribute, and whether it holds numbers.
_FILTER_COLUMNS = {"name": ("name", False), "dataset_name": ("name", False), "dataset_id": ("dataset_id", False),
                   "created_time": ("created_time", True), "last_update_time": ("last_update_time", True)}
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_MAX_LIMIT = 2**62  # SQLite binds 64-bit integers; a larger max_results means "all"


def _json(value: Any) -> str:
    """Canonical JSON: the same value always gives the same text (the digests depend on it)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def inputs_digest(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def content_digest(records: Sequence[DatasetRecord]) -> str:
    """sha256 over the records' content (not their ids or times), in the order of their inputs' digests."""
    texts = sorted(_json({"inputs": r.inputs, "outputs": r.outputs, "expectations": r.expectations,
                          "tags": r.tags, "source": r.source}) for r in records)
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def _record_from_row(row: Sequence[Any]) -> DatasetRecord:
    record_id, inputs, outputs, expectations, tags, source, created, updated = row
    return DatasetRecord(record_id, json.loads(inputs), None if outputs is None else json.loads(outputs),
                         json.loads(expectations), json.loads(tags), None if source is None else json.loads(source),
                         created, updated)


def _compile_filter(filter_string: str | None, d: Dialect) -> tuple[str, list[object]]:
    """SQL over ``datasets AS d`` for a filter of name, dataset_id, created_time, last_update_time, tags.<key>."""
    if filter_string is None or not filter_string.strip():
        return "1=1", []
    parts: list[str] = []
    params: list[object] = []
    for prefix, key, op, value, pos in Parser(filter_string).parse():
        if prefix is not None and prefix.lower() in ("tags", "tag"):
            expr, numeric = d.json_value("d.tags", None), False
            params.append(d.json_path_param(key))
        elif (prefix is None or prefix.lower() in ("attributes", "attribute")) and key in _FILTER_COLUMNS:
            column, numeric = _FILTER_COLUMNS[key]
            expr = f"d.{column}"
        else:
            raise InvalidFilterError(filter_string, pos, "a dataset field: tags.<key> or one of "
                                     + ", ".join(sorted(_FILTER_COLUMNS)), f"{prefix}.{key}" if prefix else key)
        allowed = _NUMBER_OPS if numeric else _STRING_OPS
        if op not in allowed:
            raise InvalidFilterError(filter_string, pos, f"an operator for {key}: {', '.join(allowed)}", op)
        values = list(value) if op in ("IN", "NOT IN") else [value]
        try:
            bound = [float(v) if numeric else str(v) for v in values]
        except (TypeError, ValueError):
            raise InvalidFilterError(filter_string, pos, f"a number for {key}", str(value)) from None
        if op in ("IN", "NOT IN"):
            parts.append(f"{expr} {op} ({marks(len(bound))})")
            params.extend(bound)
        elif op == "LIKE":  # case-sensitive, MLflow's
            parts.append(d.like(expr))
            params.append(d.like_param(str(value)))
        elif op == "ILIKE":
            parts.append(d.ilike(expr))
            params.extend(bound)
        else:
            parts.append(f"{expr} {op} ?")
            params.extend(bound)
    return " AND ".join(parts), params


def _compile_order_by(order_by: Sequence[str] | None) -> str:
    if not order_by:
        return "d.created_time DESC, d.dataset_id ASC"
    if isinstance(order_by, str):
        order_by = [order_by]
    keys = []
    for clause in order_by:
        words = str(clause).split()
        field = words[0].removeprefix("attributes.") if words else ""
        if field not in _FILTER_COLUMNS or len(words) > 2:
            raise InvalidFilterError(str(clause), 0, "'<field> [ASC|DESC]', the field one of "
                                     + ", ".join(sorted(_FILTER_COLUMNS)), str(clause) or None)
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise InvalidFilterError(str(clause), len(words[0]) + 1, "ASC or DESC", words[1])
        keys.append(f"d.{_FILTER_COLUMNS[field][0]} {direction}")
    return ", ".join([*keys, "d.dataset_id ASC"])


def _checked_tags(tags: dict[str, Any] | None) -> dict[str, Any]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise InvalidArgumentError(f"dataset tags must be a dict, got {type(tags).__name__}")
    for key in tags:
        check_key(key, "tag key")
    return dict(tags)


def _merged(old: DatasetRecord, new: dict[str, Any]) -> tuple[Any, ...]:
    """The content of ``old`` with ``new`` merged in: expectations and tags updated, outputs and source if given."""
    outputs = new.get("outputs", old.outputs)
    source = old.source if new.get("source") is None else new["source"]
    return (outputs, {**old.expectations, **new["expectations"]}, {**old.tags, **new["tags"]}, source)


class DatasetTables:
    """Evaluation datasets, their versions and records."""

    uri: str
    connections: SessionSource

    # -- datasets ----------------------------------------------------------------------------------
    def create_dataset(self, name: str, experiment_ids: Sequence[str], tags: dict[str, Any] | None = None
                       ) -> EvaluationDataset:
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError(f"dataset name must be a non-empty str, got {name!r}")
        checked = _checked_tags(tags)
        dataset_id, now = f"d-{secrets.token_hex(16)}", now_ms()
        with self.connections.session("creating a dataset", write=True) as conn:
            taken = conn.execute("SELECT dataset_id FROM datasets WHERE name = ?", (name,)).fetchone()
            if taken is not None:
                raise InvalidArgumentError(f"a dataset named {name!r} already exists ({taken[0]}) in {self.uri}")
            conn.execute(f"INSERT INTO datasets ({_DATASET_COLUMNS}) VALUES (?,?,?,?,?,?,0)",
                         (dataset_id, name, _json([str(e) for e in experiment_ids]), _json(checked), now, now))
            conn.execute("INSERT INTO dataset_versions VALUES (?, 0, ?, 0, ?)", (dataset_id, content_digest([]), now))
            return self._dataset(conn, dataset_id, None)

    def _dataset(self, conn: Any, dataset_id: str, version: int | None) -> EvaluationDataset:
        row = conn.execute(f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE dataset_id = ?", (dataset_id,)).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"dataset {dataset_id!r} does not exist in {self.uri}")
        dataset_id, name, experiment_ids, tags, created, updated, current = row
        wanted = current if version is None else version
        found = conn.execute("SELECT digest, record_count, created_time FROM dataset_versions"
                             " WHERE dataset_id = ? AND version = ?", (dataset_id, wanted)).fetchone()
        if found is None:
            raise ResourceDoesNotExist(f"dataset {name!r} ({dataset_id}) has no version {wanted!r}: its versions "
                                       f"are 0 to {current}")
        digest, count, version_time = found
        # A past version shows the time it was made: it is returned exactly as it was then.
        return EvaluationDataset(dataset_id, name, json.loads(experiment_ids), json.loads(tags), wanted, digest,
                                 created, updated if wanted == current else version_time, count)

    def _dataset_id(self, conn: Any, name: str | None, dataset_id: str | None) -> str:
        if (name is None) == (dataset_id is None):
            raise InvalidArgumentError("give exactly one of name and dataset_id")
        if dataset_id is not None:
            return dataset_id
        row = conn.execute("SELECT dataset_id FROM datasets WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"dataset {name!r} does not exist in {self.uri}")
        return str(row[0])

    def get_dataset(self, name: str | None = None, dataset_id: str | None = None,
                    version: int | None = None) -> EvaluationDataset:
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
            raise InvalidArgumentError(f"version must be an int >= 0, got {version!r}")
        with self.connections.session("reading a dataset") as conn:
            return self._dataset(conn, self._dataset_id(conn, name, dataset_id), version)

    def search_datasets(self, experiment_ids: Sequence[str] | None = None, filter_string: str | None = None,
                        max_results: int = 1000, order_by: Sequence[str] | None = None) -> list[EvaluationDataset]:
        if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results <= 0:
            raise InvalidArgumentError(f"max_results must be a positive integer, got {max_results!r}")
        d = self.connections.dialect
        where, params = _compile_filter(filter_string, d)
        clauses = [f"({where})"]
        if experiment_ids:
            ids = [str(e) for e in ([experiment_ids] if isinstance(experiment_ids, str) else experiment_ids)]
            clauses.append(f"EXISTS (SELECT 1 FROM {d.json_array('d.experiment_ids', 'x')}"
                           f" WHERE {d.element_text('x.value')} IN ({marks(len(ids))}))")
            params.extend(ids)
        sql = (f"SELECT d.dataset_id FROM datasets AS d WHERE {' AND '.join(clauses)}"
               f" ORDER BY {_compile_order_by(order_by)} LIMIT ?")
        with self.connections.session("searching datasets") as conn:
            found = [r[0] for r in conn.execute(sql, [*params, min(max_results, _MAX_LIMIT)])]
            return [self._dataset(conn, d, None) for d in found]

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset with all its versions, for good."""
        with self.connections.session("deleting a dataset", write=True) as conn:
            if conn.execute("DELETE FROM datasets WHERE dataset_id = ?", (dataset_id,)).rowcount == 0:
                raise ResourceDoesNotExist(f"dataset {dataset_id!r} does not exist in {self.uri}")
            conn.execute("DELETE FROM dataset_versions WHERE dataset_id = ?", (dataset_id,))
            conn.execute("DELETE FROM dataset_records WHERE dataset_id = ?", (dataset_id,))

    # Tags describe the dataset, not its records: they change in place and make no version.
    def set_dataset_tags(self, dataset_id: str, tags: dict[str, Any]) -> None:
        checked = _checked_tags(tags)
        with self.connections.session("setting dataset tags", write=True) as conn:
            current = self._dataset(conn, dataset_id, None).tags
            conn.execute("UPDATE datasets SET tags = ?, last_update_time = ? WHERE dataset_id = ?",
                         (_json({**current, **checked}), now_ms(), dataset_id))

    def delete_dataset_tag(self, dataset_id: str, key: str) -> None:
        with self.connections.session("deleting a dataset tag", write=True) as conn:
            tags = self._dataset(conn, dataset_id, None).tags
            if key not in tags:
                raise ResourceDoesNotExist(f"dataset {dataset_id!r} has no tag {key!r}")
            del tags[key]
            conn.execute("UPDATE datasets SET tags = ?, last_update_time = ? WHERE dataset_id = ?",
                         (_json(tags), now_ms(), dataset_id))

    # -- records -----------------------------------------------------------------------------------
    def load_dataset_records(self, dataset_id: str, version: int) -> list[DatasetRecord]:
        """The records of one version, oldest first."""
        with self.connections.session("reading dataset records") as conn:
            self._dataset(conn, dataset_id, version)  # names a missing dataset or version
            rows = conn.execute(f"SELECT {_RECORD_COLUMNS} FROM dataset_records WHERE dataset_id = ? AND version = ?"
                                " ORDER BY created_time, record_id", (dataset_id, version)).fetchall()
        return [_record_from_row(r) for r in rows]

    def merge_dataset_records(self, dataset_id: str, records: Sequence[dict[str, Any]]) -> EvaluationDataset:
        """Merge checked record dicts (``entities.dataset.dataset_record_dicts``) into the next version.

        A merge that changes nothing makes no version and returns the current one.
        """
        now = now_ms()
        # Through JSON once, so that what is compared below is what would be stored (tuples are lists...).
        records = [json.loads(_json(r)) for r in records]
        with self.connections.session("merging dataset records", write=True) as conn:
            current = self._dataset(conn, dataset_id, None).version
            by_digest: dict[str, DatasetRecord] = {}
            for chunk in chunks([inputs_digest(r["inputs"]) for r in records]):
                for row in conn.execute(f"SELECT inputs_digest, {_RECORD_COLUMNS} FROM dataset_records"
                                        f" WHERE dataset_id = ? AND version = ? AND inputs_digest IN"
                                        f" ({marks(len(chunk))})", [dataset_id, current, *chunk]):
                    by_digest[row[0]] = _record_from_row(row[1:])
            changed: dict[str, tuple[str, DatasetRecord]] = {}  # inputs digest -> (digest, new content)
            for new in records:
                digest = inputs_digest(new["inputs"])
                old = changed[digest][1] if digest in changed else by_digest.get(digest)
                if old is None:
                    record = DatasetRecord(f"dr-{secrets.token_hex(16)}", new["inputs"], new.get("outputs"),
                                           new["expectations"], new["tags"], new.get("source"), now, now)
                else:
                    outputs, expectations, tags, source = _merged(old, new)
                    if (outputs, expectations, tags, source) == (old.outputs, old.expectations, old.tags, old.source):
                        continue
                    record = DatasetRecord(old.dataset_record_id, old.inputs, outputs, expectations, tags, source,
                                           old.created_time, now)
                changed[digest] = (digest, record)
            if not changed:
                return self._dataset(conn, dataset_id, None)
            self._copy_version(conn, dataset_id, current)
            conn.executemany("INSERT OR REPLACE INTO dataset_records (dataset_id, version, inputs_digest, "
                             f"{_RECORD_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                             [(dataset_id, current + 1, digest, r.dataset_record_id, _json(r.inputs),
                               None if r.outputs is None else _json(r.outputs), _json(r.expectations),
                               _json(r.tags), None if r.source is None else _json(r.source), r.created_time,
                               r.last_update_time) for digest, r in changed.values()])
            return self._finish_version(conn, dataset_id, current + 1, now)

    def delete_dataset_records(self, dataset_id: str, record_ids: Sequence[str]) -> tuple[EvaluationDataset, int]:
        """Delete records by id into the next version; ids not in the current version are ignored.

        Deleting nothing makes no version.
        """
        now = now_ms()
        with self.connections.session("deleting dataset records", write=True) as conn:
            current = self._dataset(conn, dataset_id, None).version
            found: list[str] = []
            for chunk in chunks(list(dict.fromkeys(record_ids))):
                found += [r[0] for r in conn.execute(
                    "SELECT record_id FROM dataset_records WHERE dataset_id = ? AND version = ?"
                    f" AND record_id IN ({marks(len(chunk))})", [dataset_id, current, *chunk])]
            if not found:
                return self._dataset(conn, dataset_id, None), 0
            self._copy_version(conn, dataset_id, current)
            for chunk in chunks(found):
                conn.execute(f"DELETE FROM dataset_records WHERE dataset_id = ? AND version = ?"
                             f" AND record_id IN ({marks(len(chunk))})", [dataset_id, current + 1, *chunk])
            return self._finish_version(conn, dataset_id, current + 1, now), len(found)

    def _copy_version(self, conn: Any, dataset_id: str, version: int) -> None:
        conn.execute(f"INSERT INTO dataset_records (dataset_id, version, inputs_digest, {_RECORD_COLUMNS})"
                     f" SELECT dataset_id, version + 1, inputs_digest, {_RECORD_COLUMNS} FROM dataset_records"
                     " WHERE dataset_id = ? AND version = ?", (dataset_id, version))

    def _finish_version(self, conn: Any, dataset_id: str, version: int, now: int) -> EvaluationDataset:
        """Write the digest and count of the version just filled, and make it current."""
        rows = conn.execute(f"SELECT {_RECORD_COLUMNS} FROM dataset_records WHERE dataset_id = ? AND version = ?",
                            (dataset_id, version)).fetchall()
        records = [_record_from_row(r) for r in rows]
        conn.execute("INSERT INTO dataset_versions VALUES (?,?,?,?,?)",
                     (dataset_id, version, content_digest(records), len(records), now))
        conn.execute("UPDATE datasets SET current_version = ?, last_update_time = ? WHERE dataset_id = ?",
                     (version, now, dataset_id))
        return self._dataset(conn, dataset_id, None)
