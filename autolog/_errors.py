"""Exceptions raised by autolog.

Hierarchy::

    AutologError                      base of every error autolog raises on purpose
    ├── InvalidFilterError            a filter string or order_by clause that does not parse
    ├── ResourceDoesNotExist          get_trace / get_logged_model / set_active_model(model_id=) on an unknown id
    ├── StoreError                    the store cannot be opened or read, is too new, or a write failed
    │   └── StoreBusyError            another process held the store's write lock past the busy timeout
    └── InvalidArgumentError(ValueError)  a public function was called with a bad value

``TypeError`` is raised as-is where Python's own convention calls for it (for example a
non-str param value in ``create_external_model``).

Internal errors are different: a failure of autolog's own code while it observes the
user's code never reaches the user's call path. ``autolog._tracing.guard`` handles those.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AutologError",
    "InvalidArgumentError",
    "InvalidFilterError",
    "ResourceDoesNotExist",
    "StoreBusyError",
    "StoreError",
    "check_key",
]


class AutologError(Exception):
    """Base class of every error autolog raises on purpose (``autolog.exceptions.MlflowException``).

    ``error_code`` is MLflow's name of the kind of error (``"RESOURCE_DOES_NOT_EXIST"``...).
    """

    error_code = "INTERNAL_ERROR"

    @property
    def message(self) -> str:  # MlflowException's attribute
        return str(self.args[0]) if self.args else ""

    def get_error_code(self) -> str:
        return self.error_code


class InvalidFilterError(AutologError, ValueError):
    """A filter string (or order_by clause) that cannot be parsed or compiled.

    Attributes:
        filter_string: the text that was given.
        position: 0-based character offset where the problem was found.
        expected: what the parser expected at that position.

    ``what`` names the text in the message: "filter", or "order_by" for an order_by clause.
    """

    error_code = "INVALID_PARAMETER_VALUE"

    def __init__(self, filter_string: str, position: int, expected: str, found: str | None = None,
                 what: str = "filter") -> None:
        self.filter_string = filter_string
        self.position = position
        self.expected = expected
        self.found = found
        got = "end of input" if found is None else repr(found)
        pointer = filter_string + "\n" + " " * position + "^"
        super().__init__(f"Invalid {what} at position {position}: expected {expected}, found {got}\n{pointer}")


class ResourceDoesNotExist(AutologError, LookupError):
    """An id (trace, logged model, experiment) that the store does not hold."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


class StoreError(AutologError):
    """The store cannot be opened, read or written: the message names the store and the cause.

    Attributes:
        path: the store's file.
        cause: what SQLite or the OS said (for example ``"database or disk is full"``).
    """

    def __init__(self, message: str, path: object = None, cause: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.cause = cause


class StoreBusyError(StoreError):
    """Another connection held the store's write lock longer than the busy timeout: trying again may succeed."""


class InvalidArgumentError(AutologError, ValueError):
    """A public function was called with a value it cannot accept."""

    error_code = "INVALID_PARAMETER_VALUE"


def check_key(key: Any, what: str) -> None:
    """Raise ``InvalidArgumentError`` unless ``key`` is a non-empty str (``what`` names it: "tag key"...)."""
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"{what} must be a non-empty str, got {key!r}")
