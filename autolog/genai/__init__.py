"""``autolog.genai``: evaluation of application versions, as ``mlflow.genai``.

``evaluate`` with scorers (``@scorer``, ``Scorer``, the built-ins in ``scorers``) and LLM
judges (``judges.make_judge``), evaluation ``datasets`` with versions.
"""

from __future__ import annotations

# scorers before judges: the built-in judges are scorers
from autolog.genai import scorers  # isort: skip
from autolog.genai import datasets, judges
from autolog.genai.evaluation import EvaluationResult, evaluate
from autolog.genai.scorers import Scorer, scorer

__all__ = ["EvaluationResult", "Scorer", "datasets", "evaluate", "judges", "scorer", "scorers"]
