"""Paired statistics for comparing evaluation runs: the plain-Python path against scipy, hand-computed cases, edges."""

from __future__ import annotations

import math
import random

import pytest
import scipy.stats

from autolog import InvalidArgumentError
from autolog.genai.comparison import stats
from autolog.genai.comparison.stats import (
    PairedComparison,
    bootstrap_ci,
    compare_paired,
    mcnemar_p_value,
    wilcoxon_p_value,
)

BOTH_PATHS = pytest.mark.parametrize("use_scipy", [False, True], ids=["plain", "scipy"])


def _datasets() -> list[tuple[str, list[float]]]:
    """Fixed (seeded) differences covering each branch of scipy's method="auto": exact, sign-flip, normal."""
    rng = random.Random(20261203)
    cases: list[tuple[str, list[float]]] = []
    for n in [6, 7, 9, 10, 13, 14, 20, 30, 50, 51, 65, 80]:
        cases.append((f"distinct-{n}", [rng.gauss(0.3, 1.0) for _ in range(n)]))
        cases.append((f"ties-{n}", [round(rng.gauss(0.3, 1.0), 1) or 0.5 for _ in range(n)]))
        cases.append((f"zeros-{n}", [rng.choice([-2.0, -1.0, 0.0, 0.0, 1.0, 2.0, 3.0]) for _ in range(n)]))
        cases.append((f"shifted-{n}", [rng.gauss(1.0, 1.0) for _ in range(n)]))
    return cases


DATASETS = _datasets()


def _is_exact_in_scipy(differences: list[float]) -> bool:
    return len(differences) <= 50 and 0 not in differences and len({abs(d) for d in differences}) == len(differences)


@pytest.mark.parametrize(("b", "c", "expected"), [
    (0, 0, 1.0),  # no discordant pair, no evidence
    (3, 3, 1.0),
    (0, 5, 2 / 32),  # 2 * P(X <= 0), X ~ Bin(5, 1/2)
    (0, 6, 2 / 64),
    (1, 5, 2 * (1 + 6) / 64),
    (8, 2, 2 * (1 + 10 + 45) / 1024),
    (4, 5, 1.0),  # 2 * P(X <= 4) > 1 for Bin(9, 1/2), clipped
])
@BOTH_PATHS
def test_mcnemar_small_cases_by_hand(b: int, c: int, expected: float, use_scipy: bool) -> None:
    assert mcnemar_p_value(b, c, use_scipy=use_scipy) == pytest.approx(expected, abs=1e-12)


def test_mcnemar_plain_matches_scipy_binomtest() -> None:
    for b in range(40):
        for c in range(40):
            if b + c:
                expected = scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue
                assert mcnemar_p_value(b, c, use_scipy=False) == pytest.approx(expected, abs=1e-12), (b, c)
    # large counts: exact integer arithmetic, no underflow drift
    assert mcnemar_p_value(460, 540, use_scipy=False) == pytest.approx(
        scipy.stats.binomtest(460, 1000, 0.5).pvalue, rel=1e-9)


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(InvalidArgumentError):
        mcnemar_p_value(-1, 3)


@pytest.mark.parametrize(("label", "differences"), DATASETS, ids=[label for label, _ in DATASETS])
def test_wilcoxon_plain_matches_scipy(label: str, differences: list[float]) -> None:
    expected = scipy.stats.wilcoxon(differences).pvalue
    tolerance = 1e-9 if _is_exact_in_scipy(differences) else 1e-6
    assert wilcoxon_p_value(differences, use_scipy=False) == pytest.approx(expected, abs=tolerance)
    assert wilcoxon_p_value(differences, use_scipy=True) == pytest.approx(expected, abs=1e-15)


def test_wilcoxon_datasets_cover_every_branch() -> None:
    exact = [d for _, d in DATASETS if _is_exact_in_scipy(d)]
    sign_flip = [d for _, d in DATASETS if len(d) <= 13 and not _is_exact_in_scipy(d)]
    normal = [d for _, d in DATASETS if len(d) > 50 or (len(d) > 13 and not _is_exact_in_scipy(d))]
    assert exact and sign_flip and normal


