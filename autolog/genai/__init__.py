"""``autolog.genai``: evaluation of application versions, as ``mlflow.genai``.

``evaluate`` with scorers (``@scorer``, ``Scorer``, the built-ins in ``scorers``) and LLM
judges (``judges.make_judge``), evaluation ``datasets`` with versions; ``compare_versions`` and
``compare_evaluations`` to tell whether a new version is better; ``enable_git_model_versioning``
for one version per git state.
"""

from __future__ import annotations

# scorers before judges: the built-in judges are scorers
from autolog.genai import scorers  # isort: skip
from autolog.genai import datasets, judges
from autolog.genai.comparison import ComparisonResult, compare_evaluations, compare_versions
from autolog.genai.evaluation import EvaluationResult, evaluate
from autolog.genai.git_versioning import disable_git_model_versioning, enable_git_model_versioning
from autolog.genai.scorers import Scorer, scorer

__all__ = ["ComparisonResult", "EvaluationResult", "Scorer", "compare_evaluations", "compare_versions", "datasets",
           "disable_git_model_versioning", "enable_git_model_versioning", "evaluate", "judges", "scorer", "scorers"]
