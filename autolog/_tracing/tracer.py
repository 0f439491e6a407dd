"""Starting spans: the one path every span takes, from ``@trace``, ``start_span`` and the integrations.

Tracing knows nothing of stores or exporters. A new trace comes from the factory the client
layer installs (``install_trace_factory``: the default client's ``new_live_trace``), and a
trace hands itself to the sink that factory gave it when its root span ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from autolog._tracing.live import LiveSpan, LiveTrace
from autolog.entities.span import SpanType

__all__ = ["get_last_active_trace_id", "install_trace_factory", "start_root_span", "start_span_no_context"]

_new_trace: Callable[[], LiveTrace] | None = None
_last_trace = threading.local()
_last_trace_global: list[str | None] = [None]


def install_trace_factory(factory: Callable[[], LiveTrace]) -> None:
    """Where new traces come from (installed once, by ``autolog._client`` at import)."""
    global _new_trace
    _new_trace = factory


def start_span_no_context(name: str, span_type: str = SpanType.UNKNOWN, parent_span: LiveSpan | None = None,
                          inputs: Any = None, attributes: dict[str, Any] | None = None,
                          start_time_ns: int | None = None) -> LiveSpan:
    """Start a span without making it current; end it with ``span.end()``. For callback-style code.

    Without ``parent_span`` the span is the root of a new trace. Never blocks on I/O.
    """
    own_attributes = dict(attributes) if attributes else None
    if parent_span is not None:
        return parent_span.start_child(name, span_type, start_time_ns, inputs, own_attributes)
    return start_root_span(name, span_type, inputs, own_attributes, start_time_ns)


def start_root_span(name: str, span_type: str, inputs: Any = None, attributes: dict[str, Any] | None = None,
                    start_time_ns: int | None = None) -> LiveSpan:
    """The root span of a new trace. ``attributes`` is owned by the span from here on (the caller copies)."""
    assert _new_trace is not None, "autolog._client installs the trace factory when autolog is imported"
    trace = _new_trace()
    _last_trace.trace_id = trace.trace_id
    _last_trace_global[0] = trace.trace_id
    return trace.start_root(name, span_type, start_time_ns, inputs, attributes)


def get_last_active_trace_id(thread_local: bool = False) -> str | None:
    """The id of the last trace started (in this thread if ``thread_local``, else in the process)."""
    if thread_local:
        return getattr(_last_trace, "trace_id", None)
    return _last_trace_global[0]
