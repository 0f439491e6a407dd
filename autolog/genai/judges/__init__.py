"""LLM judges, as ``mlflow.genai.judges``: ``make_judge`` and the machinery behind the built-in scorers.

A judge's model is ``"<provider>:/<model>"``; the default comes from ``AUTOLOG_GENAI_JUDGE_MODEL``
(or MLflow's ``MLFLOW_GENAI_JUDGE_DEFAULT_MODEL``), else ``openai:/gpt-4.1-mini``. Settings read
from the environment (``AUTOLOG_`` first, then ``MLFLOW_``): ``GENAI_EVAL_MAX_RETRIES`` (3),
``GENAI_EVAL_LLM_TIMEOUT`` (60 s), ``GENAI_EVAL_ENABLE_SCORER_TRACING`` (false: judge calls are
kept out of traces).

To send judge calls through your own ``httpx.Client`` (a proxy, or a ``httpx.MockTransport``
in tests): ``make_judge(..., http_client=client)``, ``judge.http_client = client``, or for
every judge at once ``set_default_http_client(client)``.
"""

from __future__ import annotations

# The scorers package first, whichever of the two is imported first: its built-ins subclass
# LLMJudge, and LLMJudge subclasses its Scorer, so judges.judge must load while scorers does.
import autolog.genai.scorers  # noqa: F401
from autolog.genai.judges.judge import Judge, LLMJudge, make_judge
from autolog.genai.judges.model import DEFAULT_JUDGE_MODEL, SUPPORTED_PROVIDERS, JudgeModel, set_default_http_client

__all__ = ["DEFAULT_JUDGE_MODEL", "SUPPORTED_PROVIDERS", "Judge", "JudgeModel", "LLMJudge", "make_judge",
           "set_default_http_client"]
