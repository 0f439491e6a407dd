"""LLM judges: scorers whose judgement comes from a model, and ``make_judge`` for your own.

A judge never raises for its model's sake: a failed call (after retries) or an answer that
cannot be read becomes a ``Feedback`` with ``error`` set (codes ``JUDGE_CALL_ERROR`` and
``JUDGE_PARSE_ERROR``), so one bad row never stops an evaluation.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from autolog.entities.assessment import Assessment, AssessmentError, AssessmentSourceType, Feedback
from autolog.genai.judges.answer import JudgeAnswerError, check_value_type, describe_value_type, parse_answer
from autolog.genai.judges.model import JudgeModel, default_judge_model
from autolog.genai.judges.render import placeholders_of, render_template, truncate
from autolog.genai.scorers.base import Scorer

__all__ = ["Judge", "LLMJudge", "make_judge"]

MAX_RAW_ANSWER_CHARS = 500

# What every judge is told about its task and the form of its answer; the instructions of the
# particular judge follow in the user message.
_SYSTEM_PROMPT = """\
You assess the output of an AI application against the instructions you are given. Judge only \
what you are shown; do not assume facts that are not in it.
Reply with one JSON object and nothing else, with two keys:
  "rationale": a short explanation of your reasoning, written before you decide,
  "result": your verdict, which must be {value_description}.
Example: {{"rationale": "...", "result": {example}}}"""


class LLMJudge(Scorer):
    """A scorer judged by an LLM: subclasses build a prompt and call ``ask``.

    ``model`` is ``"<provider>:/<model>"`` (default ``default_judge_model()``); the model is
    checked when the judge is made, so a bad URI fails before any evaluation starts.
    ``http_client`` (an ``httpx.Client``) is handed to the openai SDK, e.g. one with a
    ``httpx.MockTransport`` in tests; see also ``set_default_http_client``.
    """

    source_type = AssessmentSourceType.LLM_JUDGE
    feedback_value_type: Any = str

    def __init__(self, name: str | None = None, model: str | None = None, description: str | None = None,
                 inference_params: dict[str, Any] | None = None, base_url: str | None = None,
                 extra_headers: dict[str, str] | None = None, http_client: Any = None) -> None:
        super().__init__(name=name, description=description)
        self.model = model or default_judge_model()
        self.judge_model = JudgeModel(self.model, base_url=base_url, extra_headers=extra_headers,
                                      inference_params=inference_params, http_client=http_client)

    @property
    def source_id(self) -> str:
        return self.model

    @property
    def http_client(self) -> Any:
        return self.judge_model.http_client

    @http_client.setter
    def http_client(self, client: Any) -> None:
        self.judge_model.http_client = client

    def ask(self, prompt: str, value_type: Any = None) -> Assessment:
        """The feedback for one prompt: the model's verdict as ``value_type`` with its rationale, or an error."""
        value_type = self.feedback_value_type if value_type is None else value_type
        system = _SYSTEM_PROMPT.format(value_description=describe_value_type(value_type),
                                       example=_example_of(value_type))
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        try:
            text = self.judge_model.complete(messages)
        except Exception as exc:  # noqa: BLE001 - the SDK's many errors all mean "no verdict for this row"
            return self.error("JUDGE_CALL_ERROR", f"the call to {self.model} failed: {type(exc).__name__}: {exc}")
        try:
            value, rationale = parse_answer(text, value_type)
        except JudgeAnswerError as exc:
            return self.error("JUDGE_PARSE_ERROR", f"{exc}: {truncate(text, MAX_RAW_ANSWER_CHARS)!r}")
        return Feedback(self.name, value, source=self.source, rationale=rationale)

    def error(self, code: str, message: str) -> Assessment:
        """A feedback without a value that says why (``metadata["error_code"]`` keeps the code)."""
        feedback = Feedback(self.name, None, source=self.source, error=AssessmentError(code, message))
        feedback.metadata = {"error_code": code}
        return feedback


class Judge(LLMJudge):
    """A judge made by ``make_judge``: its instructions with the row's fields filled in."""

    def __init__(self, name: str, instructions: str, model: str | None = None, description: str | None = None,
                 feedback_value_type: Any = str, inference_params: dict[str, Any] | None = None,
                 base_url: str | None = None, extra_headers: dict[str, str] | None = None,
                 http_client: Any = None) -> None:
        self.instructions = instructions
        self._parameters = placeholders_of(instructions)
        self.feedback_value_type = check_value_type(feedback_value_type)
        super().__init__(name=name, model=model, description=description, inference_params=inference_params,
                         base_url=base_url, extra_headers=extra_headers, http_client=http_client)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Exactly the fields its instructions use."""
        return self._parameters

    def __call__(self, *, inputs: Any = None, outputs: Any = None, expectations: Any = None,
                 trace: Any = None) -> Assessment:
        given = {"inputs": inputs, "outputs": outputs, "expectations": expectations, "trace": trace}
        return self.ask(render_template(self.instructions, {k: given[k] for k in self._parameters}))

    def __repr__(self) -> str:
        return f"Judge(name={self.name!r}, model={self.model!r}, parameters={self._parameters})"


def make_judge(name: str, instructions: str, model: str | None = None, description: str | None = None,
               feedback_value_type: Any = str, inference_params: dict[str, Any] | None = None,
               base_url: str | None = None, extra_headers: dict[str, str] | None = None,
               http_client: Any = None) -> Judge:
    """A judge (a ``Scorer``) that asks ``model`` to follow ``instructions`` for each row.

    ``instructions`` name the fields they judge as ``{{ inputs }}``, ``{{ outputs }}``,
    ``{{ expectations }}`` or ``{{ trace }}`` (at least one; nothing else); each is replaced by
    the row's value as JSON, a trace by its span tree. The verdict is a ``feedback_value_type``:
    str (default), bool, int, float or a ``Literal[...]``.
    """
    return Judge(name, instructions, model=model, description=description, feedback_value_type=feedback_value_type,
                 inference_params=inference_params, base_url=base_url, extra_headers=extra_headers,
                 http_client=http_client)


def _example_of(value_type: Any) -> str:
    if typing.get_origin(value_type) is typing.Literal:
        return json.dumps(typing.get_args(value_type)[0])
    return {bool: "true", int: "3", float: "0.8"}.get(value_type, '"..."')
