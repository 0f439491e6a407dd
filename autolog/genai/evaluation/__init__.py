"""Evaluation of a version: ``evaluate`` and ``EvaluationResult``."""

from __future__ import annotations

from autolog.genai.evaluation.harness import EvaluationResult, evaluate

__all__ = ["EvaluationResult", "evaluate"]
