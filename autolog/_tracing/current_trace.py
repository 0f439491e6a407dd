"""``update_current_trace``: trace-level fields of the trace the current span belongs to; ``get_active_trace_id``."""

from __future__ import annotations

import logging
import time
from typing import Any

from autolog._errors import InvalidArgumentError, check_key
from autolog._serialize import safe_str
from autolog._tracing.context import current_parent
from autolog.entities import keys

__all__ = ["get_active_trace_id", "update_current_trace"]

_logger = logging.getLogger("autolog")


def update_current_trace(tags: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
                         session_id: str | None = None, user: str | None = None,
                         client_request_id: str | None = None, request_preview: str | None = None,
                         response_preview: str | None = None, state: str | None = None,
                         model_id: str | None = None) -> None:
    """Add tags/metadata (and session, user, client request id, previews, state, model) to the current trace.

    ``state`` ("OK" or "ERROR") overrides the state derived from the root span; ``model_id``
    links the trace to another LoggedModel than the active one.

    Outside a trace (no span active, tracing suppressed, or the span could not be recorded)
    it logs a warning and does nothing, as MLflow does.

    Raises:
        InvalidArgumentError: a key is not a non-empty str, or ``state`` is not OK/ERROR.
    """
    tag_items = list((tags or {}).items())
    metadata_items = list((metadata or {}).items())
    for key, _ in tag_items:
        check_key(key, "tag key")
    for key, _ in metadata_items:
        check_key(key, "metadata key")
    code = None
    if state is not None:
        code = safe_str(getattr(state, "value", state)).upper()
        if code not in ("OK", "ERROR"):
            raise InvalidArgumentError(f"state must be 'OK' or 'ERROR', got {state!r}")
    span = current_parent()
    if span is None:
        _warn_outside_trace()
        return
    live = span.live_trace
    for key, value in tag_items:
        live.set_tag(key, value)
    for key, value in metadata_items:
        live.set_metadata(key, value)
    if session_id is not None:
        live.set_metadata(keys.TRACE_SESSION, session_id)
    if user is not None:
        live.set_metadata(keys.TRACE_USER, user)
    if client_request_id is not None:
        live.client_request_id = safe_str(client_request_id)
    if request_preview is not None:
        live.request_preview = safe_str(request_preview)
    if response_preview is not None:
        live.response_preview = safe_str(response_preview)
    if code is not None:
        live.state = code
    if model_id is not None:
        live.set_metadata(keys.MODEL_ID, model_id)


def get_active_trace_id() -> str | None:
    """The id of the trace the current span belongs to; None outside a trace (as MLflow). Never blocks."""
    span = current_parent()
    return None if span is None else span.live_trace.trace_id


_last_outside_warning = [0.0]


def _warn_outside_trace() -> None:
    # A call left in code that also runs untraced would otherwise log on every request.
    now = time.monotonic()
    if now - _last_outside_warning[0] >= 60.0:
        _last_outside_warning[0] = now
        _logger.warning("update_current_trace() was called outside of a trace (no span is active, or tracing is "
                        "off): nothing was updated. Call it inside an @autolog.trace function or a start_span block.")
