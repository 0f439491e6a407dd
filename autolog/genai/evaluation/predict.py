"""Calling ``predict_fn`` for one row: inside a trace, retried on rate limits and server errors, rate-limited.

An untraced ``predict_fn`` is called inside a root span of ours (so retries stay one trace,
and the row's tags are set on it); a traced one (``@autolog.trace``) makes its own trace,
one per attempt, and the last one is the row's. Async functions run on an event loop of
the worker thread, with the worker's context (the active version and run) inherited.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from autolog._tracing.current_trace import update_current_trace
from autolog._tracing.fluent import TRACED_MARK, start_span
from autolog._tracing.tracer import get_last_active_trace_id
from autolog.entities.span import SpanType

__all__ = ["Prediction", "Predictor", "RateLimiter"]

_RETRYABLE_NAMES = ("RateLimitError", "APIConnectionError", "APITimeoutError", "InternalServerError",
                    "ServiceUnavailableError")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        if os.environ.get(name):
            return int(os.environ[name])
    return default


def is_retryable(exc: BaseException) -> bool:
    """A 429 or 5xx from any HTTP SDK (a ``status_code`` attribute), or the openai SDK's transient errors."""
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int):
        return status == 429 or 500 <= status < 600
    return type(exc).__name__ in _RETRYABLE_NAMES


class RateLimiter:
    """At most ``per_second`` calls a second across threads (calls are spaced, not bunched)."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)


@dataclass
class Prediction:
    trace_id: str | None
    outputs: Any
    error: BaseException | None
    seconds: float


class Predictor:
    def __init__(self, predict_fn: Callable[..., Any], rate_limit: float | None) -> None:
        self.fn = predict_fn
        self.traced = bool(getattr(predict_fn, TRACED_MARK, False))
        self.is_async = inspect.iscoroutinefunction(predict_fn)
        self.name = getattr(predict_fn, "__name__", None) or type(predict_fn).__name__
        self.limiter = RateLimiter(rate_limit)
        self.max_retries = _env_int(("AUTOLOG_GENAI_EVAL_MAX_RETRIES", "MLFLOW_GENAI_EVAL_MAX_RETRIES"), 3)
        self.async_timeout = _env_int(("AUTOLOG_GENAI_EVAL_ASYNC_TIMEOUT", "MLFLOW_GENAI_EVAL_ASYNC_TIMEOUT"), 300)

    def _call_once(self, inputs: dict[str, Any]) -> Any:
        self.limiter.wait()
        if self.is_async:
            return asyncio.run(asyncio.wait_for(self.fn(**inputs), self.async_timeout))
        return self.fn(**inputs)

    def _call(self, inputs: dict[str, Any]) -> Any:
        retrying = Retrying(stop=stop_after_attempt(self.max_retries + 1), reraise=True,
                            wait=wait_random_exponential(multiplier=0.5, max=20),
                            retry=retry_if_exception(is_retryable))
        return retrying(self._call_once, inputs)

    def predict(self, inputs: dict[str, Any], tags: dict[str, str]) -> Prediction:
        started = time.perf_counter()
        outputs: Any = None
        error: BaseException | None = None
        if self.traced:
            before = get_last_active_trace_id(thread_local=True)
            try:
                outputs = self._call(inputs)
            except Exception as exc:  # noqa: BLE001 - the row's error, recorded in its trace and result
                error = exc
            trace_id = get_last_active_trace_id(thread_local=True)
            return Prediction(trace_id if trace_id != before else None, outputs, error,
                              time.perf_counter() - started)
        with start_span(self.name, span_type=SpanType.CHAIN) as span:
            span.set_inputs(inputs)
            if tags:
                update_current_trace(tags=tags)
            try:
                outputs = self._call(inputs)
                span.set_outputs(outputs)
            except Exception as exc:  # noqa: BLE001 - recorded on the span (ERROR) and in the result
                error = exc
                span.record_exception(exc)
        return Prediction(span.trace_id or None, outputs, error, time.perf_counter() - started)
