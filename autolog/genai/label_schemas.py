"""``autolog.genai.label_schemas``: the questions a human reviewer answers, as ``mlflow.genai.label_schemas``.

A schema names an assessment (its ``name``), says whether the answer is a judgement of the
output (``type="feedback"``) or the ground truth (``type="expectation"``), and what an answer
may be (its ``input``)::

    create_label_schema("correct", type="feedback", input=InputPassFail(), instruction="Is the answer right?")
    create_label_schema("tone", type="feedback", input=InputCategorical(["formal", "casual"]))

Schemas are stored per experiment (the active one). ``schema.validate(value)`` is what a
labeling session's ``submit`` checks every answer with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from autolog._client import get_default_client
from autolog._errors import InvalidArgumentError

if TYPE_CHECKING:
    from autolog._client import Client

__all__ = ["InputCategorical", "InputCategoricalList", "InputNumeric", "InputPassFail", "InputText",
           "InputTextList", "LabelSchema", "LabelSchemaType", "create_label_schema", "delete_label_schema",
           "get_label_schema", "label_schema_from_dict", "list_label_schemas"]

_PASS = {"pass": True, "yes": True, "fail": False, "no": False}


class LabelSchemaType:
    FEEDBACK = "feedback"
    EXPECTATION = "expectation"


def _bad(schema: str, value: Any, allowed: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"label schema {schema!r}: {value!r} is not a valid answer; allowed: {allowed}")


def _checked_limit(value: Any, what: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise InvalidArgumentError(f"{what} must be a positive int or None, got {value!r}")
    return value


def _checked_options(options: Any, kind: str) -> list[str]:
    if isinstance(options, str) or not isinstance(options, (list, tuple)) or not options \
            or not all(isinstance(o, str) for o in options) or len(set(options)) != len(options):
        raise InvalidArgumentError(f"{kind} options must be a non-empty list of distinct str, got {options!r}")
    return list(options)


@dataclass(frozen=True)
class InputPassFail:
    """A yes/no answer: True/False, or "pass"/"fail"/"yes"/"no" (any case), stored as a bool."""

    kind: ClassVar[str] = "pass_fail"

    def validate(self, value: Any, schema: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _PASS:
            return _PASS[value.strip().lower()]
        raise _bad(schema, value, 'True or False, or "pass"/"fail"/"yes"/"no"')

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind}


@dataclass(frozen=True)
class InputCategorical:
    """One of ``options``."""

    options: list[str]
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _checked_options(self.options, "InputCategorical"))

    def validate(self, value: Any, schema: str) -> str:
        if isinstance(value, str) and value in self.options:
            return value
        raise _bad(schema, value, f"one of {self.options!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "options": list(self.options)}


@dataclass(frozen=True)
class InputCategoricalList:
    """Any number of distinct ``options`` (a list, in the order given)."""

    options: list[str]
    kind: ClassVar[str] = "categorical_list"

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _checked_options(self.options, "InputCategoricalList"))

    def validate(self, value: Any, schema: str) -> list[str]:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v in self.options for v in value) \
                and len(set(value)) == len(value):
            return list(value)
        raise _bad(schema, value, f"a list of distinct values from {self.options!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "options": list(self.options)}


@dataclass(frozen=True)
class InputNumeric:
    """A real number (not a bool, NaN or infinity) within ``min_value``..``max_value`` (inclusive)."""

    min_value: float | None = None
    max_value: float | None = None
    kind: ClassVar[str] = "numeric"

    def __post_init__(self) -> None:
        for bound in (self.min_value, self.max_value):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))
                                      or not math.isfinite(bound)):
                raise InvalidArgumentError(f"InputNumeric bounds must be finite numbers or None, got {bound!r}")
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise InvalidArgumentError(f"InputNumeric min_value {self.min_value!r} is above max_value "
                                       f"{self.max_value!r}")

    def _range(self) -> str:
        low = "-inf" if self.min_value is None else repr(self.min_value)
        high = "inf" if self.max_value is None else repr(self.max_value)
        return f"a number from {low} to {high}"

    def validate(self, value: Any, schema: str) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or (self.min_value is not None and value < self.min_value) \
                or (self.max_value is not None and value > self.max_value):
            raise _bad(schema, value, self._range())
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "min_value": self.min_value, "max_value": self.max_value}


@dataclass(frozen=True)
class InputText:
    """Free text of at most ``max_length`` characters."""

    max_length: int | None = None
    kind: ClassVar[str] = "text"

    def __post_init__(self) -> None:
        _checked_limit(self.max_length, "InputText max_length")

    def validate(self, value: Any, schema: str) -> str:
        if isinstance(value, str) and (self.max_length is None or len(value) <= self.max_length):
            return value
        raise _bad(schema, value, "a str" + (f" of at most {self.max_length} characters" if self.max_length else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "max_length": self.max_length}


@dataclass(frozen=True)
class InputTextList:
    """A list of at most ``max_count`` texts, each of at most ``max_length_each`` characters."""

    max_length_each: int | None = None
    max_count: int | None = None
    kind: ClassVar[str] = "text_list"

    def __post_init__(self) -> None:
        _checked_limit(self.max_length_each, "InputTextList max_length_each")
        _checked_limit(self.max_count, "InputTextList max_count")

    def validate(self, value: Any, schema: str) -> list[str]:
        if isinstance(value, (list, tuple)) and (self.max_count is None or len(value) <= self.max_count) \
                and all(isinstance(v, str) and (self.max_length_each is None or len(v) <= self.max_length_each)
                        for v in value):
            return list(value)
        limits = [f"at most {self.max_count} of them"] if self.max_count else []
        limits += [f"each at most {self.max_length_each} characters"] if self.max_length_each else []
        raise _bad(schema, value, "a list of str" + (f" ({', '.join(limits)})" if limits else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "max_length_each": self.max_length_each, "max_count": self.max_count}


Input = InputPassFail | InputCategorical | InputCategoricalList | InputNumeric | InputText | InputTextList
_INPUTS: dict[str, type[Any]] = {c.kind: c for c in (InputPassFail, InputCategorical, InputCategoricalList,
                                                     InputNumeric, InputText, InputTextList)}


@dataclass(frozen=True)
class LabelSchema:
    """A question of a labeling session: the assessment ``name``, its ``type`` and the allowed answers (``input``).

    ``title`` is what the reviewer sees (default: the name), ``instruction`` how to answer,
    ``enable_comment`` whether the UI offers a comment box (the comment is the assessment's rationale).
    """

    name: str
    type: str = LabelSchemaType.FEEDBACK
    input: Input = field(default_factory=InputPassFail)
    instruction: str | None = None
    title: str | None = None
    enable_comment: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidArgumentError(f"a label schema's name must be a non-empty str, got {self.name!r}")
        if self.type not in (LabelSchemaType.FEEDBACK, LabelSchemaType.EXPECTATION):
            raise InvalidArgumentError(f"label schema {self.name!r}: type must be 'feedback' or 'expectation',"
                                       f" got {self.type!r}")
        if not isinstance(self.input, tuple(_INPUTS.values())):
            raise InvalidArgumentError(f"label schema {self.name!r}: input must be one of "
                                       f"{', '.join(c.__name__ for c in _INPUTS.values())}, got {self.input!r}")
        for attr in ("instruction", "title"):
            if getattr(self, attr) is not None and not isinstance(getattr(self, attr), str):
                raise InvalidArgumentError(f"label schema {self.name!r}: {attr} must be a str or None")
        if self.title is None:
            object.__setattr__(self, "title", self.name)

    def validate(self, value: Any) -> Any:
        """The answer normalised (``"yes"`` → True for pass/fail...); InvalidArgumentError naming what is allowed."""
        return self.input.validate(value, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "title": self.title, "instruction": self.instruction,
                "enable_comment": self.enable_comment, "input": self.input.to_dict()}


def label_schema_from_dict(d: dict[str, Any]) -> LabelSchema:
    """The schema ``LabelSchema.to_dict`` described."""
    spec = dict(d.get("input") or {"type": "pass_fail"})
    kind = spec.pop("type", None)
    if kind not in _INPUTS:
        raise InvalidArgumentError(f"label schema {d.get('name')!r}: input type must be one of "
                                   f"{', '.join(_INPUTS)}, got {kind!r}")
    return LabelSchema(d["name"], d.get("type", LabelSchemaType.FEEDBACK), _INPUTS[kind](**spec),
                       d.get("instruction"), d.get("title"), bool(d.get("enable_comment", False)))


def create_label_schema(name: str, *, type: str, input: Input, instruction: str | None = None,
                        title: str | None = None, enable_comment: bool = False, overwrite: bool = False,
                        client: Client | None = None) -> LabelSchema:
    """Create a schema in the active experiment and return it.

    Raises:
        InvalidArgumentError: a bad argument, or the name is taken and ``overwrite`` is False.
    """
    schema = LabelSchema(name, type, input, instruction, title, enable_comment)
    client = client or get_default_client()
    client.store.put_label_schema(client.current_experiment_id(), schema.to_dict(), overwrite)
    return schema


def get_label_schema(name: str, *, client: Client | None = None) -> LabelSchema:
    """The schema ``name`` of the active experiment. Raises ResourceDoesNotExist naming it."""
    client = client or get_default_client()
    return label_schema_from_dict(client.store.get_label_schema_definition(client.current_experiment_id(), name))


def list_label_schemas(experiment_id: str | None = None, *, client: Client | None = None) -> list[LabelSchema]:
    """The schemas of ``experiment_id`` (default: the active experiment), by name."""
    client = client or get_default_client()
    definitions = client.store.label_schema_definitions(str(experiment_id) if experiment_id is not None
                                                        else client.current_experiment_id())
    return [label_schema_from_dict(d) for d in definitions]


def delete_label_schema(name: str, *, client: Client | None = None) -> None:
    """Delete the schema ``name`` of the active experiment (sessions keep the copy they were made with)."""
    client = client or get_default_client()
    client.store.delete_label_schema(client.current_experiment_id(), name)
