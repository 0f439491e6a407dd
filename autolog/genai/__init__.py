"""``autolog.genai``: evaluation of application versions, as ``mlflow.genai``."""

from __future__ import annotations

from autolog.genai.scorers import Scorer, scorer

__all__ = ["Scorer", "scorer"]
