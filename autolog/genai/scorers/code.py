"""Code scorers that need no model: exact and regex match, response length, latency, tokens, tool calls."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog.entities.assessment import Assessment, Feedback
from autolog.entities.span import SpanType
from autolog.entities.trace import Trace
from autolog.genai.scorers.base import Aggregation, Scorer

__all__ = ["ExactMatch", "Latency", "RegexMatch", "ResponseLength", "TokenBudget", "ToolCallCorrectness"]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class ExactMatch(Scorer):
    """Whether the outputs equal ``expectations[key]`` (default ``expected_response``); text is compared stripped."""

    name = "exact_match"

    def __init__(self, name: str | None = None, key: str = "expected_response", case_sensitive: bool = True,
                 aggregations: Sequence[Aggregation] | None = None) -> None:
        super().__init__(name, aggregations)
        self.key, self.case_sensitive = key, case_sensitive

    def __call__(self, *, outputs: Any = None, expectations: Any = None) -> Any:  # type: ignore[override]
        if not expectations or self.key not in expectations:
            raise InvalidArgumentError(f"{self.name} needs expectations[{self.key!r}]")
        expected = expectations[self.key]
        if isinstance(expected, str) and isinstance(outputs, str):
            a, b = outputs.strip(), expected.strip()
            return a == b if self.case_sensitive else a.lower() == b.lower()
        return outputs == expected


class RegexMatch(Scorer):
    """Whether the outputs (as text) match ``pattern`` anywhere."""

    name = "regex_match"

    def __init__(self, pattern: str, name: str | None = None,
                 aggregations: Sequence[Aggregation] | None = None) -> None:
        super().__init__(name, aggregations)
        try:
            self.pattern = re.compile(pattern)
        except re.error as exc:
            raise InvalidArgumentError(f"RegexMatch: {pattern!r} is not a regular expression: {exc}") from exc

    def __call__(self, *, outputs: Any = None) -> Any:  # type: ignore[override]
        return self.pattern.search(_text(outputs)) is not None


class ResponseLength(Scorer):
    """The length of the outputs in characters; with ``max_chars``, whether it is within it."""

    name = "response_length"

    def __init__(self, max_chars: int | None = None, name: str | None = None,
                 aggregations: Sequence[Aggregation] | None = None) -> None:
        super().__init__(name, aggregations)
        self.max_chars = max_chars

    def __call__(self, *, outputs: Any = None) -> Any:  # type: ignore[override]
        length = len(_text(outputs)) if outputs is not None else 0
        return length if self.max_chars is None else length <= self.max_chars


class Latency(Scorer):
    """The trace's duration in seconds; with ``max_seconds``, whether it is within it."""

    name = "latency"
    aggregations = ("mean", "median", "p90", "max")

    def __init__(self, max_seconds: float | None = None, name: str | None = None,
                 aggregations: Sequence[Aggregation] | None = None) -> None:
        super().__init__(name, aggregations)
        self.max_seconds = max_seconds

    def __call__(self, *, trace: Trace | None = None) -> Any:  # type: ignore[override]
        if trace is None or trace.info.execution_duration is None:
            raise InvalidArgumentError(f"{self.name} needs the row's trace")
        root = next((s for s in trace.data.spans if s.parent_id is None and s.end_time_ns), None)
        # The root span's nanoseconds when there is one: the trace's duration is whole milliseconds.
        seconds = ((root.end_time_ns - root.start_time_ns) / 1e9 if root is not None and root.end_time_ns
                   else trace.info.execution_duration / 1000)
        return seconds if self.max_seconds is None else seconds <= self.max_seconds


class TokenBudget(Scorer):
    """The trace's total tokens; with ``max_tokens``, whether it stays within them."""

    name = "total_tokens"
    aggregations = ("mean", "max")

    def __init__(self, max_tokens: int | None = None, name: str | None = None,
                 aggregations: Sequence[Aggregation] | None = None) -> None:
        super().__init__(name, aggregations)
        self.max_tokens = max_tokens

    def __call__(self, *, trace: Trace | None = None) -> Any:  # type: ignore[override]
        usage = trace.info.token_usage if trace is not None else None
        if not usage:
            return None  # no LLM call with usage in this trace: nothing to judge
        total = usage.get("total_tokens") or (usage.get("input_tokens", 0) + usage.get("output_tokens", 0))
        return total if self.max_tokens is None else total <= self.max_tokens


class ToolCallCorrectness(Scorer):
    """Whether the trace's TOOL spans called ``expectations["expected_tool_calls"]`` (names, and arguments if given).

    ``ordered``: the calls must come in that order. Each expected call is ``{"name": ..., "arguments": {...}}``
    (or just a name); arguments, when given, must match the span's inputs exactly.
    """

    name = "tool_call_correctness"

    def __init__(self, ordered: bool = False, name: str | None = None,
                 aggregations: Sequence[Aggregation] | None = None) -> None:
        super().__init__(name, aggregations)
        self.ordered = ordered

    def __call__(self, *, expectations: Any = None, trace: Trace | None = None) -> Any:  # type: ignore[override]
        if not expectations or "expected_tool_calls" not in expectations:
            raise InvalidArgumentError(f"{self.name} needs expectations['expected_tool_calls']")
        if trace is None:
            raise InvalidArgumentError(f"{self.name} needs the row's trace")
        expected = [c if isinstance(c, dict) else {"name": c} for c in expectations["expected_tool_calls"]]
        calls = sorted((s for s in trace.data.spans if s.span_type == SpanType.TOOL), key=lambda s: s.start_time_ns)
        actual = [{"name": s.name, "arguments": s.inputs} for s in calls]

        def matches(e: dict[str, Any], a: dict[str, Any]) -> bool:
            return bool(e["name"] == a["name"] and ("arguments" not in e or e["arguments"] == a["arguments"]))

        if self.ordered:
            ok = len(expected) == len(actual) and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        else:
            remaining = list(actual)
            ok = True
            for e in expected:
                hit = next((a for a in remaining if matches(e, a)), None)
                if hit is None:
                    ok = False
                    break
                remaining.remove(hit)
            ok = ok and not remaining
        made = ", ".join(a["name"] for a in actual) or "none"
        wanted = ", ".join(e["name"] for e in expected) or "none"
        feedback: Assessment = Feedback(self.name, ok, rationale=f"expected tool calls: {wanted}; made: {made}")
        return feedback
