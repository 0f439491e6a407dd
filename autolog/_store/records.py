"""The store's record: one trace as a flat tuple of text and numbers, also the spool's line format.

The export pipeline makes records (``autolog._export.encode``), the store writes them
(``write_records``), and a record that cannot be written yet is appended to the spool as
a JSON object (``record_to_json``) and read back from it (``record_from_json``).
"""

from __future__ import annotations

import json
from typing import Any

from autolog.entities import keys

__all__ = [
    "METADATA_COLUMNS",
    "METADATA_FIELD",
    "RECORD_FIELDS",
    "SET_FIELD",
    "SPANS_FIELD",
    "TAGS_FIELD",
    "TAG_COLUMNS",
    "TOKEN_COUNTS",
    "Record",
    "content_chars",
    "record_from_json",
    "record_to_json",
    "token_counts",
]

# A record is one trace as the store writes it: a flat tuple of text and numbers, with tags,
# metadata and span rows as tuples of tuples. Only exact tuples of immutable values are
# untracked by the garbage collector after one pass, so records waiting in the export queue
# cost no collection work (dicts and lists would be scanned by every collection until
# written, and promoted into the generation whose collections are the costly full ones).
# Fields, in order:
RECORD_FIELDS = ("trace_id", "experiment_id", "name", "request_time", "execution_duration", "state",
                 "client_request_id", "model_id", "run_id", "token_usage", "input_tokens", "output_tokens",
                 "total_tokens", "cost", "request_preview", "response_preview", "metadata_set", "tags", "metadata",
                 "spans")
SET_FIELD, TAGS_FIELD, METADATA_FIELD, SPANS_FIELD = (RECORD_FIELDS.index(f) for f in (
    "metadata_set", "tags", "metadata", "spans"))  # the fields before TAGS_FIELD are the `traces` row
Record = tuple[Any, ...]


def content_chars(record: Record) -> int:
    """Characters of span content (inputs, outputs, attributes, events) in a record: what write bounds count."""
    return sum(len(row[-1]) for row in record[SPANS_FIELD])


TOKEN_COUNTS = ("input_tokens", "output_tokens", "total_tokens")


def token_counts(usage: Any) -> tuple[int | None, int | None, int | None]:
    """The three counts of a token usage (a dict, or its JSON text) as integer columns: SQL sums them
    without parsing JSON per row (a million traces compare in a third of the time)."""
    if isinstance(usage, str):
        try:
            usage = json.loads(usage)
        except ValueError:
            return None, None, None
    if not isinstance(usage, dict):
        return None, None, None
    return tuple(v if type(v) is int else None for v in map(usage.get, TOKEN_COUNTS))  # type: ignore[return-value]


# Keys every trace carries are columns of `traces`, not key/value rows (two fewer index
# inserts each); reads and filters treat them as the tag/metadata they are. (`cost`, the
# total USD of the metadata mlflow.trace.cost, is a column beside that metadata, which stays
# a key/value row: the column is for SQL sums and ordering, the metadata for MLflow.)
TAG_COLUMNS = {keys.TRACE_NAME_TAG: "name"}
METADATA_COLUMNS = {keys.MODEL_ID: "model_id", keys.TOKEN_USAGE: "token_usage"}


def record_to_json(record: Record, set_values: dict[str, str] | None) -> dict[str, Any]:
    """A record as a JSON object (a spool line), with the content of its metadata set if it names one."""
    obj = dict(zip(RECORD_FIELDS, record, strict=True))
    if record[SET_FIELD] is not None:
        obj["metadata_set_values"] = set_values
    return obj


def record_from_json(obj: dict[str, Any]) -> tuple[Record, dict[str, str] | None]:
    """A spooled record and the content of the metadata set it names (None if it names none).

    Also reads the first spool format, whose tags and metadata still held the keys that are
    columns now, and whose ``metadata_set`` was ``[set_id, values]``; and the second, without
    ``cost`` (written before costs were computed: such a trace has none) and the token counts
    (read from its ``token_usage``).
    """
    obj = dict(obj)
    set_values = obj.pop("metadata_set_values", None)
    obj.setdefault("cost", None)
    if "token_usage" not in obj:
        metadata, tags = dict(obj["metadata"]), dict(obj["tags"])
        obj["token_usage"] = metadata.pop(keys.TOKEN_USAGE, None)
        metadata.pop(keys.MODEL_ID, None)
        obj["name"] = tags.pop(keys.TRACE_NAME_TAG, obj["name"])
        obj["metadata"], obj["tags"] = metadata, tags
        shared = obj.get("metadata_set")
        obj["metadata_set"], set_values = (shared[0], shared[1]) if shared else (None, None)
    if "total_tokens" not in obj:  # spooled before the token counts were columns
        obj.update(zip(TOKEN_COUNTS, token_counts(obj.get("token_usage")), strict=True))
    return tuple(_frozen(obj[name]) for name in RECORD_FIELDS), set_values


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(value.items())
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
