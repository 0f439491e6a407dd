"""Scorers for ``autolog.genai.evaluate``: the ``@scorer`` decorator, the ``Scorer`` base, and built-ins."""

from __future__ import annotations

# base before builtin: the built-ins' judges subclass Scorer
from autolog.genai.scorers.base import Scorer, ScorerReturnError, scorer
from autolog.genai.scorers.builtin import (
    Correctness,
    ExpectationsGuidelines,
    Guidelines,
    RelevanceToQuery,
    RetrievalGroundedness,
    RetrievalRelevance,
    RetrievalSufficiency,
    Safety,
)
from autolog.genai.scorers.code import (
    ExactMatch,
    Latency,
    RegexMatch,
    ResponseLength,
    TokenBudget,
    ToolCallCorrectness,
)

__all__ = ["Correctness", "ExactMatch", "ExpectationsGuidelines", "Guidelines", "Latency", "RegexMatch",
           "RelevanceToQuery", "ResponseLength", "RetrievalGroundedness", "RetrievalRelevance", "RetrievalSufficiency",
           "Safety", "Scorer", "ScorerReturnError", "TokenBudget", "ToolCallCorrectness", "scorer"]
