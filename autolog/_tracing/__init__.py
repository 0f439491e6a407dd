"""Recording spans and traces; what the integrations are built on.

Modules: ``live`` (LiveSpan, LiveTrace, the registry of open traces), ``context`` (the
current span, suppression, framework parent resolvers, stepping a generator inside a
span), ``tracer`` (the one way a span starts), ``fluent`` (``@trace``, ``start_span``...),
``versions`` (the active model and experiment), ``metadata`` (process metadata), ``previews``,
``patching`` (the integrations' patch registry), ``guard`` (the internal-error guard),
``ids``. Tracing never imports the store or the export pipeline: finished traces go to
the sink of the trace factory that ``autolog._client`` installs.

This package's namespace is the API the integrations use (with ``autolog.entities``).
"""

from __future__ import annotations

from autolog._serialize import JsonText, dumps, json_of_model
from autolog._tracing.context import (
    CURRENT_SPAN,
    PARENT_RESOLVERS,
    aiterate_in_span,
    current_parent,
    iterate_in_span,
    later_of,
    parent_of_framework_span,
)
from autolog._tracing.guard import handle_internal_errors
from autolog._tracing.live import DeferredOutputs, LiveSpan
from autolog._tracing.patching import IntegrationState, configure_integration, get_state
from autolog._tracing.previews import cut_preview, last_message_text
from autolog._tracing.tracer import start_span_no_context

__all__ = [
    "CURRENT_SPAN", "PARENT_RESOLVERS", "DeferredOutputs", "IntegrationState", "JsonText", "LiveSpan",
    "aiterate_in_span", "configure_integration", "current_parent", "cut_preview", "dumps", "get_state",
    "handle_internal_errors", "iterate_in_span", "json_of_model", "last_message_text", "later_of",
    "parent_of_framework_span", "start_span_no_context",
]
