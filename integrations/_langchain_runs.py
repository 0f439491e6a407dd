"""The LangChain runs being recorded: run id → span, the innermost run per thread/task, parent resolution.

Every callback of the handler goes through one ``RunSpans``; its maps are lock-protected
(LangChain may call back from several threads) and each entry is removed when its run
ends, so a long-running server's handler does not grow.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any
from uuid import UUID

from autolog._tracing import (
    LiveSpan,
    get_state,
    handle_internal_errors,
    later_of,
    parent_of_framework_span,
    start_span_no_context,
)
from autolog.entities import SpanEvent, keys

__all__ = ["FRAMEWORK", "RunSpans"]

FRAMEWORK = "langchain"

# Run-config metadata keys that name a conversation or a user (LangGraph uses thread_id).
_SESSION_KEYS = ("session_id", "thread_id", "conversation_id")
_USER_KEYS = ("user_id", "user")


class _Run:
    __slots__ = ("owner", "root_id", "span", "token_events")

    def __init__(self, span: LiveSpan, owner: tuple[int, int] | None, root_id: UUID) -> None:
        self.span = span
        self.owner = owner  # (thread, task) for runs whose body runs without a LangChain child config
        self.root_id = root_id  # the outermost LangChain run this one belongs to
        self.token_events = 0


def _owner() -> tuple[int, int]:
    """Who is executing: the thread, and the asyncio task when inside one."""
    loop = asyncio._get_running_loop()
    task = asyncio.current_task(loop) if loop is not None else None
    return threading.get_ident(), id(task) if task is not None else 0


class RunSpans:
    """The run map and its lock; every public callback of the handler goes through here."""

    def __init__(self) -> None:
        self._runs: dict[UUID, _Run] = {}
        # Open chat model / LLM / retriever runs per (thread, task), innermost last.
        self._leaves: dict[tuple[int, int], list[LiveSpan]] = {}
        self._lock = threading.Lock()
        self._state = get_state(FRAMEWORK)

    @property
    def open_runs(self) -> int:
        """Runs started and not yet ended (0 when idle: the map never grows over time)."""
        return len(self._runs)

    def after_fork(self) -> None:
        """In a forked child: a new lock (one of the parent's threads may have held it at fork)."""
        self._lock = threading.Lock()

    def start(self, run_id: UUID, parent_run_id: UUID | None, name: str, span_type: str, inputs: Any,
              attributes: dict[str, Any], metadata: dict[str, Any] | None, leaf: bool) -> None:
        if not self._state.recording:
            return
        parent_run = self._runs.get(parent_run_id) if parent_run_id is not None else None
        parent = parent_of_framework_span(parent_run.span if parent_run is not None else None, FRAMEWORK)
        span = start_span_no_context(name, span_type, parent_span=parent, inputs=inputs, attributes=attributes)
        if parent_run is None and metadata:
            _trace_metadata_from_config(span, metadata)
        owner = _owner() if leaf else None
        with self._lock:
            self._runs[run_id] = _Run(span, owner, parent_run.root_id if parent_run is not None else run_id)
            if owner is not None:
                self._leaves.setdefault(owner, []).append(span)

    def get(self, run_id: UUID) -> _Run | None:
        return self._runs.get(run_id)

    def end(self, run_id: UUID, outputs: Any = None, attributes: dict[str, Any] | None = None,
            error: BaseException | None = None, inputs: Any = None) -> None:
        with self._lock:
            run = self._runs.pop(run_id, None)
            if run is None:
                return
            if run.owner is not None:
                self._forget_leaf(run.owner, run.span)
        span = run.span
        if run.root_id == run_id and span.live_trace.open_spans > 1:
            # LangChain closes an abandoned stream's outer run before (or without) its inner
            # ones: end what is still open under it now, so the trace is complete when exported.
            self._end_open_runs_under(run_id, failed=error is not None and not isinstance(error, GeneratorExit))
        if inputs is not None:
            span.set_inputs(inputs)
        if isinstance(error, GeneratorExit):
            # The caller closed (or dropped) a stream: not a failure; keep what was produced.
            span.set_attribute("autolog.stream.ended_by", "closed")
        elif error is not None:
            span.record_exception(error)
        span.end(outputs=outputs, attributes=attributes)

    def _forget_leaf(self, owner: tuple[int, int], span: LiveSpan) -> None:
        stack = self._leaves.get(owner)
        if stack is not None:
            try:
                stack.remove(span)
            except ValueError:
                pass
            if not stack:
                del self._leaves[owner]

    def _end_open_runs_under(self, root_id: UUID, failed: bool) -> None:
        with self._lock:
            # Only this root's runs: another chain running concurrently in the same trace keeps its own.
            open_runs = [run_id for run_id, run in self._runs.items() if run.root_id == root_id]
            runs = [self._runs.pop(run_id) for run_id in open_runs]
            for run in runs:
                if run.owner is not None:
                    self._forget_leaf(run.owner, run.span)
        for run in sorted(runs, key=lambda r: r.span.start_time_ns, reverse=True):  # innermost first
            run.span.end(attributes={"autolog.ended_by": "root_run_ended"}, status="ERROR" if failed else "OK")

    def event(self, run_id: UUID, name: str, attributes: dict[str, Any], span_type: str | None = None) -> None:
        """Add an event to the span of a running run (and change its type, if given)."""
        run = self._runs.get(run_id)
        if run is not None:
            if span_type is not None:
                run.span.set_span_type(span_type)
            run.span.add_event(SpanEvent(name, attributes=attributes))

    def resolve_parent(self, current: LiveSpan | None) -> LiveSpan | None:
        """Parent resolver: the LangChain step whose body is running here, if deeper than ``current``."""
        if not self._runs:
            return current
        with handle_internal_errors("langchain.resolve_parent"):
            config_var = _child_config_var or _find_child_config_var()
            config = config_var.get() if config_var is not None else None
            if config:
                parent_run_id = getattr(config.get("callbacks"), "parent_run_id", None)
                run = self._runs.get(parent_run_id) if parent_run_id is not None else None
                if run is not None:
                    current = later_of(current, run.span)
            if self._leaves:
                stack = self._leaves.get(_owner())
                try:
                    current = later_of(current, stack[-1]) if stack else current
                except IndexError:  # emptied by another thread ending this run's root meanwhile
                    pass
        return current


def _trace_metadata_from_config(span: LiveSpan, metadata: dict[str, Any]) -> None:
    trace = span.live_trace
    for names, trace_key in ((_SESSION_KEYS, keys.TRACE_SESSION), (_USER_KEYS, keys.TRACE_USER)):
        for name in names:
            if metadata.get(name) is not None:
                trace.set_metadata(trace_key, metadata[name], replace=False)


_child_config_var: Any = None


def _find_child_config_var() -> Any:
    """LangChain's context variable holding the config of the step being run (once it is imported)."""
    global _child_config_var
    module = sys.modules.get("langchain_core.runnables.config")
    if module is not None:
        _child_config_var = getattr(module, "var_child_runnable_config", None)
    return _child_config_var
