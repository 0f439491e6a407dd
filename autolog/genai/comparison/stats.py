"""Paired statistics for comparing two evaluation runs (candidate vs baseline, paired by dataset record).

Why paired tests: both runs score the *same* records, so per-record differences cancel the
record-to-record variation (easy vs hard questions) that an unpaired test would count as noise.

* pass/fail scorers -> exact McNemar test (only discordant pairs carry information);
* numeric values (scores, latency, tokens, cost) -> Wilcoxon signed-rank test (no normality
  assumption: latencies and costs are skewed and have outliers);
* the mean difference gets a percentile bootstrap CI (no distributional assumption either).

Everything is plain Python; scipy is used only when installed (``use_scipy=None``), and the
plain path reproduces ``scipy.stats.binomtest`` / ``scipy.stats.wilcoxon(method="auto")``
of scipy 1.17 (tests check both paths on the same data).
"""

from __future__ import annotations

import functools
import importlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from autolog._errors import InvalidArgumentError

__all__ = ["PairedComparison", "bootstrap_ci", "compare_paired", "mcnemar_p_value", "wilcoxon_p_value"]

# scipy.stats.wilcoxon(method="auto") switches to the normal approximation above 50 values, and
# uses an exact permutation distribution for ties/zeros only up to 13 values (2**13 sign flips).
_EXACT_MAX_N = 50
_PERMUTATION_MAX_N = 13


@functools.cache
def _scipy_stats() -> Any:
    """``scipy.stats`` or None; imported lazily because importing scipy costs ~0.3 s."""
    try:
        return importlib.import_module("scipy.stats")
    except ImportError:
        return None


def _resolve_scipy(use_scipy: bool | None) -> Any:
    """None: scipy if installed; True: scipy or ImportError; False: the plain-Python path."""
    if use_scipy is False:
        return None
    module = _scipy_stats()
    if module is None and use_scipy:
        raise ImportError("use_scipy=True but scipy is not installed")
    return module


def mcnemar_p_value(b: int, c: int, *, use_scipy: bool | None = None) -> float:
    """Exact two-sided McNemar p-value for ``b`` (baseline pass, candidate fail) and ``c`` (the reverse).

    Why exact: evaluation sets are small and discordant pairs rarer still, where the chi-square
    version is poor. Under H0 each discordant pair is a fair coin, so p = min(1, 2 P(X <= min(b, c)))
    with X ~ Bin(b + c, 1/2); this equals scipy's ``binomtest`` two-sided p because Bin(n, 1/2) is
    symmetric. No discordant pair means no evidence: p = 1.
    """
    if b < 0 or c < 0:
        raise InvalidArgumentError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    scipy_stats = _resolve_scipy(use_scipy)
    if scipy_stats is not None:
        return float(scipy_stats.binomtest(k, n, 0.5).pvalue)
    # Exact integer sum of C(n, i), i <= k, then one correctly rounded division (no underflow drift).
    term = total = 1
    for i in range(k):
        term = term * (n - i) // (i + 1)
        total += term
    return min(1.0, 2 * total / (1 << n))


def _doubled_signed_ranks(differences: Sequence[float]) -> tuple[list[int], list[int], list[int]]:
    """Average ranks of |d| over non-zero d, doubled so ties' half ranks stay integers.

    Returns (doubled ranks, signs +1/-1, sizes of tie groups); zeros are dropped ("wilcox").
    """
    nonzero = sorted((abs(d), 1 if d > 0 else -1) for d in differences if d != 0)
    ranks: list[int] = []
    tie_sizes: list[int] = []
    start = 0
    while start < len(nonzero):
        end = start
        while end + 1 < len(nonzero) and nonzero[end + 1][0] == nonzero[start][0]:
            end += 1
        # ranks start+1 .. end+1 share their average (start + end + 2) / 2
        ranks.extend([start + end + 2] * (end - start + 1))
        tie_sizes.append(end - start + 1)
        start = end + 1
    return ranks, [sign for _, sign in nonzero], tie_sizes