def test_wilcoxon_by_hand() -> None:
    # all six positive: only 1 of 2**6 sign patterns is as extreme each way
    assert wilcoxon_p_value([1, 2, 3, 4, 5, 6], use_scipy=False) == pytest.approx(2 / 64)
    # R- = 1: patterns with T- <= 1 are {} and {1}
    assert wilcoxon_p_value([-1, 2, 3, 4, 5, 6], use_scipy=False) == pytest.approx(4 / 64)
    # symmetric around zero: no evidence at all
    assert wilcoxon_p_value([-3, -2, -1, 1, 2, 3], use_scipy=False) == 1.0


@BOTH_PATHS
def test_wilcoxon_all_zeros_or_empty_gives_one(use_scipy: bool) -> None:
    assert wilcoxon_p_value([0.0] * 20, use_scipy=use_scipy) == 1.0
    assert wilcoxon_p_value([0.0] * 60, use_scipy=use_scipy) == 1.0
    assert wilcoxon_p_value([], use_scipy=use_scipy) == 1.0


def test_without_scipy_the_plain_path_runs_and_use_scipy_true_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "_scipy_stats", lambda: None)
    differences = DATASETS[-1][1]
    assert wilcoxon_p_value(differences) == pytest.approx(scipy.stats.wilcoxon(differences).pvalue, abs=1e-6)
    assert mcnemar_p_value(1, 7) == pytest.approx(scipy.stats.binomtest(1, 8, 0.5).pvalue)
    with pytest.raises(ImportError):
        wilcoxon_p_value(differences, use_scipy=True)


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    rng = random.Random(3)
    differences = [rng.gauss(0, 1) for _ in range(200)]
    assert bootstrap_ci(differences, seed=7) == bootstrap_ci(differences, seed=7)
    assert bootstrap_ci(differences, seed=7) != bootstrap_ci(differences, seed=8)


def test_bootstrap_interval_contains_a_known_shift() -> None:
    rng = random.Random(11)
    shift = 0.25
    differences = [shift + rng.gauss(0, 1) for _ in range(1000)]
    low, high = bootstrap_ci(differences, 0.95)
    sample_mean = sum(differences) / len(differences)
    assert low < shift < high
    assert low < sample_mean < high
    assert high - low == pytest.approx(2 * 1.96 / math.sqrt(1000), rel=0.2)  # about 2 z * sd / sqrt(n)
    narrow_low, narrow_high = bootstrap_ci(differences, 0.5)
    assert low < narrow_low < narrow_high < high


def test_bootstrap_degenerate_inputs() -> None:
    assert all(math.isnan(bound) for bound in bootstrap_ci([]))
    assert bootstrap_ci([0.1] * 1000) == (0.1, 0.1)  # exactly, no summing noise
    with pytest.raises(InvalidArgumentError):
        bootstrap_ci([1.0, 2.0], confidence_level=1.0)


@BOTH_PATHS
def test_pass_fail_uses_mcnemar(use_scipy: bool) -> None:
    baseline = [True] * 10 + [False] * 10
    candidate = [True] * 10 + [True] * 9 + [False]  # b = 0, c = 9
    result = compare_paired("correct", baseline, candidate, use_scipy=use_scipy)
    assert (result.kind, result.test, result.n_pairs) == ("pass_fail", "mcnemar", 20)
    assert (result.baseline_mean, result.candidate_mean) == (0.5, 0.95)
    assert result.difference == pytest.approx(0.45)
    assert result.p_value == pytest.approx(2 / 2**9)
    assert result.verdict == "improved"
    assert result.ci_low <= result.difference <= result.ci_high
    assert compare_paired("correct", candidate, baseline, use_scipy=use_scipy).verdict == "regressed"


def test_zero_one_floats_are_pass_fail_and_fractions_are_numeric() -> None:
    assert compare_paired("s", [0.0, 1.0] * 5, [1.0, 1.0] * 5).kind == "pass_fail"
    assert compare_paired("s", [0.0, 1.0] * 5, [0.5, 1.0] * 5).kind == "numeric"


@BOTH_PATHS
def test_lower_is_better_for_latency(use_scipy: bool) -> None:
    rng = random.Random(5)
    baseline = [rng.uniform(1.0, 3.0) for _ in range(40)]
    faster = [b * 0.8 for b in baseline]
    result = compare_paired("latency", baseline, faster, higher_is_better=False, use_scipy=use_scipy)
    assert (result.kind, result.test) == ("numeric", "wilcoxon")
    assert result.difference < 0 and result.p_value is not None and result.p_value < 0.05
    assert result.verdict == "improved"
    slower = compare_paired("latency", faster, baseline, higher_is_better=False, use_scipy=use_scipy)
    assert slower.verdict == "regressed"
    assert compare_paired("score", baseline, faster, use_scipy=use_scipy).verdict == "regressed"


