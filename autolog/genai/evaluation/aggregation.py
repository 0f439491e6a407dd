"""Aggregates of scorer values (``<name>/<aggregation>``) and quality criteria over them (``passed``, ``reason``).

Values become numbers as MLflow counts them: True/False and "yes"/"no" (any case) are 1/0,
ints and floats themselves; anything else (text, errors) is not aggregated.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from autolog._errors import InvalidArgumentError

__all__ = ["AGGREGATIONS", "aggregate", "check_aggregations", "check_criteria", "parse_criteria", "to_number"]


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    rank = 0.9 * (len(ordered) - 1)  # linear interpolation between closest ranks, as numpy's default
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "min": min, "max": max, "mean": statistics.fmean, "median": statistics.median,
    "variance": lambda v: statistics.pvariance(v) if len(v) > 1 else 0.0, "p90": _p90,
}


def to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return 1.0 if value.strip().lower() == "yes" else 0.0
    return None


def check_aggregations(name: str, aggregations: Sequence[Any]) -> None:
    for agg in aggregations:
        if not callable(agg) and agg not in AGGREGATIONS:
            raise InvalidArgumentError(f"scorer {name!r}: unknown aggregation {agg!r}; use one of "
                                       f"{', '.join(AGGREGATIONS)} or a callable")


def aggregate(name: str, values: list[Any], aggregations: Sequence[Any]) -> dict[str, float]:
    numbers = [n for v in values if (n := to_number(v)) is not None]
    if not numbers:
        return {}
    out = {}
    for agg in aggregations:
        label = agg if isinstance(agg, str) else getattr(agg, "__name__", "custom")
        out[f"{name}/{label}"] = float((AGGREGATIONS[agg] if isinstance(agg, str) else agg)(numbers))
    return out


_CLAUSE = re.compile(r"^\s*`?(?P<metric>[^`\s<>=!]+)`?\s*(?P<op>>=|<=|==|>|<)\s*(?P<value>[-+0-9.eE]+)\s*$")


def parse_criteria(criteria: str) -> list[tuple[str, str, float]]:
    """``"correctness/mean >= 0.9 AND latency/p90 <= 2"`` as (metric, op, threshold) clauses."""
    clauses = []
    for part in re.split(r"\s+AND\s+", criteria.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if match is None:
            raise InvalidArgumentError(f"quality_criteria: cannot read {part!r}; write clauses like "
                                       "'correctness/mean >= 0.9' joined by AND (operators >=, <=, >, <, ==)")
        try:
            threshold = float(match["value"])
        except ValueError as exc:
            raise InvalidArgumentError(f"quality_criteria: {match['value']!r} in {part!r} is not a number") from exc
        clauses.append((match["metric"], match["op"], threshold))
    return clauses


_OPS: dict[str, Callable[[float, float], bool]] = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
                                                   ">": lambda a, b: a > b, "<": lambda a, b: a < b,
                                                   "==": lambda a, b: a == b}


def check_criteria(clauses: list[tuple[str, str, float]], metrics: dict[str, float]) -> tuple[bool, str]:
    """Whether every clause holds, and a reason that names each failing one with the measured value."""
    failed = []
    for metric, op, threshold in clauses:
        value = metrics.get(metric)
        if value is None:
            failed.append(f"{metric} was not measured (metrics: {', '.join(sorted(metrics)) or 'none'})")
        elif not _OPS[op](value, threshold):
            failed.append(f"{metric} = {value:.4g}, needs {op} {threshold:g}")
    if failed:
        return False, "; ".join(failed)
    return True, "all quality criteria met: " + " AND ".join(f"{m} {o} {t:g}" for m, o, t in clauses)
