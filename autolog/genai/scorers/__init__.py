"""Scorers for ``autolog.genai.evaluate``: the ``@scorer`` decorator, the ``Scorer`` base, and built-ins."""

from __future__ import annotations

from autolog.genai.scorers.base import Scorer, ScorerReturnError, scorer

__all__ = ["Scorer", "ScorerReturnError", "scorer"]
