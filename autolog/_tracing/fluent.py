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
import time
from collections.abc import Callable
from contextvars import Token
from types import TracebackType
from typing import Any, TypeVar, overload

import autolog._tracing.chunks as chunks
from autolog._tracing.context import CURRENT_SPAN, SUPPRESSED, current_parent
from autolog._tracing.current_trace import update_current_trace
from autolog._tracing.guard import handle_internal_errors, report_internal_error
from autolog._tracing.live import LiveSpan, NoOpSpan
from autolog._tracing.tracer import start_root_span
from autolog.entities.keys import SPAN_FUNCTION_NAME
from autolog.entities.span import SpanType

__all__ = ["get_current_active_span", "start_span", "trace", "update_current_trace"]

F = TypeVar("F", bound=Callable[..., Any])
_MAX_GENERATOR_OUTPUTS = 10_000
_time_ns = time.time_ns


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
    function_name = getattr(func, "__name__", None)
    if isinstance(function_name, str) and not (inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)):
        attrs = {**(attrs or {}), SPAN_FUNCTION_NAME: function_name}  # as MLflow: plain and async functions only

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
            # A manual loop over asend/athrow (async generators have no `yield from`): values
            # sent and exceptions thrown into this wrapper reach the user's generator exactly,
            # and the span is current only while the user's generator computes a step.
            span = start(args, kwargs)
            gen = func(*args, **kwargs)
            items: list[Any] = []
            times: list[int] = []  # when each item came (the chunk events' times)
            count = 0
            max_events = chunks.MAX_CHUNK_EVENTS
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = CURRENT_SPAN.set(span) if span is not None else None
                try:
                    item = await (gen.asend(sent) if thrown is None else gen.athrow(thrown))
                except StopAsyncIteration:
                    if span is not None:
                        _end_generator(span, items, times, count, output_reducer)
                    return
                except BaseException as exc:
                    if span is not None:
                        _end_generator(span, items, times, count, output_reducer, exc)
                    raise
                finally:
                    if token is not None:
                        CURRENT_SPAN.reset(token)
                if span is not None:
                    if count < max_events:
                        times.append(_time_ns())
                    if count < _MAX_GENERATOR_OUTPUTS:
                        items.append(item)
                    count += 1
                try:
                    sent = yield item
                    thrown = None
                except GeneratorExit as exc:
                    token = CURRENT_SPAN.set(span) if span is not None else None
                    try:
                        await gen.aclose()
                    finally:
                        if token is not None:
                            CURRENT_SPAN.reset(token)
                        if span is not None:
                            _end_generator(span, items, times, count, output_reducer, exc)
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown into the user's generator, as it would be untraced
                    sent, thrown = None, exc

        return _mark_traced(agen_wrapper)

    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = start(args, kwargs)
            if span is None:
                return (yield from func(*args, **kwargs))  # forwards send/throw/close exactly
            # Not `yield from`: the span must be current only while the user's generator
            # computes a step, never while the caller runs between two items. The loop
            # forwards send, throw and close the way `yield from` does.
            gen = func(*args, **kwargs)
            items: list[Any] = []
            times: list[int] = []  # when each item came (the chunk events' times)
            count = 0
            max_events = chunks.MAX_CHUNK_EVENTS
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = CURRENT_SPAN.set(span)
                try:
                    item = gen.send(sent) if thrown is None else gen.throw(thrown)
                except StopIteration as stop:
                    _end_generator(span, items, times, count, output_reducer)
                    return stop.value
                except BaseException as exc:
                    _end_generator(span, items, times, count, output_reducer, exc)
                    raise
                finally:
                    CURRENT_SPAN.reset(token)
                if count < max_events:
                    times.append(_time_ns())
                if count < _MAX_GENERATOR_OUTPUTS:
                    items.append(item)
                count += 1
                try:
                    sent = yield item
                    thrown = None
                except GeneratorExit as exc:
                    token = CURRENT_SPAN.set(span)
                    try:
                        gen.close()
                    finally:
                        CURRENT_SPAN.reset(token)
                        _end_generator(span, items, times, count, output_reducer, exc)
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown into the user's generator, as it would be untraced
                    sent, thrown = None, exc

        return _mark_traced(gen_wrapper)

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
                try:
                    CURRENT_SPAN.reset(token)
                except ValueError:  # the coroutine was resumed in another context than it started in
                    _restore(token, span)
            try:  # not a `with` guard: this runs on every traced call
                span.end(result)
            except Exception as exc:
                if not report_internal_error("trace.end", exc):
                    raise
            return result

        return _mark_traced(async_wrapper)

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
        try:  # not a `with` guard: this runs on every traced call
            span.end(result)
        except Exception as exc:
            if not report_internal_error("trace.end", exc):
                raise
        return result

    return _mark_traced(wrapper)


TRACED_MARK = "__autolog_traced__"


def _mark_traced(wrapper: Any) -> Any:
    """Mark a wrapper made by ``@trace``: evaluation wraps a predict function only if it is not traced yet."""
    setattr(wrapper, TRACED_MARK, True)
    return wrapper


def _restore(token: Token[LiveSpan | None], span: LiveSpan) -> None:
    """Undo ``CURRENT_SPAN.set`` when its token belongs to another context (a block held across a
    ``yield`` and resumed elsewhere): only if ``span`` is what this context sees, put back the parent."""
    if CURRENT_SPAN.get() is span:
        previous = token.old_value
        CURRENT_SPAN.set(None if previous is Token.MISSING else previous)


def _fail(span: LiveSpan, exc: BaseException) -> None:
    with handle_internal_errors("trace.fail"):
        span.record_exception(exc)
        span.end()


def _end_generator(span: LiveSpan, items: list[Any], times: list[int], count: int,
                   reducer: Callable[[list[Any]], Any] | None, exc: BaseException | None = None) -> None:
    """End a generator's span with what it yielded (or ``reducer`` of that) and its chunk events (made on the
    export worker: ``autolog._tracing.chunks``), early if ``exc`` stopped it."""
    with handle_internal_errors("trace.generator_end"):
        if isinstance(exc, GeneratorExit):  # the caller closed or dropped the generator: not an error
            span.set_attribute("autolog.generator.closed_early", True)
        elif exc is not None:
            span.record_exception(exc)
        outputs: Any = items
        if reducer is not None:
            with handle_internal_errors("trace.output_reducer"):  # a failing reducer must not fail the iteration
                outputs = reducer(items)
        span.end(chunks.GeneratorOutputs(outputs, items, times, count))


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
        try:  # not a `with` guard: this runs on every block
            span = _new_span(self._name, self._span_type, None, self._attributes)
        except Exception as exc:
            if report_internal_error("start_span.enter", exc):
                return NoOpSpan()
            raise
        self._token = CURRENT_SPAN.set(span)
        self._span = span
        return span

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        span = self._span
        if span is None:
            return
        self._span = None
        try:
            CURRENT_SPAN.reset(self._token)
        except ValueError:  # entered in another thread/task than this one (held across a `yield`)
            _restore(self._token, span)
        if exc is not None:
            _fail(span, exc)
            return
        try:
            span.end()
        except Exception as error:
            if not report_internal_error("start_span.exit", error):
                raise


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
