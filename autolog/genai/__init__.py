"""``autolog.genai``: evaluation of application versions, as ``mlflow.genai``.

``evaluate`` with scorers (``@scorer``, ``Scorer``, the built-ins in ``scorers``) and LLM
judges (``judges.make_judge``), evaluation ``datasets`` with versions; ``compare_versions`` and
``compare_evaluations`` to tell whether a new version is better; ``enable_git_model_versioning``
for one version per git state; human review with ``label_schemas`` and ``labeling`` sessions.
"""

from __future__ import annotations

# scorers before judges: the built-in judges are scorers
from autolog.genai import scorers  # isort: skip
from autolog.genai import datasets, judges, label_schemas, labeling
from autolog.genai.comparison import ComparisonResult, compare_evaluations, compare_versions
from autolog.genai.evaluation import EvaluationResult, evaluate
from autolog.genai.git_versioning import disable_git_model_versioning, enable_git_model_versioning
from autolog.genai.label_schemas import LabelSchema, create_label_schema, delete_label_schema, get_label_schema
from autolog.genai.labeling import (
    LabelingItem,
    LabelingSession,
    create_labeling_session,
    delete_labeling_session,
    get_labeling_session,
    get_labeling_sessions,
)
from autolog.genai.scorers import Scorer, scorer

__all__ = ["ComparisonResult", "EvaluationResult", "LabelSchema", "LabelingItem", "LabelingSession", "Scorer",
           "compare_evaluations", "compare_versions", "create_label_schema", "create_labeling_session", "datasets",
           "delete_label_schema", "delete_labeling_session", "disable_git_model_versioning",
           "enable_git_model_versioning", "evaluate", "get_label_schema", "get_labeling_session",
           "get_labeling_sessions", "judges", "label_schemas", "labeling", "scorer", "scorers"]
