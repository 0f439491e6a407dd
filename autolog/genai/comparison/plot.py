"""A picture of a version comparison (matplotlib, the ``plot`` extra): latency, cost and scores.

Three panels, one colour per version: the latency distribution (the share of traces at or
under each latency: curves that cross are versions that trade the median for the tail),
the mean cost per priced trace, and each feedback's mean with its 95% confidence interval
(normal approximation over the feedback's n values; a wide bar says "not enough data yet").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog.genai.comparison.versions import VersionData, version_data

__all__ = ["feedback_interval", "feedback_intervals", "plot_versions"]

Z95 = 1.959963984540054


def feedback_interval(mean: float, n: int, mean_of_squares: float) -> tuple[float, float]:
    """A 95% interval of a mean from n values (normal approximation; the sample variance, n - 1)."""
    if n < 2:
        return (mean, mean)
    variance = max(0.0, (mean_of_squares - mean * mean) * n / (n - 1))
    half = Z95 * math.sqrt(variance / n)
    return (mean - half, mean + half)


def feedback_intervals(data: VersionData) -> dict[str, dict[str, dict[str, float | int]]]:
    """Per version, per feedback name: ``{"mean", "low", "high", "n"}`` (the 95% interval of the mean), the splits
    of a ``by=`` comparison merged back into the version. Names without a numeric value are left out."""
    out: dict[str, dict[str, dict[str, float | int]]] = {m: {} for m in data.model_ids}
    names = sorted({name for _, _, name, _, _, _ in data.feedback})
    for m in data.model_ids:
        for name in names:
            rows = [(r[3], r[4], r[5] or 0.0) for r in data.feedback
                    if r[0] == m and r[2] == name and r[3] is not None]
            n = sum(count for _, count, _ in rows)
            if not n:
                continue
            mean = sum(v * count for v, count, _ in rows) / n
            squares = sum(sq * count for _, count, sq in rows) / n
            low, high = feedback_interval(mean, n, squares)
            out[m][name] = {"mean": mean, "low": low, "high": high, "n": n}
    return out


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # a file, never a window: this runs in terminals and CI
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plotting needs matplotlib: pip install 'autolog-genai[plot]'") from exc
    return plt


def plot_versions(model_ids: Sequence[str], path: str | Path, **scope: Any) -> Path:
    """Draw the comparison of ``model_ids`` (same scope arguments as ``compare_versions``) into ``path`` (PNG)."""
    target = Path(path)
    if target.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InvalidArgumentError(f"plot path {str(target)!r}: use a .png, .svg or .pdf file name")
    data = version_data(model_ids, **scope)
    plt = _pyplot()
    figure, (latency_ax, cost_ax, score_ax) = plt.subplots(1, 3, figsize=(15, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colour = {m: colours[i % len(colours)] for i, m in enumerate(data.model_ids)}
    label = {m: f"{data.names[m]} ({m[:10]})" for m in data.model_ids}
    _latency(latency_ax, data, colour, label)
    _cost(cost_ax, data, colour, label)
    _scores(score_ax, data, colour, label)
    figure.tight_layout()
    figure.savefig(target)
    plt.close(figure)
    return target


def _merged(data: VersionData, model_id: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for t in data.totals:
        if t.model_id == model_id:
            for ms, n in t.latency_counts.items():
                counts[ms] = counts.get(ms, 0) + n
    return counts


def _latency(ax: Any, data: VersionData, colour: dict[str, str], label: dict[str, str]) -> None:
    for m in data.model_ids:
        counts = _merged(data, m)
        total = sum(counts.values())
        if not total:
            continue
        xs, ys, seen = [], [], 0
        for ms in sorted(counts):
            seen += counts[ms]
            xs.append(ms)
            ys.append(seen / total)
        ax.step(xs, ys, where="post", color=colour[m], label=label[m])
    ax.set(title="latency (share of traces at or under)", xlabel="ms", ylabel="share of traces", ylim=(0, 1.02))
    ax.legend(fontsize="small")


def _cost(ax: Any, data: VersionData, colour: dict[str, str], label: dict[str, str]) -> None:
    for i, m in enumerate(data.model_ids):
        priced = sum(t.priced for t in data.totals if t.model_id == m)
        cost = sum(t.cost_sum for t in data.totals if t.model_id == m)
        ax.bar(i, cost / priced if priced else 0.0, color=colour[m], label=label[m])
        if not priced:
            ax.annotate("unpriced", (i, 0), ha="center", va="bottom")
    ax.set(title="mean cost per priced trace", ylabel="USD", xticks=[])


def _scores(ax: Any, data: VersionData, colour: dict[str, str], label: dict[str, str]) -> None:
    names = sorted({name for _, _, name, _, _, _ in data.feedback})
    intervals = feedback_intervals(data)
    width = 0.8 / max(len(data.model_ids), 1)
    for j, m in enumerate(data.model_ids):
        xs: list[float] = []
        means: list[float] = []
        errors: list[list[float]] = [[], []]
        for i, name in enumerate(names):
            if name not in intervals[m]:
                continue
            mean, low, high = (float(intervals[m][name][k]) for k in ("mean", "low", "high"))
            xs.append(i + (j - (len(data.model_ids) - 1) / 2) * width)
            means.append(mean)
            errors[0].append(mean - low)
            errors[1].append(high - mean)
        if xs:
            ax.errorbar(xs, means, yerr=errors, fmt="o", color=colour[m], capsize=4, label=label[m])
    ax.set(title="feedback mean, 95% interval", xticks=range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right")
