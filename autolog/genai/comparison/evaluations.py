"""``compare_evaluations``: a candidate evaluation run against a baseline, row by row, with paired tests.

Rows are paired by their inputs (a digest of the root span's inputs, keys sorted): an
evaluation dataset holds each inputs once, so this is pairing by dataset record, and it also
pairs runs over plain lists of dicts. Inputs that occur several times in a run pair in order.
A pair compares the same question answered by both versions, which removes the questions'
own difficulty from the difference: the reason a paired test finds a real change with far
fewer rows than comparing two means.

Per row: each feedback's value as a number (several feedbacks of one name on a row, such as
one per retrieved document, are averaged), the latency, the total tokens and the cost.
Overrides count: a person's correction of a feedback of the run replaces it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autolog._client import Client, get_default_client
from autolog._errors import AutologError
from autolog._store.comparison import evaluation_rows
from autolog._store.connections import Connections
from autolog.genai.comparison.stats import PairedComparison, compare_paired

__all__ = ["ROW_MEASURES", "ComparisonResult", "RegressionError", "RowKey", "RunPairs", "RunRow", "compare_evaluations",
           "compare_pairs", "pair_runs", "run_rows"]

# Per-row measures of the trace besides the scorers (named apart from any scorer); lower is better for each.
ROW_MEASURES = ("trace.latency_ms", "trace.total_tokens", "trace.cost")
# Built-in scorers whose numbers are better low (Latency and TokenBudget without a limit; with one
# they answer pass/fail, where a pass is better).
LOWER_IS_BETTER_SCORERS = frozenset({"latency", "total_tokens"})


class RegressionError(AutologError, AssertionError):
    """``assert_no_regression`` found a metric that regressed; the message holds the whole table."""


@dataclass(frozen=True)
class ComparisonResult:
    """The comparison of two evaluation runs: one ``PairedComparison`` per scorer and per row measure."""

    candidate_run_id: str
    baseline_run_id: str
    n_pairs: int
    unpaired_candidate: int  # rows of the candidate run with no baseline row of the same inputs
    unpaired_baseline: int
    confidence_level: float
    comparisons: tuple[PairedComparison, ...]

    def __getitem__(self, name: str) -> PairedComparison:
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(f"{name!r} was not compared; compared: {', '.join(c.name for c in self.comparisons)}")

    def to_df(self) -> Any:
        import pandas as pd

        return pd.DataFrame([c.__dict__ for c in self.comparisons])

    def table(self) -> str:
        """The comparison as a plain-text table (what ``summary`` prints)."""
        level = f"{self.confidence_level:.0%}"
        header = ["metric", "baseline", "candidate", "difference", f"{level} CI", "p", "test", "pairs", "verdict"]
        rows = [[c.name, _num(c.baseline_mean), _num(c.candidate_mean), _num(c.difference, signed=True),
                 "-" if math.isnan(c.ci_low) else f"[{_num(c.ci_low, signed=True)}, {_num(c.ci_high, signed=True)}]",
                 "-" if c.p_value is None else f"{c.p_value:.3g}", c.test or "-", str(c.n_pairs), c.verdict]
                for c in self.comparisons]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                 for row in [header, *rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"candidate run {self.candidate_run_id} vs baseline run {self.baseline_run_id}: "
                     f"{self.n_pairs} paired rows ({self.unpaired_candidate} candidate and {self.unpaired_baseline}"
                     " baseline rows without a partner)")
        return "\n".join(lines)

    def summary(self) -> str:
        """Print the table and return it."""
        text = self.table()
        print(text)
        return text

    def regressions(self, scorers: Sequence[str] | None = None) -> list[PairedComparison]:
        names = set(scorers) if scorers is not None else {c.name for c in self.comparisons
                                                           if c.name not in ROW_MEASURES}
        unknown = names - {c.name for c in self.comparisons}
        if unknown:
            raise KeyError(f"not compared: {', '.join(sorted(unknown))}; compared: "
                           f"{', '.join(c.name for c in self.comparisons)}")
        return [c for c in self.comparisons if c.name in names and c.verdict == "regressed"]

    def assert_no_regression(self, scorers: Sequence[str] | None = None) -> None:
        """Raise ``RegressionError`` (with the table) if a scorer regressed: a gate for CI.

        ``scorers=None`` checks every scorer; name ``"trace.latency_ms"``, ``"trace.total_tokens"``
        or ``"trace.cost"`` to check those too.
        """
        regressed = self.regressions(scorers)
        if regressed:
            raise RegressionError(f"{', '.join(c.name for c in regressed)} regressed "
                                  f"(p < {1 - self.confidence_level:.2g}):\n{self.table()}")


def _num(value: float, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _inputs_key(inputs_json: str | None) -> str:
    try:
        canonical = json.dumps(json.loads(inputs_json), sort_keys=True) if inputs_json is not None else "null"
    except ValueError:
        canonical = inputs_json or ""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class RunRow:
    """One row of an evaluation run: its trace, the root span's inputs and outputs (JSON text), the numbers
    compared (each scorer's mean on the row and the ``ROW_MEASURES``), and each scorer's last value and rationale."""

    trace_id: str
    inputs_json: str | None
    outputs_json: str | None
    numbers: dict[str, float | None]
    scores: dict[str, dict[str, Any]]


RowKey = tuple[str, int]  # (inputs digest, occurrence of those inputs in the run)


def run_rows(connections: Connections, run_id: str) -> dict[RowKey, RunRow]:
    """The run's rows keyed by (inputs digest, occurrence), oldest trace first."""
    traces, feedback = evaluation_rows(connections, run_id)  # the store's SQL, in its dialect
    values: dict[str, dict[str, list[float]]] = {}
    scores: dict[str, dict[str, dict[str, Any]]] = {}
    for trace_id, name, number, value_json, rationale in feedback:
        if number is not None:
            values.setdefault(trace_id, {}).setdefault(name, []).append(float(number))
        scores.setdefault(trace_id, {})[name] = {"value": json.loads(value_json) if value_json is not None else None,
                                                 "rationale": rationale}
    rows: dict[RowKey, RunRow] = {}
    seen: dict[str, int] = {}
    for trace_id, _, duration, total_tokens, cost, inputs_json, outputs_json in traces:
        digest = _inputs_key(inputs_json)
        occurrence = seen[digest] = seen.get(digest, -1) + 1
        numbers: dict[str, float | None] = dict(zip(ROW_MEASURES, (duration, total_tokens, cost), strict=True))
        for name, found in values.get(trace_id, {}).items():
            numbers[name] = sum(found) / len(found)
        rows[(digest, occurrence)] = RunRow(trace_id, inputs_json, outputs_json, numbers, scores.get(trace_id, {}))
    return rows


@dataclass(frozen=True)
class RunPairs:
    """Two runs' rows, paired by inputs: what ``compare_evaluations`` tests and the UI lists row by row."""

    candidate: dict[RowKey, RunRow]
    baseline: dict[RowKey, RunRow]

    @property
    def paired(self) -> list[RowKey]:
        return [key for key in self.baseline if key in self.candidate]

    def rows(self) -> list[tuple[RunRow | None, RunRow | None]]:
        """``(baseline, candidate)`` per row: the baseline's rows in order (with their partner or None), then the
        candidate's rows without a partner."""
        out: list[tuple[RunRow | None, RunRow | None]] = [(row, self.candidate.get(key))
                                                          for key, row in self.baseline.items()]
        out.extend((None, row) for key, row in self.candidate.items() if key not in self.baseline)
        return out


def pair_runs(candidate_run_id: str, baseline_run_id: str, *, client: Client | None = None) -> RunPairs:
    """Read two evaluation runs and pair their rows (an unknown run fails, naming it). Blocks on the store."""
    client = client if client is not None else get_default_client()
    client.flush()
    for run_id in (candidate_run_id, baseline_run_id):
        client.store.get_run(run_id)  # an unknown run fails here, naming it
    connections = client.store.connections
    return RunPairs(run_rows(connections, candidate_run_id), run_rows(connections, baseline_run_id))


def compare_evaluations(candidate_run_id: str, baseline_run_id: str, *, confidence_level: float = 0.95,
                        min_pairs: int = 6, lower_is_better: Sequence[str] = (),
                        client: Client | None = None) -> ComparisonResult:
    """Compare two evaluation runs (``EvaluationResult.run_id``) row by row.

    Per scorer: both means, the difference (candidate - baseline), a bootstrap confidence
    interval of it, a paired test (McNemar for pass/fail scores, Wilcoxon signed-rank otherwise),
    the number of pairs and a verdict: "improved", "regressed", "no detectable difference" or
    "too few pairs" (under ``min_pairs``). A higher score is better, except for the scorers named
    in ``lower_is_better`` (a length, a toxicity) and the numbers of the built-in ``latency`` and
    ``total_tokens`` scorers. The same for each row's ``trace.latency_ms``, ``trace.total_tokens``
    and ``trace.cost``, where lower is better. Uses scipy when installed, the same tests in
    plain Python otherwise. ``client``: whose store (default: the default client's). Blocks on the store.
    """
    return compare_pairs(pair_runs(candidate_run_id, baseline_run_id, client=client), candidate_run_id,
                         baseline_run_id, confidence_level=confidence_level, min_pairs=min_pairs,
                         lower_is_better=lower_is_better)


def compare_pairs(pairs: RunPairs, candidate_run_id: str, baseline_run_id: str, *, confidence_level: float = 0.95,
                  min_pairs: int = 6, lower_is_better: Sequence[str] = ()) -> ComparisonResult:
    """``compare_evaluations`` over rows already read and paired (``pair_runs``)."""
    candidate, baseline, paired = pairs.candidate, pairs.baseline, pairs.paired
    scorer_names = sorted({n for rows in (candidate, baseline) for r in rows.values() for n in r.numbers}
                          - set(ROW_MEASURES))
    comparisons = []
    for name in [*scorer_names, *ROW_MEASURES]:
        before = [baseline[k].numbers.get(name) for k in paired]
        after = [candidate[k].numbers.get(name) for k in paired]
        pass_fail = all(v in (0, 1) for v in (*before, *after) if v is not None)
        lower = (name in ROW_MEASURES or name in lower_is_better
                 or (name in LOWER_IS_BETTER_SCORERS and not pass_fail))
        comparisons.append(compare_paired(name, before, after, higher_is_better=not lower,
                                          confidence_level=confidence_level, min_pairs=min_pairs,
                                          kind="numeric" if name in ROW_MEASURES else None))
    return ComparisonResult(candidate_run_id, baseline_run_id, len(paired), len(candidate) - len(paired),
                            len(baseline) - len(paired), confidence_level, tuple(comparisons))
