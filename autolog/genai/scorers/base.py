"""Scorers: what judges one evaluated row, as MLflow's ``mlflow.genai.scorers``.

A scorer is called with any subset of ``inputs``, ``outputs``, ``expectations`` and
``trace`` (the parameters its function names; the evaluation passes only those) and returns
a bool, a number, a str, a ``Feedback``, a list of ``Feedback`` or None (no judgement).
``Scorer.run`` turns whatever it returned into a list of ``Feedback`` named after the scorer,
and a failure into a ``Feedback`` with ``error`` set: a scorer never raises out of an evaluation.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog.entities.assessment import Assessment, AssessmentError, AssessmentSource, Feedback

__all__ = ["SCORER_PARAMETERS", "Scorer", "ScorerReturnError", "scorer"]

SCORER_PARAMETERS = ("inputs", "outputs", "expectations", "trace")
Aggregation = str | Callable[[list[float]], float]


class ScorerReturnError(InvalidArgumentError, TypeError):
    """A scorer returned something that is not a judgement (the message names the scorer and the type)."""


class Scorer:
    """Base class of scorers: set ``name`` and implement ``__call__`` with the parameters you need.

    ``source_type`` is CODE for code scorers and LLM_JUDGE for judges (then ``source_id`` is
    the judge's model). ``aggregations`` (default ``["mean"]``): any of min, max, mean,
    median, variance, p90, or callables over the list of numeric values.
    """

    name: str = "scorer"
    description: str | None = None
    aggregations: Sequence[Aggregation] | None = None
    source_type: str = "CODE"

    def __init__(self, name: str | None = None, aggregations: Sequence[Aggregation] | None = None,
                 description: str | None = None, **fields: Any) -> None:
        if name is not None:
            self.name = name
        if aggregations is not None:
            self.aggregations = list(aggregations)
        if description is not None:
            self.description = description
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgumentError(f"a scorer's name must be a non-empty str, got {self.name!r}")
        self._set_fields(fields)

    def _set_fields(self, fields: dict[str, Any]) -> None:
        """A subclass's own fields given by keyword, as MLflow's pydantic ``Scorer`` takes them.

        ``class Short(Scorer): name: str = "short"; max_words: int = 50`` then ``Short(max_words=20)``:
        a field is a name the subclass annotates or gives a class value; anything else is an error.
        """
        if not fields:
            return
        known: set[str] = set()
        for klass in type(self).__mro__:
            if klass is Scorer or klass is object:
                continue
            known.update(getattr(klass, "__annotations__", {}))
            known.update(k for k, v in vars(klass).items() if not k.startswith("_") and not callable(v)
                         and not isinstance(v, (property, classmethod, staticmethod)))
        unknown = sorted(set(fields) - known)
        if unknown:
            raise InvalidArgumentError(f"{type(self).__name__}() got unknown field(s) {unknown}; its fields are "
                                       f"{sorted(known) or 'none'} (declare one as a class attribute: "
                                       "`max_words: int = 50`)")
        for key, value in fields.items():
            setattr(self, key, value)

    def __call__(self, *, inputs: Any = None, outputs: Any = None, expectations: Any = None,
                 trace: Any = None) -> Any:
        raise NotImplementedError(f"scorer {self.name!r} does not implement __call__")

    @property
    def parameters(self) -> tuple[str, ...]:
        """The row fields this scorer reads (those ``__call__`` names), in ``SCORER_PARAMETERS`` order."""
        return _parameters_of(self.__call__, self.name)

    @property
    def source(self) -> AssessmentSource:
        return AssessmentSource(self.source_type, self.source_id)

    @property
    def source_id(self) -> str:
        return self.name

    def run(self, *, inputs: Any = None, outputs: Any = None, expectations: Any = None,
            trace: Any = None) -> list[Assessment]:
        """Score one row; the feedbacks to attach to its trace (a failure is a feedback with ``error``)."""
        given = {"inputs": inputs, "outputs": outputs, "expectations": expectations, "trace": trace}
        try:
            value = self(**{k: given[k] for k in self.parameters})
            return self.to_feedbacks(value)
        except Exception as exc:  # noqa: BLE001 - a scorer's failure is that row's feedback, never the evaluation's
            return [self.error_feedback(exc)]

    def error_feedback(self, exc: BaseException) -> Assessment:
        stack = "".join(traceback.format_exception(exc))[-1000:]
        error = AssessmentError("SCORER_ERROR", f"{type(exc).__name__}: {exc}", stack)
        feedback = Feedback(self.name, None, source=self.source, error=error)
        feedback.metadata = {"error_code": error.error_code}
        return feedback

    def to_feedbacks(self, value: Any) -> list[Assessment]:
        if value is None:
            return []
        if isinstance(value, Assessment):
            return [self._own(value)]
        if isinstance(value, list) and all(isinstance(v, Assessment) for v in value):
            return [self._own(v) for v in value]
        if isinstance(value, (bool, int, float, str)):
            return [Feedback(self.name, value, source=self.source)]
        raise ScorerReturnError(f"scorer {self.name!r} returned a {type(value).__name__}; a scorer must return an"
                                f" int, float, bool, str, Feedback, list of Feedback, or None")

    def _own(self, feedback: Assessment) -> Assessment:
        if feedback.kind != "feedback":
            raise ScorerReturnError(f"scorer {self.name!r} returned an expectation; a scorer returns feedback")
        if feedback.name == "feedback":
            feedback.name = self.name
        if feedback.source == AssessmentSource():  # the default: say which scorer it was
            feedback.source = self.source
        return feedback

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class _FunctionScorer(Scorer):
    def __init__(self, func: Callable[..., Any], name: str | None, aggregations: Sequence[Aggregation] | None,
                 description: str | None) -> None:
        self.func = func
        super().__init__(name or getattr(func, "__name__", "scorer"), aggregations,
                         description or inspect.getdoc(func))
        self._parameters = _parameters_of(func, self.name)
        functools.update_wrapper(self, func)

    @property
    def parameters(self) -> tuple[str, ...]:
        return self._parameters

    def __call__(self, **kwargs: Any) -> Any:
        return self.func(**kwargs)


def _parameters_of(func: Callable[..., Any], name: str) -> tuple[str, ...]:
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return SCORER_PARAMETERS
    unknown = [p for p in params if p not in SCORER_PARAMETERS and params[p].default is inspect.Parameter.empty
               and params[p].kind is not inspect.Parameter.VAR_POSITIONAL]
    if unknown:
        raise InvalidArgumentError(f"scorer {name!r} takes {unknown}, but a scorer can only take "
                                   f"{', '.join(SCORER_PARAMETERS)}")
    return tuple(p for p in SCORER_PARAMETERS if p in params)


def scorer(func: Callable[..., Any] | None = None, *, name: str | None = None,
           aggregations: Sequence[Aggregation] | None = None, description: str | None = None) -> Any:
    """Make a scorer of a function over any of ``inputs, outputs, expectations, trace`` (``@scorer(...)`` too)."""
    if func is None:
        return lambda f: _FunctionScorer(f, name, aggregations, description)
    return _FunctionScorer(func, name, aggregations, description)
