"""Stream proxies: the caller keeps an ``openai.Stream`` / ``AsyncStream`` (isinstance still holds),
and the span ends exactly once — on exhaustion, ``close()``, ``with`` exit, an error mid-stream,
or garbage collection of a stream the caller abandoned.
"""

from __future__ import annotations

import weakref
from types import TracebackType
from typing import TYPE_CHECKING, Any

import wrapt

from autolog._tracing import LiveSpan, handle_internal_errors

from ._openai_extract import ChatStreamAccumulator, ResponsesStreamAccumulator, token_usage


class StreamRecorder:
    """Everything a stream proxy records; kept apart from the proxy so a finalizer can use it."""

    __slots__ = ("__weakref__", "accumulator", "chunks", "done", "hide_usage_chunk", "kind", "span")

    def __init__(self, span: LiveSpan, kind: str, hide_usage_chunk: bool) -> None:
        self.span = span
        self.kind = kind  # "chat", "completion" (legacy) or "responses"
        self.accumulator: Any = ResponsesStreamAccumulator() if kind == "responses" else ChatStreamAccumulator()
        self.hide_usage_chunk = hide_usage_chunk
        self.chunks = 0
        self.done = False

    def observe(self, item: Any) -> bool:
        """Record a chunk/event; return False if the caller must not see it (our injected usage chunk)."""
        with handle_internal_errors("openai.stream.observe"):
            self.chunks += 1
            self.accumulator.add(item)
            if self.hide_usage_chunk and self.kind != "responses":
                return not (getattr(item, "usage", None) is not None and not getattr(item, "choices", None))
        return True

    def finish(self, error: BaseException | None = None, reason: str = "completed") -> None:
        if self.done:
            return
        self.done = True
        with handle_internal_errors("openai.stream.finish"):
            span = self.span
            acc = self.accumulator
            output = acc.result() if self.kind == "responses" else acc.result(legacy=self.kind == "completion")
            attributes: dict[str, Any] = {"autolog.stream.chunks": self.chunks}
            if reason != "completed":
                attributes["autolog.stream.ended_by"] = reason
            model = getattr(acc, "model", None) if self.kind == "responses" else acc.meta.get("model")
            if self.kind == "responses" and acc.final is not None:
                model = getattr(acc.final, "model", None) or model
            if model:
                attributes["mlflow.llm.model"] = model
            usage = token_usage(acc.usage)
            if usage:
                attributes["mlflow.chat.tokenUsage"] = usage
            if error is not None:
                span.record_exception(error)
            span.end(outputs=output, attributes=attributes)

    # The recorder is the context of each pull from the stream: the stream's end, or an
    # error raised by it, ends the span (the exception still reaches the caller).
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            return
        if isinstance(exc, (StopIteration, StopAsyncIteration)):
            self.finish()
        else:
            self.finish(exc, reason="error")


def _abandoned(recorder: StreamRecorder) -> None:
    recorder.finish(reason="garbage_collected")


if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:
    _Proxy = wrapt.ObjectProxy  # wrapt 1.x proxies are not generic


class _TracedProxy(_Proxy):
    def __init__(self, stream: Any, recorder: StreamRecorder) -> None:
        super().__init__(stream)
        self._self_recorder = recorder
        weakref.finalize(self, _abandoned, recorder)


class TracedStream(_TracedProxy):
    """Wraps ``openai.Stream``; iterating, closing or dropping it ends the span once."""

    def __iter__(self) -> TracedStream:
        return self

    def __next__(self) -> Any:
        recorder = self._self_recorder
        while True:
            with recorder:
                item = self.__wrapped__.__next__()
            if recorder.observe(item):
                return item

    def __enter__(self) -> TracedStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_recorder.finish(reason="closed")

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_recorder.finish(reason="closed")


class TracedAsyncStream(_TracedProxy):
    """Wraps ``openai.AsyncStream``; the async twin of ``TracedStream``."""

    def __aiter__(self) -> TracedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        recorder = self._self_recorder
        while True:
            with recorder:
                item = await self.__wrapped__.__anext__()
            if recorder.observe(item):
                return item

    async def __aenter__(self) -> TracedAsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_recorder.finish(reason="closed")

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_recorder.finish(reason="closed")