def _exact_two_sided(doubled_ranks: list[int], observed: int) -> float:
    """2 min(P(T <= t), P(T >= t)) where T sums each rank with a fair random sign (null of no shift).

    A counting DP over sums of doubled ranks: with distinct ranks it is Wilcoxon's exact
    distribution; with ties it is the full sign-flip permutation distribution scipy enumerates.
    """
    counts = [1]
    for rank in doubled_ranks:
        grown = counts + [0] * rank
        for total, ways in enumerate(counts):
            grown[total + rank] += ways
        counts = grown
    at_most, at_least = sum(counts[: observed + 1]), sum(counts[observed:])
    return min(1.0, 2 * min(at_most, at_least) / sum(counts))


def _wilcoxon(differences: Sequence[float], use_scipy: bool | None) -> tuple[float, float]:
    """(two-sided p, R+ - R-): the rank-sum direction is what the test actually detects."""
    ranks, signs, tie_sizes = _doubled_signed_ranks(differences)
    direction = sum(rank * sign for rank, sign in zip(ranks, signs, strict=True)) / 2
    if not ranks:  # empty or all zeros: nothing moved; scipy would give nan
        return 1.0, 0.0
    scipy_stats = _resolve_scipy(use_scipy)
    if scipy_stats is not None:
        return float(scipy_stats.wilcoxon([float(d) for d in differences]).pvalue), direction
    n_total, n_used = len(differences), len(ranks)
    doubled_r_plus = sum(rank for rank, sign in zip(ranks, signs, strict=True) if sign > 0)
    has_ties_or_zeros = n_used < n_total or len(tie_sizes) < n_used
    # Same switch as scipy's method="auto" (sizes count the zeros, as scipy does).
    if n_total <= _EXACT_MAX_N and (not has_ties_or_zeros or n_total <= _PERMUTATION_MAX_N):
        return _exact_two_sided(ranks, doubled_r_plus), direction
    # Normal approximation with the tie correction and, like scipy's default, no continuity correction.
    mean = n_used * (n_used + 1) / 4
    tie_correction = sum(t**3 - t for t in tie_sizes) / 2
    sd = math.sqrt((n_used * (n_used + 1) * (2 * n_used + 1) - tie_correction) / 24)
    z = (doubled_r_plus / 2 - mean) / sd
    return math.erfc(abs(z) / math.sqrt(2)), direction


def wilcoxon_p_value(differences: Sequence[float], *, use_scipy: bool | None = None) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (candidate - baseline).

    Why these choices (all scipy 1.17 ``wilcoxon`` defaults, so both paths agree): zeros are
    dropped (``zero_method="wilcox"``: an unchanged record says nothing about direction), ties get
    average ranks; up to 50 values without ties or zeros the exact null distribution is used;
    with ties or zeros, up to 13 values the exact sign-flip distribution, otherwise the normal
    approximation with tie correction and no continuity correction. All zeros (or no values): p = 1.
    """
    return _wilcoxon(differences, use_scipy)[0]


def bootstrap_ci(differences: Sequence[float], confidence_level: float = 0.95, resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean difference; deterministic for a given ``seed``.

    Why percentile bootstrap: it assumes no distribution (scores are bounded, latencies skewed) and
    is simple to check. Why a seeded ``random.Random``: a report must not change between reruns.
    ``rng.choices`` + ``sum`` keep 1,000 pairs x 2,000 resamples well under a second in plain Python.
    Quantiles interpolate linearly between order statistics (numpy's default). No values: (nan, nan);
    all equal: (d, d) exactly, with no floating-point noise from summing.
    """
    if not 0 < confidence_level < 1:
        raise InvalidArgumentError(f"confidence_level must be in (0, 1), got {confidence_level!r}")
    if resamples < 1:
        raise InvalidArgumentError(f"resamples must be >= 1, got {resamples!r}")
    values = [float(d) for d in differences]
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    if all(v == values[0] for v in values):
        return values[0], values[0]
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    alpha = 1 - confidence_level
    return _quantile(means, alpha / 2), _quantile(means, 1 - alpha / 2)


