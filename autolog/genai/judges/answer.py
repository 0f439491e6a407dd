"""Reading a judge's answer: the JSON object in its text, and its result as the judge's value type.

Models wrap JSON in Markdown fences, add a sentence before it, or say "Yes" where a bool was
asked for; all of that is accepted. What cannot be read raises ``JudgeAnswerError``, which
the judge turns into an error feedback carrying the raw text.
"""

from __future__ import annotations

import json
import re
import typing
from typing import Any

from autolog._errors import InvalidArgumentError

__all__ = ["JudgeAnswerError", "check_value_type", "describe_value_type", "parse_answer"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_PRIMITIVES = (str, bool, int, float)
_TRUE = {"yes", "true", "y", "pass", "1"}
_FALSE = {"no", "false", "n", "fail", "0"}


class JudgeAnswerError(ValueError):
    """A judge's answer that has no usable result (the message says what was wrong)."""


def check_value_type(value_type: Any) -> Any:
    """The value type itself if a judge can produce it (str, bool, int, float, or a Literal of those)."""
    if value_type in _PRIMITIVES:
        return value_type
    if typing.get_origin(value_type) is typing.Literal:
        choices = typing.get_args(value_type)
        if choices and all(isinstance(c, _PRIMITIVES) for c in choices):
            return value_type
    raise InvalidArgumentError(f"feedback_value_type must be str, bool, int, float or a Literal of those, "
                               f"got {value_type!r}")


def describe_value_type(value_type: Any) -> str:
    """How the prompt asks for a result of this type."""
    if typing.get_origin(value_type) is typing.Literal:
        return "exactly one of " + ", ".join(json.dumps(c) for c in typing.get_args(value_type))
    return {bool: "true or false", int: "an integer", float: "a number",
            str: "a short string"}.get(value_type, "a value")


def parse_answer(text: str, value_type: Any) -> tuple[Any, str | None]:
    """``(result, rationale)`` from the text of an answer asked to be ``{"result": ..., "rationale": ...}``."""
    answer = _first_object(text)
    if answer is None:
        raise JudgeAnswerError("the judge's answer holds no JSON object")
    if "result" not in answer:
        raise JudgeAnswerError(f"the judge's JSON object has no \"result\" (keys: {sorted(answer)})")
    rationale = answer.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        rationale = json.dumps(rationale, ensure_ascii=False)
    return coerce_result(answer["result"], value_type), rationale


def _first_object(text: str) -> dict[str, Any] | None:
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]  # a fenced block first: it is the answer
    decoder = json.JSONDecoder()
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                found, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                found = None
            if isinstance(found, dict):
                return found
            start = candidate.find("{", start + 1)
    return None


def coerce_result(result: Any, value_type: Any) -> Any:
    """The result as ``value_type``; raises ``JudgeAnswerError`` if it is not one."""
    if typing.get_origin(value_type) is typing.Literal:
        return _coerce_literal(result, typing.get_args(value_type))
    if value_type is bool:
        return _coerce_bool(result)
    if value_type is int:
        number = _coerce_number(result)
        if not float(number).is_integer():
            raise JudgeAnswerError(f"result {result!r} is not an integer")
        return int(number)
    if value_type is float:
        return float(_coerce_number(result))
    if result is None or isinstance(result, (dict, list)):
        raise JudgeAnswerError(f"result {result!r} is not a str")
    return result if isinstance(result, str) else json.dumps(result)


def _coerce_bool(result: Any) -> bool:
    if isinstance(result, bool):
        return result
    word = str(result).strip().lower() if isinstance(result, (str, int, float)) else None
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise JudgeAnswerError(f"result {result!r} is not a yes/no or true/false")


def _coerce_number(result: Any) -> float | int:
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        return result
    if isinstance(result, str):
        try:
            return float(result.strip())
        except ValueError:
            pass
    raise JudgeAnswerError(f"result {result!r} is not a number")


def _coerce_literal(result: Any, choices: tuple[Any, ...]) -> Any:
    for choice in choices:
        if result == choice and type(result) is type(choice):
            return choice
    spoken = str(result).strip().lower() if isinstance(result, (str, int, float, bool)) else None
    for choice in choices:
        if spoken is not None and str(choice).lower() == spoken:
            return choice
    raise JudgeAnswerError(f"result {result!r} is not one of {', '.join(json.dumps(c) for c in choices)}")
