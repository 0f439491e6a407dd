"""The export pipeline's options, checked where they are given (``Client``, ``configure``), before any I/O."""

from __future__ import annotations

from autolog._errors import InvalidArgumentError

__all__ = ["check_export_options"]


def check_export_options(*, max_queue_size: object, max_batch_size: object, schedule_delay_seconds: object,
                         max_content_chars: object, retry_timeout_seconds: object = 10.0) -> None:
    """Raise ``InvalidArgumentError`` naming the first export option that cannot work."""
    for name, value in (("max_queue_size", max_queue_size), ("max_batch_size", max_batch_size)):
        if type(value) is not int or value < 1:
            raise InvalidArgumentError(f"{name} must be an int of at least 1, got {value!r}")
    if max_content_chars is not None and (type(max_content_chars) is not int or max_content_chars < 1):
        raise InvalidArgumentError(f"max_content_chars must be None (no cap) or an int of at least 1, "
                                   f"got {max_content_chars!r}")
    for name, value in (("schedule_delay_seconds", schedule_delay_seconds),
                        ("retry_timeout_seconds", retry_timeout_seconds)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise InvalidArgumentError(f"{name} must be a finite number of seconds, at least 0, got {value!r}")
