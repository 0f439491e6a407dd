"""The rows of an evaluation, from whatever the user passes as ``data``, checked before anything runs.

Accepted: a list of dicts, a pandas DataFrame (also one from ``search_traces``), an
``EvaluationDataset``, or a list of ``Trace``. Each row carries ``inputs`` (a dict, the keyword
arguments of ``predict_fn``) or a ``trace``; optionally ``outputs`` (then no ``predict_fn``),
``expectations`` (a dict) and ``tags``. A row that breaks these rules is an error naming it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog.entities.dataset import EvaluationDataset
from autolog.entities.trace import Trace

__all__ = ["DatasetInfo", "Row", "dataset_info", "rows_of"]

NO_OUTPUTS: Any = object()


@dataclass
class Row:
    index: int
    inputs: dict[str, Any] | None
    outputs: Any = NO_OUTPUTS  # predict_fn makes them
    expectations: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    trace: Trace | None = None  # an existing trace to score as it is

    @property
    def has_outputs(self) -> bool:
        return self.outputs is not NO_OUTPUTS


@dataclass(frozen=True)
class DatasetInfo:
    """What a run records of the data it evaluated: a dataset's id, name, exact version and digest."""

    dataset_id: str | None
    name: str
    version: int | None
    digest: str


def rows_of(data: Any) -> list[Row]:
    """The rows of ``data``, each checked (InvalidArgumentError naming the first bad one)."""
    if isinstance(data, EvaluationDataset):
        return [_row(i, r.to_dict()) for i, r in enumerate(data.records)]
    if isinstance(data, (str, bytes, Mapping)) or not hasattr(data, "__iter__"):
        raise InvalidArgumentError("evaluate(data=...) takes a list of dicts, a pandas DataFrame, an "
                                   f"EvaluationDataset or a list of Trace; got a {type(data).__name__}")
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a DataFrame
        items: list[Any] = data.to_dict(orient="records")
    else:
        items = list(data)
    rows = [_row(i, item) for i, item in enumerate(items)]
    if not rows:
        raise InvalidArgumentError("evaluate(data=...) is empty: there is nothing to evaluate")
    return rows


def _row(index: int, item: Any) -> Row:
    if isinstance(item, Trace):
        return _trace_row(index, item, {}, {})
    if not isinstance(item, Mapping):
        raise InvalidArgumentError(f"row {index} of the data is a {type(item).__name__}; each row is a dict with "
                                   "'inputs' (or 'trace'), or a Trace")
    expectations = _dict_or_empty(item.get("expectations"), index, "expectations")
    tags = {str(k): str(v) for k, v in _dict_or_empty(item.get("tags"), index, "tags").items()}
    trace = item.get("trace")
    if isinstance(trace, (str, bytes)) and trace:  # a search_traces DataFrame's cell: the trace's JSON, as MLflow's
        trace = _trace_from_json(index, trace)
    if isinstance(trace, Trace):
        return _trace_row(index, trace, expectations, tags)
    if "inputs" not in item and "request" in item:  # a search_traces DataFrame without the trace column
        item = {**item, "inputs": item["request"], "outputs": item.get("response", NO_OUTPUTS)}
    if "inputs" not in item:
        raise InvalidArgumentError(f"row {index} of the data has neither 'inputs' nor 'trace' (keys: "
                                   f"{sorted(map(str, item))})")
    inputs = item["inputs"]
    if isinstance(inputs, str):
        try:
            inputs = json.loads(inputs)
        except ValueError:
            pass
    if not isinstance(inputs, Mapping):
        raise InvalidArgumentError(f"row {index}: 'inputs' must be a dict (the keyword arguments of predict_fn), "
                                   f"got a {type(inputs).__name__}: {inputs!r:.80}")
    outputs = item.get("outputs", NO_OUTPUTS)
    if outputs is None or (isinstance(outputs, float) and outputs != outputs):  # a DataFrame's empty cell
        outputs = NO_OUTPUTS
    return Row(index, dict(inputs), outputs, expectations, tags)


def _trace_from_json(index: int, text: str | bytes) -> Trace:
    try:
        return Trace.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgumentError(f"row {index} of the data: its 'trace' is text but not a trace's JSON ({exc})") \
            from None


def _trace_row(index: int, trace: Trace, expectations: dict[str, Any], tags: dict[str, str]) -> Row:
    root = next((s for s in trace.data.spans if s.parent_id is None), None)
    stored = {a.name: a.value for a in trace.info.assessments if a.kind == "expectation" and a.valid}
    inputs = root.inputs if root is not None else None
    return Row(index, inputs if isinstance(inputs, dict) else {"inputs": inputs},
               root.outputs if root is not None else None, {**stored, **expectations}, tags, trace)


def _dict_or_empty(value: Any, index: int, what: str) -> dict[str, Any]:
    if value is None or (isinstance(value, float) and value != value):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"row {index}: '{what}' must be a dict, got a {type(value).__name__}")
    return dict(value)


def dataset_info(data: Any, rows: list[Row]) -> DatasetInfo:
    if isinstance(data, EvaluationDataset):
        return DatasetInfo(data.dataset_id, data.name, data.version, data.digest)
    canonical = json.dumps([[r.inputs, r.expectations] for r in rows], sort_keys=True, default=str)
    return DatasetInfo(None, "dataset", None, hashlib.sha256(canonical.encode()).hexdigest()[:16])