@BOTH_PATHS
def test_zero_mean_difference_takes_the_rank_sum_direction(use_scipy: bool) -> None:
    # 19 records gain 1, one loses 19: mean difference 0, but the ranks say "up" (R+ = 190, R- = 20)
    baseline = [0.0] * 19 + [19.0]
    candidate = [1.0] * 19 + [0.0]
    result = compare_paired("score", baseline, candidate, use_scipy=use_scipy)
    assert result.difference == 0.0
    assert result.p_value is not None and result.p_value < 0.01
    assert result.verdict == "improved"


@BOTH_PATHS
def test_identical_runs_show_no_difference(use_scipy: bool) -> None:
    values = [0.2, 0.5, 0.7, 0.7, 0.9, 0.1, 0.3]
    result = compare_paired("score", values, list(values), use_scipy=use_scipy)
    assert (result.p_value, result.verdict) == (1.0, "no detectable difference")
    assert (result.ci_low, result.ci_high) == (0.0, 0.0)


def test_missing_pairs_are_dropped_and_few_pairs_are_not_tested() -> None:
    baseline = [1.0, None, 3.0, 4.0, math.nan, 6.0, 7.0]
    candidate = [2.0, 5.0, None, 5.0, 1.0, 7.0, 8.0]
    result = compare_paired("score", baseline, candidate)
    assert result.n_pairs == 4  # records 0, 3, 5, 6
    assert (result.baseline_mean, result.candidate_mean, result.difference) == (4.5, 5.5, 1.0)
    assert (result.verdict, result.p_value, result.test) == ("too few pairs", None, None)
    assert math.isnan(result.ci_low) and math.isnan(result.ci_high)
    assert compare_paired("score", baseline, candidate, min_pairs=4).verdict != "too few pairs"

    empty = compare_paired("score", [None, None], [1.0, None])
    assert empty.n_pairs == 0 and empty.verdict == "too few pairs" and math.isnan(empty.difference)


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(InvalidArgumentError):
        compare_paired("score", [1.0, 2.0], [1.0])


def test_plain_and_scipy_paths_give_the_same_verdicts() -> None:
    rng = random.Random(99)
    compared = 0
    for index, (label, differences) in enumerate(DATASETS):
        baseline = [round(rng.uniform(0, 5), 2) for _ in differences]
        candidate = [b + d for b, d in zip(baseline, differences, strict=True)]
        higher_is_better = index % 2 == 0  # alternate: each direction on half the data, scipy's tests are slow
        plain = compare_paired(label, baseline, candidate, higher_is_better=higher_is_better, use_scipy=False)
        with_scipy = compare_paired(label, baseline, candidate, higher_is_better=higher_is_better, use_scipy=True)
        assert isinstance(plain, PairedComparison)
        assert plain.verdict == with_scipy.verdict, label
        assert plain.p_value == pytest.approx(with_scipy.p_value, abs=1e-6), label
        compared += 1
    verdicts = {compare_paired(label, [0.0] * len(d), d, use_scipy=False).verdict for label, d in DATASETS}
    assert {"improved", "no detectable difference"} <= verdicts  # the data exercise more than one verdict
    assert compared == len(DATASETS)


def test_kind_forces_the_test_for_measures_whose_values_look_like_verdicts() -> None:
    """Latency in ms of 0 or 1 is still a measure: Wilcoxon, never McNemar; a bad kind is refused."""
    baseline, candidate = [1, 1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0, 1]
    guessed = compare_paired("trace.latency_ms", baseline, candidate, higher_is_better=False)
    forced = compare_paired("trace.latency_ms", baseline, candidate, higher_is_better=False, kind="numeric")
    assert (guessed.kind, guessed.test) == ("pass_fail", "mcnemar")
    assert (forced.kind, forced.test) == ("numeric", "wilcoxon")
    assert forced.difference == guessed.difference == -0.75 and forced.p_value is not None
    with pytest.raises(InvalidArgumentError, match="kind must be"):
        compare_paired("x", baseline, candidate, kind="ordinal")  # type: ignore[arg-type]
