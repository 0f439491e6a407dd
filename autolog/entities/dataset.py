"""Evaluation datasets (MLflow's ``EvaluationDataset`` and ``DatasetRecord``), with immutable versions.

A dataset is a name over a sequence of versions: version 0 is empty, and every change of
its records (a merge that changes something, a delete) makes the next version, leaving the
earlier ones exactly as they were. An ``EvaluationDataset`` object shows one version; its
``merge_records`` and ``delete_records`` move it to the version they made.

The object reaches its store through a handle the client binds (``bind``); entities import
nothing of the store, so the handle is typed by the ``DatasetHandle`` protocol below.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from autolog._errors import InvalidArgumentError
from autolog.entities.trace import Trace

__all__ = ["DatasetHandle", "DatasetRecord", "DatasetRecordSourceType", "EvaluationDataset", "dataset_record_dicts"]

RECORD_FIELDS = ("inputs", "outputs", "expectations", "tags", "source")


class DatasetRecordSourceType:
    TRACE = "TRACE"
    HUMAN = "HUMAN"
    CODE = "CODE"
    DOCUMENT = "DOCUMENT"
    UNSPECIFIED = "SOURCE_TYPE_UNSPECIFIED"


@dataclass
class DatasetRecord:
    """One row of a dataset version. ``source`` is ``{"source_type": ..., "source_data": {...}}`` or None."""

    dataset_record_id: str
    inputs: dict[str, Any]
    outputs: Any = None
    expectations: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] | None = None
    created_time: int = 0
    last_update_time: int = 0

    @property
    def source_type(self) -> str:
        return str((self.source or {}).get("source_type") or DatasetRecordSourceType.UNSPECIFIED)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset_record_id": self.dataset_record_id, "inputs": self.inputs, "outputs": self.outputs,
                "expectations": self.expectations, "tags": self.tags, "source": self.source,
                "source_type": self.source_type, "created_time": self.created_time,
                "last_update_time": self.last_update_time}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetRecord:
        return cls(d["dataset_record_id"], dict(d.get("inputs") or {}), d.get("outputs"),
                   dict(d.get("expectations") or {}), dict(d.get("tags") or {}), d.get("source"),
                   int(d.get("created_time") or 0), int(d.get("last_update_time") or 0))


def _field_type(value: Any) -> str:
    """The JSON type name MLflow's dataset schema gives a value."""
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"), (list, "array"),
                       (dict, "object")):
        if isinstance(value, kind):
            return name
    return "unknown"


def _schema(records: Sequence[DatasetRecord]) -> dict[str, Any]:
    """The fields of the records' inputs, outputs and expectations with the type of their first value."""
    schema: dict[str, Any] = {"inputs": {}, "outputs": {}, "expectations": {}, "version": "1.0"}
    for record in records:
        for key, value in record.inputs.items():
            schema["inputs"].setdefault(key, _field_type(value))
        if isinstance(record.outputs, dict):
            for key, value in record.outputs.items():
                schema["outputs"].setdefault(key, _field_type(value))
        elif record.outputs is not None and not schema["outputs"]:
            schema["outputs"] = _field_type(record.outputs)
        for key, value in record.expectations.items():
            schema["expectations"].setdefault(key, _field_type(value))
    return schema


class DatasetHandle(Protocol):
    """What a dataset needs from its store to read and change its records (the client binds its store)."""

    def merge_dataset_records(self, dataset_id: str, records: Sequence[dict[str, Any]]) -> EvaluationDataset: ...

    def delete_dataset_records(self, dataset_id: str,
                               record_ids: Sequence[str]) -> tuple[EvaluationDataset, int]: ...

    def load_dataset_records(self, dataset_id: str, version: int) -> list[DatasetRecord]: ...


