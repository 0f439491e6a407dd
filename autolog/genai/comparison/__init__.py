"""``autolog.genai.comparison``: which version is better, by how much, and is the difference real.

``compare_versions`` sums each version's traces in the store (quality, latency, tokens, cost,
errors); ``compare_evaluations`` pairs two evaluation runs row by row and tests each difference.
"""

from __future__ import annotations

from autolog.genai.comparison.evaluations import ComparisonResult, RegressionError, compare_evaluations
from autolog.genai.comparison.stats import PairedComparison, compare_paired
from autolog.genai.comparison.versions import compare_versions

__all__ = ["ComparisonResult", "PairedComparison", "RegressionError", "compare_evaluations", "compare_paired",
           "compare_versions"]
