"""The fluent tracing API: ``@trace``, ``start_span`` and friends.

Everything here runs on the application thread, so the span path is kept short: one
contextvar read, one object, one contextvar set/reset, and a deque append when a root
span ends. Inputs are captured by reference and serialized later on the worker.
If autolog itself fails while starting or ending a span, the user's function still
runs exactly as it would without autolog (see ``autolog._tracing.guard``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

from autolog._errors import InvalidArgumentError, check_key
from autolog._tracing.context import CURRENT_SPAN, SUPPRESSED, aiterate_in_span, current_parent, iterate_in_span
from autolog._tracing.guard import handle_internal_errors, report_internal_error
from autolog._tracing.live import LiveSpan, NoOpSpan
from autolog._tracing.tracer import start_root_span
from autolog.entities import keys
from autolog.entities.span import SpanType

__all__ = ["get_current_active_span", "start_span", "trace", "update_current_trace"]

F = TypeVar("F", bound=Callable[..., Any])
_MAX_GENERATOR_OUTPUTS = 10_000


def _new_span(name: str, span_type: str, inputs: Any, attributes: dict[str, Any] | None) -> LiveSpan:
    """A child of the current span, or the root of a new trace (on the caller's thread: kept flat)."""
    parent = current_parent()
    own_attributes = dict(attributes) if attributes else None
    if parent is not None:
        return parent.start_child(name, span_type, None, inputs, own_attributes)
    return start_root_span(name, span_type, inputs, own_attributes)


def _input_capturer(fn: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """Precompute how to name a call's arguments, so each call only zips and updates a dict."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return lambda args, kwargs: {"args": list(args), **kwargs} if args else dict(kwargs)
    params = list(sig.parameters.values())
    skip_first = bool(params) and params[0].name in ("self", "cls")
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    var_positional = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)
    n_positional = len(positional)
    first = positional[0] if skip_first and positional else None

    def capture(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        inputs = dict(zip(positional, args, strict=False))  # extra args are handled below
        if len(args) > n_positional:
            inputs[var_positional or "args"] = list(args[n_positional:])
        if kwargs:
            inputs.update(kwargs)
        for key, value in defaults.items():
            if key not in inputs:
                inputs[key] = value
        if first is not None:
            inputs.pop(first, None)
        return inputs

    return capture


@overload
def trace(func: F) -> F: ...
@overload
def trace(func: None = None, *, name: str | None = None, span_type: str = SpanType.UNKNOWN,
          attributes: dict[str, Any] | None = None, output_reducer: Callable[[list[Any]], Any] | None = None
          ) -> Callable[[F], F]: ...


def trace(func: Any = None, *, name: str | None = None, span_type: str = SpanType.UNKNOWN,
          attributes: dict[str, Any] | None = None, output_reducer: Callable[[list[Any]], Any] | None = None) -> Any:
    """Trace every call of a function as a span (a new trace if no span is active).

    Works on sync and async functions, generators and async generators (the span
    covers the whole iteration and ends when the generator is exhausted, closed or
    garbage-collected; outputs are the yielded items, or ``output_reducer(items)``),
    methods, classmethods and staticmethods. Inputs are the bound arguments (without
    ``self``/``cls``); outputs the return value. An exception ends the span as ERROR
    with an ``exception`` event and propagates unchanged. Thread- and asyncio-safe.
    """
    if func is None:
        return functools.partial(trace, name=name, span_type=span_type, attributes=attributes,
                                 output_reducer=output_reducer)
    if isinstance(func, (classmethod, staticmethod)):
        inner = trace(func.__func__, name=name, span_type=span_type, attributes=attributes,  # type: ignore[call-overload]
                      output_reducer=output_reducer)
        return type(func)(inner)
    span_name = name or getattr(func, "__name__", None) or type(func).__name__
    capture = _input_capturer(func)
    attrs = dict(attributes) if attributes else None

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> LiveSpan | None:
        if SUPPRESSED.get():
            return None
        try:  # not a `with` guard: this runs on every traced call
            return _new_span(span_name, span_type, capture(args, kwargs), attrs)
        except Exception as exc:
            if report_internal_error("trace.enter", exc):
                return None
            raise

    if inspect.isasyncgenfunction(func):
        @functools.wraps(func)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = start(args, kwargs)
            if span is None:
                async for item in func(*args, **kwargs):
                    yield item
                return
            gen = func(*args, **kwargs)
            items: list[Any] = []
            steps = aiterate_in_span(span, gen, items, _MAX_GENERATOR_OUTPUTS)
            try:
                async for item in steps:
                    yield item
            except BaseException as exc:
                _end_generator(span, items, output_reducer, exc)
                await steps.aclose()
                await gen.aclose()
                raise
            _end_generator(span, items, output_reducer)

        return agen_wrapper

    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = start(args, kwargs)
            if span is None:
                return (yield from func(*args, **kwargs))
            gen = func(*args, **kwargs)
            items: list[Any] = []
            try:
                result = yield from iterate_in_span(span, gen, items, _MAX_GENERATOR_OUTPUTS)
            except BaseException as exc:
                _end_generator(span, items, output_reducer, exc)
                gen.close()
                raise
            _end_generator(span, items, output_reducer)
            return result

        return gen_wrapper

    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = start(args, kwargs)
            if span is None:
                return await func(*args, **kwargs)
            token = CURRENT_SPAN.set(span)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                _fail(span, exc)
                raise
            finally:
                CURRENT_SPAN.reset(token)
            span.end(result)
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = start(args, kwargs)
        if span is None:
            return func(*args, **kwargs)
        token = CURRENT_SPAN.set(span)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            CURRENT_SPAN.reset(token)
        span.end(result)
        return result

    return wrapper


def _fail(span: LiveSpan, exc: BaseException) -> None:
    with handle_internal_errors("trace.fail"):
        span.record_exception(exc)
        span.end()


def _end_generator(span: LiveSpan, items: list[Any], reducer: Callable[[list[Any]], Any] | None,
                   exc: BaseException | None = None) -> None:
    """End a generator's span with what it yielded (or ``reducer`` of that), early if ``exc`` stopped it."""
    with handle_internal_errors("trace.generator_end"):
        if isinstance(exc, GeneratorExit):  # the caller closed or dropped the generator: not an error
            span.set_attribute("autolog.generator.closed_early", True)
        elif exc is not None:
            span.record_exception(exc)
        outputs: Any = items
        if reducer is not None:
            with handle_internal_errors("trace.output_reducer"):  # a failing reducer must not fail the iteration
                outputs = reducer(items)
        span.end(outputs)


class _SpanContext:
    """``with start_span(...) as span``: the span is current inside the block."""

    __slots__ = ("_attributes", "_name", "_span", "_span_type", "_token")

    def __init__(self, name: str, span_type: str, attributes: dict[str, Any] | None) -> None:
        self._name = name
        self._span_type = span_type
        self._attributes = attributes
        self._span: LiveSpan | None = None
        self._token: Any = None

    def __enter__(self) -> LiveSpan | NoOpSpan:
        if SUPPRESSED.get():
            return NoOpSpan()
        with handle_internal_errors("start_span.enter"):
            span = _new_span(self._name, self._span_type, None, self._attributes)
            self._token = CURRENT_SPAN.set(span)
            self._span = span
            return span
        return NoOpSpan()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        span = self._span
        if span is None:
            return
        CURRENT_SPAN.reset(self._token)
        if exc is not None:
            _fail(span, exc)
        else:
            span.end()


def start_span(name: str = "span", span_type: str = SpanType.UNKNOWN,
               attributes: dict[str, Any] | None = None) -> _SpanContext:
    """Context manager: a span (child of the current one, or a new trace) current inside the block.

    ``with autolog.start_span("retrieve", span_type=SpanType.RETRIEVER) as span:
    span.set_inputs(...); ...``. An exception in the block ends the span as ERROR and
    propagates. Never blocks on I/O.
    """
    return _SpanContext(name, span_type, attributes)


def get_current_active_span() -> LiveSpan | None:
    """The span current in this thread/task (including a LangChain/LlamaIndex step being run), or None."""
    return current_parent()


def update_current_trace(tags: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
                         session_id: str | None = None, user: str | None = None,
                         client_request_id: str | None = None, request_preview: str | None = None,
                         response_preview: str | None = None, state: str | None = None,
                         model_id: str | None = None) -> None:
    """Add tags/metadata (and session, user, client request id, previews, state, model) to the current trace.

    ``state`` ("OK" or "ERROR") overrides the state derived from the root span; ``model_id``
    links the trace to another LoggedModel than the active one.

    Raises:
        InvalidArgumentError: no span is active, or a key is not a non-empty str.
    """
    span = current_parent()
    if span is None:
        raise InvalidArgumentError("update_current_trace() was called outside of a trace: no span is active "
                                   "(call it inside a function decorated with @autolog.trace or a start_span block)")
    live = span.live_trace
    for key, value in (tags or {}).items():
        check_key(key, "tag key")
        live.set_tag(key, value)
    for key, value in (metadata or {}).items():
        check_key(key, "metadata key")
        live.set_metadata(key, value)
    if session_id is not None:
        live.set_metadata(keys.TRACE_SESSION, session_id)
    if user is not None:
        live.set_metadata(keys.TRACE_USER, user)
    if client_request_id is not None:
        live.client_request_id = str(client_request_id)
    if request_preview is not None:
        live.request_preview = str(request_preview)
    if response_preview is not None:
        live.response_preview = str(response_preview)
    if state is not None:
        code = str(getattr(state, "value", state)).upper()
        if code not in ("OK", "ERROR"):
            raise InvalidArgumentError(f"state must be 'OK' or 'ERROR', got {state!r}")
        live.state = code
    if model_id is not None:
        live.set_metadata(keys.MODEL_ID, model_id)