@dataclass
class EvaluationDataset:
    """One version of an evaluation dataset. ``digest`` is a sha256 of the version's records' content."""

    dataset_id: str  # d-<32 hex>
    name: str
    experiment_ids: list[str] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    digest: str = ""
    created_time: int = 0
    last_update_time: int = 0
    record_count: int = 0
    _handle: DatasetHandle | None = field(default=None, repr=False, compare=False)
    _records: list[DatasetRecord] | None = field(default=None, repr=False, compare=False)

    def bind(self, handle: DatasetHandle) -> EvaluationDataset:
        """Attach the store that holds this dataset (the client does it; returns self)."""
        self._handle = handle
        return self

    def _bound(self) -> DatasetHandle:
        if self._handle is None:
            raise InvalidArgumentError(f"dataset {self.name!r} is not bound to a client: get it with "
                                       "autolog.genai.datasets.get_dataset()")
        return self._handle

    def _become(self, other: EvaluationDataset) -> None:
        for name in ("tags", "version", "digest", "last_update_time", "record_count"):
            setattr(self, name, getattr(other, name))
        self._records = None  # records of the new version are read when asked for

    @property
    def records(self) -> list[DatasetRecord]:
        """The records of this version (read once: a version never changes)."""
        if self._records is None:
            self._records = self._bound().load_dataset_records(self.dataset_id, self.version)
        return list(self._records)

    def merge_records(self, records: Any) -> EvaluationDataset:
        """Add or update records: a list of dicts or Traces, or a DataFrame (also ``search_traces``'s).

        A record whose inputs equal an existing record's merges into it (expectations and tags
        updated, outputs replaced if given). Returns self, now at the version the merge made
        (the same version when nothing changed).
        """
        checked = dataset_record_dicts(records)  # every record is checked before anything is written
        self._become(self._bound().merge_dataset_records(self.dataset_id, checked))
        return self

    def delete_records(self, record_ids: Sequence[str]) -> int:
        """Delete records by id into a new version; returns how many were deleted."""
        dataset, deleted = self._bound().delete_dataset_records(self.dataset_id, list(record_ids))
        self._become(dataset)
        return deleted

    def to_df(self) -> Any:
        """The records of this version as a pandas DataFrame (one row per record)."""
        import pandas as pd

        columns = [*RECORD_FIELDS, "source_type", "dataset_record_id", "created_time", "last_update_time"]
        return pd.DataFrame([r.to_dict() for r in self.records], columns=columns)

    @property
    def schema(self) -> str | None:
        """MLflow's schema as JSON text: each field of the records' inputs, outputs and expectations with its
        type ("string", "integer", "object"...); None for a version without records."""
        records = self.records
        return json.dumps(_schema(records)) if records else None

    @property
    def profile(self) -> str | None:
        """MLflow's profile as JSON text, ``{"num_records": N}``; None for a version without records."""
        count = len(self.records)
        return json.dumps({"num_records": count}) if count else None

    def to_dict(self) -> dict[str, Any]:
        """This version with its records (``from_dict`` reads it back, unbound from any store)."""
        return {"dataset_id": self.dataset_id, "name": self.name, "experiment_ids": list(self.experiment_ids),
                "tags": dict(self.tags), "version": self.version, "digest": self.digest,
                "created_time": self.created_time, "last_update_time": self.last_update_time,
                "record_count": self.record_count, "schema": self.schema, "profile": self.profile,
                "records": [r.to_dict() for r in self.records]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvaluationDataset:
        """A dataset version from ``to_dict``'s form (or MLflow's). Its records are read, not fetched: call
        ``get_dataset`` for one bound to a store. Raises InvalidArgumentError naming a missing key."""
        for key in ("dataset_id", "name", "digest", "created_time", "last_update_time"):
            if key not in d:
                raise InvalidArgumentError(f"EvaluationDataset.from_dict: {key!r} is required")
        records = [DatasetRecord.from_dict(r) for r in d.get("records") or []]
        return cls(d["dataset_id"], d["name"], list(d.get("experiment_ids") or []), dict(d.get("tags") or {}),
                   int(d.get("version") or 0), d["digest"], int(d["created_time"]), int(d["last_update_time"]),
                   int(d.get("record_count", len(records))), _records=records)


# -- what merge_records accepts, as plain record dicts ------------------------------------------------
def dataset_record_dicts(data: Any) -> list[dict[str, Any]]:
    """Records given as dicts, Traces or a DataFrame → checked dicts with ``inputs`` and the fields given.

    ``outputs`` is present only when given (a merge replaces outputs only then). Raises
    InvalidArgumentError naming the index of the first bad record; nothing is half-read.
    """
    if isinstance(data, (Mapping, str, bytes)):
        raise InvalidArgumentError("records must be a list of dicts or Traces, or a DataFrame; got a single "
                                   f"{type(data).__name__}")
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        rows: Iterable[Any] = _dataframe_rows(data)
    elif isinstance(data, Iterable):
        rows = data
    else:
        raise InvalidArgumentError(f"records must be a list of dicts or Traces, or a DataFrame; got {data!r}")
    return [_record_dict(i, row) for i, row in enumerate(rows)]


def _dataframe_rows(df: Any) -> list[Any]:
    rows: list[dict[str, Any]] = df.to_dict(orient="records")
    if "trace" in df.columns:  # search_traces' DataFrame carries each trace (its JSON text, as MLflow's)
        return [_trace_cell(row["trace"]) if isinstance(row.get("trace"), (str, bytes, Trace)) else row
                for row in rows]
    if "inputs" not in df.columns and "request" in df.columns:  # a search_traces DataFrame without traces
        return [_request_row(row) for row in rows]
    return rows


def _request_row(row: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"inputs": _parsed(row.get("request"))}
    if row.get("response") is not None:
        record["outputs"] = _parsed(row.get("response"))
    if row.get("trace_id"):
        record["source"] = {"source_type": DatasetRecordSourceType.TRACE, "source_data": {"trace_id": row["trace_id"]}}
    return record


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _trace_record(trace: Trace) -> dict[str, Any]:
    root = next((s for s in trace.data.spans if s.parent_id is None), None)
    inputs = None if root is None else _parsed(root.inputs)
    expectations = {a.name: a.value for a in trace.info.assessments
                    if getattr(a, "kind", None) == "expectation" and getattr(a, "valid", True)}
    source_data: dict[str, Any] = {"trace_id": trace.info.trace_id}
    session = trace.info.trace_metadata.get("mlflow.trace.session")
    if session:
        source_data["session_id"] = session
    record: dict[str, Any] = {"inputs": inputs, "expectations": expectations,
                              "source": {"source_type": DatasetRecordSourceType.TRACE, "source_data": source_data}}
    if root is not None and root.outputs is not None:
        record["outputs"] = _parsed(root.outputs)
    return record


def _trace_cell(value: Any) -> Trace:
    return value if isinstance(value, Trace) else Trace.from_json(value)


def _is_missing(value: Any) -> bool:
    """None, or a DataFrame's NaN for a cell left empty."""
    return value is None or (isinstance(value, float) and value != value)


def _record_dict(index: int, row: Any) -> dict[str, Any]:
    if isinstance(row, Trace):
        row = _trace_record(row)
    elif isinstance(row, DatasetRecord):
        row = {name: getattr(row, name) for name in RECORD_FIELDS}
    if not isinstance(row, Mapping):
        raise InvalidArgumentError(f"record {index}: expected a dict or a Trace, got {type(row).__name__}")
    inputs = row.get("inputs")
    if not isinstance(inputs, Mapping) or not inputs:
        got = "no inputs" if _is_missing(inputs) else f"inputs of type {type(inputs).__name__}"
        raise InvalidArgumentError(f"record {index}: 'inputs' must be a non-empty dict, got {got}")
    record: dict[str, Any] = {"inputs": dict(inputs)}
    for name in ("expectations", "tags"):
        value = row.get(name)
        if _is_missing(value):
            value = {}
        if not isinstance(value, Mapping):
            raise InvalidArgumentError(f"record {index}: {name!r} must be a dict, got {type(value).__name__}")
        record[name] = dict(value)
    if "outputs" in row and not _is_missing(row["outputs"]):
        record["outputs"] = row["outputs"]
    source = row.get("source")
    if _is_missing(source):
        source = None
    if source is not None and not (isinstance(source, Mapping) and "source_type" in source):
        raise InvalidArgumentError(f"record {index}: 'source' must be a dict with a 'source_type', got {source!r}")
    record["source"] = None if source is None else dict(source)
    unknown = set(row) - {*RECORD_FIELDS, "dataset_record_id", "source_type", "created_time", "last_update_time"}
    if unknown:
        raise InvalidArgumentError(f"record {index}: unknown fields {sorted(unknown)} (a record has "
                                   f"{', '.join(RECORD_FIELDS)})")
    return record
