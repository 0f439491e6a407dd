"""Destinations of the export pipeline, behind one small protocol.

The pipeline (``pipeline.ExportPipeline``) owns the queue, the worker, batching, retries
and the spool; a destination only writes a batch and says how that went, as
OpenTelemetry's span exporters do. A destination never raises out of ``export``: it
returns an ``ExportResult`` that says whether the batch is stored, and if not whether
trying again may help (a locked file, a busy server), whether the destination refused the
records themselves (``rejected``: the pipeline bisects the batch and quarantines the bad
records, see ``delivery``), or neither (the destination is down: the pipeline keeps the
batch in the spool for a later replay).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tenacity import RetryCallState, retry, retry_if_result, stop_after_delay, wait_random_exponential

from autolog._errors import StoreError
from autolog._stats import STATS, DestinationCounters
from autolog._store.records import Record
from autolog._store.sqlite import SqliteStore

__all__ = ["ExportResult", "Exporter", "StoreExporter", "export_with_retries"]


@dataclass(frozen=True)
class ExportResult:
    """How one ``export`` call went: stored (``ok``), or failed with ``error``.

    ``retryable``: the same call may succeed soon (a lock, a busy server). ``rejected``: the
    destination works but refused these records (a constraint, a value it cannot take).
    """

    ok: bool
    retryable: bool = False
    error: BaseException | None = None
    rejected: bool = False


EXPORTED = ExportResult(ok=True)


class Exporter(Protocol):
    """Where the pipeline sends records. Called from the pipeline's one worker thread only."""

    @property
    def destination(self) -> str:
        """Where the records go, for log messages (a tracking URI, an endpoint)."""
        ...

    def export(self, records: Sequence[Record], metadata_sets: dict[str, dict[str, str]]) -> ExportResult:
        """Store a batch, all of it or nothing; idempotent by trace id (a batch may be sent twice).

        ``metadata_sets`` holds the content of the shared metadata sets the records name.
        """
        ...

    def maintain(self) -> None:
        """Housekeeping, called between writes when no ``flush()`` waits (may block)."""
        ...

    def shutdown(self, timeout_seconds: float) -> None:
        """Release what the exporter holds; nothing is exported after this."""
        ...


class StoreExporter:
    """The SQL store as a destination: a batch is one transaction."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    @property
    def destination(self) -> str:
        return self.store.uri

    def export(self, records: Sequence[Record], metadata_sets: dict[str, dict[str, str]]) -> ExportResult:
        try:
            self.store.write_records(records, metadata_sets)
        except self.store.transient_errors as exc:
            return ExportResult(ok=False, retryable=True, error=exc)
        except Exception as exc:  # noqa: BLE001 - reported to the pipeline, which keeps the batch
            return ExportResult(ok=False, error=exc, rejected=_is_about_the_records(exc))
        return EXPORTED

    def maintain(self) -> None:
        self.store.checkpoint()

    def shutdown(self, timeout_seconds: float) -> None:
        # Connections are per thread and close with their thread; the store stays readable
        # through the client after its pipeline stopped.
        return None


# What SQLite (or the binding of a value) says when a record, not the store, is at fault:
# a NOT NULL or other constraint, a value it cannot bind (a tuple, an int past 64 bits).
_RECORD_FAULTS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError, sqlite3.DataError)


def _record_faults() -> tuple[type[BaseException], ...]:
    """SQLite's, and PostgreSQL's when psycopg is loaded (a constraint or a value the server refused): those are
    the records' fault, to be set apart, where a lost connection is the destination's, to be spooled."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return _RECORD_FAULTS
    errors = psycopg.errors
    # not ProgrammingError: it also means a missing table or privilege, which is the database's fault
    return (*_RECORD_FAULTS, errors.IntegrityError, errors.DataError)


def _is_about_the_records(exc: BaseException) -> bool:
    if isinstance(exc, StoreError):
        return isinstance(exc.__cause__, _record_faults())
    # Not a StoreError: raised while binding or building rows, before SQLite saw anything
    # (OverflowError for ints past 64 bits, TypeError/ValueError/IndexError for a malformed record).
    return isinstance(exc, (OverflowError, TypeError, ValueError, IndexError, KeyError, *_RECORD_FAULTS))


def export_with_retries(exporter: Exporter, records: Sequence[Record], metadata_sets: dict[str, dict[str, str]],
                        timeout_seconds: float, counters: DestinationCounters | None = None) -> ExportResult:
    """Export one batch, retrying with backoff while the exporter says a retry may help; the last result.

    An exporter that raises instead of returning a result fails the batch like any other
    failure (the pipeline spools it): a destination's bug never stops the worker.
    """
    send = retry(stop=stop_after_delay(timeout_seconds), wait=wait_random_exponential(multiplier=0.02, max=1.0),
                 retry=retry_if_result(lambda result: result.retryable),
                 before_sleep=_count_retry if counters is None else lambda state: counters.incr("retries"),
                 retry_error_callback=_last_result)(exporter.export)
    try:
        result: ExportResult = send(records, metadata_sets)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return ExportResult(ok=False, error=exc)
    return result


def _count_retry(state: RetryCallState) -> None:
    STATS.incr("export_retries")


def _last_result(state: RetryCallState) -> ExportResult:
    assert state.outcome is not None  # called once retries stop, after an attempt
    result: ExportResult = state.outcome.result()
    return result
