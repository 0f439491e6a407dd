"""The registry of traces whose root span has not ended yet (re-exported by ``autolog._tracing.live``)."""

from __future__ import annotations

from typing import Any

__all__ = ["OpenTraces"]


class OpenTraces:
    """Traces whose root span has not ended yet, by id (for the explicit-parent Client API).

    Every trace passes through here, so it uses single dict operations, which are atomic
    (under the GIL, and per-object locked on free-threaded builds), instead of a lock.
    """

    def __init__(self) -> None:
        self._traces: dict[str, Any] = {}

    def add(self, trace: Any) -> None:
        self._traces[trace.trace_id] = trace

    def remove(self, trace_id: str) -> None:
        self._traces.pop(trace_id, None)

    def get(self, trace_id: str) -> Any | None:
        return self._traces.get(trace_id)

    def drain(self) -> list[Any]:
        traces, self._traces = self._traces, {}
        return list(traces.values())

    def __len__(self) -> int:
        return len(self._traces)

    def after_fork(self) -> None:
        # The child has none of the parent's threads; their open traces are not its own.
        self._traces = {}
