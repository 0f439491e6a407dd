"""What a traced generator yielded: its outputs and MLflow's ``mlflow.chunk.item.<i>`` span events.

On the application's thread a generator's wrapper only keeps each item and the time it was
yielded; the events (with each item as JSON) are made when the trace is encoded, on the
export worker. At most ``MAX_CHUNK_EVENTS`` events are kept per span (env
``AUTOLOG_MAX_CHUNK_EVENTS``, default 1,000, read once at import); the number of items past
that is the span attribute ``autolog.chunk.events_dropped``.
"""

from __future__ import annotations

import os
from typing import Any

from autolog._serialize import dumps
from autolog._tracing.live import DeferredOutputs
from autolog.entities.keys import CHUNK_EVENT_NAME, CHUNK_EVENT_VALUE
from autolog.entities.span import SpanEvent

__all__ = ["CHUNK_EVENTS_DROPPED", "MAX_CHUNK_EVENTS", "GeneratorOutputs", "max_chunk_events"]

CHUNK_EVENTS_DROPPED = "autolog.chunk.events_dropped"


def max_chunk_events(text: str | None) -> int:
    """The event cap given by ``AUTOLOG_MAX_CHUNK_EVENTS``'s text: a non-negative int, else the default 1,000."""
    try:
        value = int(text) if text is not None else 1000
    except ValueError:
        return 1000
    return value if value >= 0 else 1000


MAX_CHUNK_EVENTS = max_chunk_events(os.environ.get("AUTOLOG_MAX_CHUNK_EVENTS"))


class GeneratorOutputs(DeferredOutputs):
    """The outputs a generator's span ends with; the chunk events are made on the export worker."""

    __slots__ = ("_count", "_items", "_outputs", "_times")
    cheap_to_encode = False  # the items are the user's objects

    def __init__(self, outputs: Any, items: list[Any], times: list[int], count: int) -> None:
        self._outputs = outputs  # the items, or what output_reducer made of them
        self._items = items
        self._times = times  # when each of the first items was yielded (ns)
        self._count = count  # items yielded in all

    def resolve(self) -> tuple[Any, dict[str, Any] | None]:
        dropped = self._count - min(len(self._items), len(self._times))
        return self._outputs, ({CHUNK_EVENTS_DROPPED: dropped} if dropped else None)

    def events(self) -> list[SpanEvent]:
        return [SpanEvent(CHUNK_EVENT_NAME.format(index=i), when, {CHUNK_EVENT_VALUE: dumps(item)})
                for i, (item, when) in enumerate(zip(self._items, self._times, strict=False))]
