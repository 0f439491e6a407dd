"""``compare_versions``: one row per version (and per split value) with quality, latency, tokens, cost, errors.

The store does the counting (``autolog._store.comparison``); this module turns its sums
and latency histograms into the table. Means are over the traces that carry the value:
tokens over traces that reported usage, cost over priced traces, a feedback over the traces
that have it; ``priced_traces`` and ``unpriced_models`` say how much of the cost is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autolog._client import Client, get_default_client
from autolog._errors import InvalidArgumentError
from autolog._store.comparison import (
    SplitKey,
    VersionTotals,
    parse_split_key,
    unpriced_models,
    version_feedback,
    version_totals,
)

__all__ = ["LATENCY_PERCENTILES", "VersionData", "compare_versions", "percentile_from_histogram", "version_data",
           "version_rows"]

LATENCY_PERCENTILES = (50, 95, 99)


def percentile_from_histogram(counts: dict[int, int], q: float) -> float | None:
    """The q-th percentile (0-100) of values given as value -> count, interpolated linearly as numpy's default.

    Exact: the same number ``numpy.percentile`` gives on the expanded values.
    """
    n = sum(counts.values())
    if n == 0:
        return None
    rank = (n - 1) * q / 100.0
    wanted = [int(rank), min(int(rank) + 1, n - 1)]  # the positions (0-based, in sorted order) around the rank
    found: list[int] = []
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        while wanted and wanted[0] < seen:
            found.append(value)
            wanted.pop(0)
        if not wanted:
            break
    low, high = found
    return low + (high - low) * (rank - int(rank))


def _ms(value: datetime | int | float | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise InvalidArgumentError(f"{name} must be a datetime or epoch milliseconds, got {type(value).__name__}")


def _row(t: VersionTotals, name: str | None, by: SplitKey | None) -> dict[str, Any]:
    row: dict[str, Any] = {"model_id": t.model_id, "name": name}
    if by is not None:
        row[by.label] = t.split
    finished = sum(t.latency_counts.values())
    row.update({
        "traces": t.traces, "errors": t.errors, "error_rate": t.errors / t.traces if t.traces else None,
        **{f"latency_p{q}_ms": percentile_from_histogram(t.latency_counts, q) for q in LATENCY_PERCENTILES},
        "latency_mean_ms": (sum(ms * n for ms, n in t.latency_counts.items()) / finished) if finished else None,
    })
    for column in ("input_tokens", "output_tokens", "total_tokens"):
        count = t.token_counts.get(column, 0)
        row[f"{column}_mean"] = t.token_sums[column] / count if count else None
        row[f"{column}_sum"] = t.token_sums.get(column, 0)
    row.update({"cost_mean": t.cost_sum / t.priced if t.priced else None, "cost_total": t.cost_sum,
                "priced_traces": t.priced})
    return row


@dataclass
class VersionData:
    """What the store counted for a comparison: names, per-(version, split) totals, feedback rows."""

    model_ids: list[str]
    names: dict[str, str]
    split: SplitKey | None
    totals: list[VersionTotals]
    feedback: list[tuple[str, str | None, str, float | None, int, float | None]]
    unpriced: dict[str, list[str]]


def version_data(model_ids: Sequence[str], *, experiment_id: str | None = None, filter_string: str | None = None,
                 since: datetime | int | None = None, until: datetime | int | None = None,
                 by: str | None = None, client: Client | None = None) -> VersionData:
    """Check the arguments and have the store count (``compare_versions``, the plot and the UI share this);
    ``client``: whose store (default: the default client's)."""
    if isinstance(model_ids, str) or not all(isinstance(m, str) for m in model_ids):
        raise InvalidArgumentError(f"model_ids must be a list of LoggedModel ids, got {model_ids!r}")
    ids = list(dict.fromkeys(model_ids))
    split = parse_split_key(by) if by is not None else None
    since_ms, until_ms = _ms(since, "since"), _ms(until, "until")
    client = client if client is not None else get_default_client()
    client.flush()  # what the application recorded so far is compared too
    names = {m: client.get_logged_model(m).name for m in ids}  # also: an unknown id fails here, clearly
    connections = client.store.connections
    totals = version_totals(connections, ids, experiment_id, filter_string, since_ms, until_ms, split)
    found = {t.model_id for t in totals}
    totals.extend(VersionTotals(m, None) for m in ids if m not in found)
    totals.sort(key=lambda t: (ids.index(t.model_id), t.split is None, t.split or ""))
    unpriced = {m: unpriced_models(connections, m) if any(t.used_tokens_unpriced for t in totals
                                                          if t.model_id == m) else [] for m in ids}
    feedback = version_feedback(connections, ids, experiment_id, filter_string, since_ms, until_ms, split)
    return VersionData(ids, names, split, totals, feedback, unpriced)


def compare_versions(model_ids: Sequence[str], *, experiment_id: str | None = None, filter_string: str | None = None,
                     since: datetime | int | None = None, until: datetime | int | None = None,
                     by: str | None = None, return_type: str = "pandas", client: Client | None = None) -> Any:
    """Compare versions (LoggedModel ids) over their traces: a pandas DataFrame with one row per version.

    Columns: ``model_id``, ``name``, (the ``by`` key), ``traces``, ``errors``, ``error_rate``,
    ``latency_p50_ms``/``p95``/``p99``/``latency_mean_ms``, ``input_tokens_mean``/``_sum`` (and
    output, total), ``cost_mean`` (USD per priced trace), ``cost_total``, ``priced_traces``,
    ``unpriced_models`` (models that used tokens but have no price), then ``<feedback>/mean``
    and ``<feedback>/n`` for every feedback name. ``filter_string`` takes ``search_traces``'
    grammar; ``since``/``until`` bound the request time (datetime or epoch ms; until excluded);
    ``by="tags.environment"`` (any tag or metadata key) gives one row per version and value.
    Versions without traces in scope get a row of zeros, in the order given. ``return_type="list"``
    gives the rows as dicts (no pandas needed). ``client``: whose store (default: the default client's).
    Blocks on the store.
    """
    if return_type not in ("pandas", "list"):
        raise InvalidArgumentError(f"return_type must be 'pandas' or 'list', got {return_type!r}")
    data = version_data(model_ids, experiment_id=experiment_id, filter_string=filter_string, since=since,
                        until=until, by=by, client=client)
    rows = version_rows(data)
    if return_type == "list":
        return rows
    import pandas as pd

    return pd.DataFrame(rows)


def version_rows(data: VersionData) -> list[dict[str, Any]]:
    """``compare_versions``' rows (as dicts) from what the store counted."""
    rows = {(t.model_id, t.split): _row(t, data.names[t.model_id], data.split) for t in data.totals}
    for (model_id, _), row in rows.items():
        row["unpriced_models"] = data.unpriced[model_id]
    feedback_names: list[str] = []
    for model_id, split_value, name, mean, n, _ in data.feedback:
        if name not in feedback_names:
            feedback_names.append(name)
        target = rows.get((model_id, split_value))
        if target is not None:
            target[f"{name}/mean"], target[f"{name}/n"] = mean, n
    for row in rows.values():
        for name in feedback_names:
            row.setdefault(f"{name}/mean", None)
            row.setdefault(f"{name}/n", 0)
    return list(rows.values())