def _quantile(sorted_values: list[float], q: float) -> float:
    position = q * (len(sorted_values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * (position - below)


@dataclass(frozen=True)
class PairedComparison:
    """One metric of a candidate run against a baseline run, over the records both runs scored.

    ``difference`` is candidate - baseline (of pass rates for pass/fail); ``ci_low``/``ci_high`` bound
    it; ``p_value``/``test`` are None (and the CI nan) when there were too few pairs to test.
    """

    name: str
    kind: Literal["pass_fail", "numeric"]
    n_pairs: int
    baseline_mean: float
    candidate_mean: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float | None
    test: Literal["mcnemar", "wilcoxon"] | None
    verdict: Literal["improved", "regressed", "no detectable difference", "too few pairs"]
    higher_is_better: bool


def compare_paired(name: str, baseline: Sequence[float | bool | None], candidate: Sequence[float | bool | None], *,
                   higher_is_better: bool = True, confidence_level: float = 0.95, min_pairs: int = 6,
                   use_scipy: bool | None = None, kind: Literal["pass_fail", "numeric"] | None = None,
                   ) -> PairedComparison:
    """Compare ``candidate[i]`` with ``baseline[i]`` (same dataset record) for one metric.

    Pairs with a missing (None or nan) side are dropped: a record one run failed to score cannot
    be paired. The metric is pass/fail when every value is a bool or 0/1 (McNemar), else numeric
    (Wilcoxon). Why ``min_pairs=6``: with 5 pairs or fewer neither test can reach p < 0.05 (the
    smallest possible p is 2/2**5 = 0.0625), so no test and no CI are reported.

    The verdict's direction is the sign of the mean difference. For Wilcoxon a zero mean with a
    small p is possible (a few large moves one way, many small ones the other); then the direction
    is the rank sum's (R+ - R-), since that is what the test detected. McNemar: p < 1 needs b != c,
    so the mean difference (c - b) / n is never 0 there. ``higher_is_better=False`` for latency,
    tokens, cost. ``kind`` forces the test when the values alone cannot tell: a measure such as
    latency or cost is numeric even when every value happens to be 0 or 1.
    """
    if kind not in (None, "pass_fail", "numeric"):
        raise InvalidArgumentError(f"{name}: kind must be 'pass_fail', 'numeric' or None, got {kind!r}")
    if len(baseline) != len(candidate):
        raise InvalidArgumentError(f"{name}: baseline has {len(baseline)} values, candidate {len(candidate)}")
    if not 0 < confidence_level < 1:
        raise InvalidArgumentError(f"confidence_level must be in (0, 1), got {confidence_level!r}")
    pairs = [(float(b), float(c)) for b, c in zip(baseline, candidate, strict=True)
             if b is not None and c is not None and not math.isnan(b) and not math.isnan(c)]
    present = [v for v in (*baseline, *candidate) if v is not None]
    if kind is None:
        kind = "pass_fail" if present and all(isinstance(v, bool) or v in (0, 1) for v in present) else "numeric"
    n_pairs = len(pairs)
    baseline_mean = sum(b for b, _ in pairs) / n_pairs if pairs else math.nan
    candidate_mean = sum(c for _, c in pairs) / n_pairs if pairs else math.nan
    differences = [c - b for b, c in pairs]
    difference = candidate_mean - baseline_mean

    def result(ci: tuple[float, float], p_value: float | None, test: Literal["mcnemar", "wilcoxon"] | None,
               verdict: Literal["improved", "regressed", "no detectable difference", "too few pairs"],
               ) -> PairedComparison:
        return PairedComparison(name, kind, n_pairs, baseline_mean, candidate_mean, difference, ci[0], ci[1],
                                p_value, test, verdict, higher_is_better)

    if n_pairs < min_pairs:
        return result((math.nan, math.nan), None, None, "too few pairs")
    ci = bootstrap_ci(differences, confidence_level)
    test: Literal["mcnemar", "wilcoxon"]
    if kind == "pass_fail":
        test = "mcnemar"
        candidate_only = sum(1 for d in differences if d > 0)  # c: baseline fail, candidate pass
        baseline_only = sum(1 for d in differences if d < 0)  # b: baseline pass, candidate fail
        p_value = mcnemar_p_value(baseline_only, candidate_only, use_scipy=use_scipy)
        direction = float(candidate_only - baseline_only)
    else:
        test = "wilcoxon"
        p_value, direction = _wilcoxon(differences, use_scipy)
    if p_value >= 1 - confidence_level:
        return result(ci, p_value, test, "no detectable difference")
    sign = difference if difference != 0 else direction
    if sign == 0:  # unreachable with a small p, kept so a verdict never claims a direction it lacks
        return result(ci, p_value, test, "no detectable difference")
    better = (sign > 0) == higher_is_better
    return result(ci, p_value, test, "improved" if better else "regressed")
