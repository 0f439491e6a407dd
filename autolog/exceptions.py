"""``autolog.exceptions``: the names code written for ``mlflow.exceptions`` imports.

``MlflowException`` is ``autolog.AutologError``, the base of every error autolog raises on
purpose, so ``except MlflowException`` catches them all; like MLflow's, each carries
``error_code`` (``"RESOURCE_DOES_NOT_EXIST"``, ``"INVALID_PARAMETER_VALUE"``, ...) and
``message``. The tracing-data names map to the autolog error raised in that situation.
"""

from __future__ import annotations

from autolog._errors import (
    AutologError,
    InvalidArgumentError,
    InvalidFilterError,
    ResourceDoesNotExist,
    StoreBusyError,
    StoreError,
)

__all__ = [
    "AutologError",
    "InvalidArgumentError",
    "InvalidFilterError",
    "MlflowException",
    "MlflowTraceDataCorrupted",
    "MlflowTraceDataException",
    "MlflowTraceDataNotFound",
    "MlflowTracingException",
    "ResourceAlreadyExists",
    "ResourceDoesNotExist",
    "RestException",
    "StoreBusyError",
    "StoreError",
]

MlflowException = AutologError
MlflowTracingException = AutologError  # MLflow: a tracing operation failed
RestException = AutologError  # MLflow: an error answered by a tracking server (autolog has no server calls)
MlflowTraceDataException = StoreError  # MLflow: a trace's span data could not be read
MlflowTraceDataCorrupted = StoreError
MlflowTraceDataNotFound = ResourceDoesNotExist


class ResourceAlreadyExists(InvalidArgumentError):
    """A name that is already taken (``MlflowClient.create_experiment`` of an existing experiment)."""

    error_code = "RESOURCE_ALREADY_EXISTS"
