"""Item 21, the store's side: a full disk is reported as a full disk, and not retried as if it were a lock.

SQLite rolls a transaction back itself when a write fails with SQLITE_FULL; the store's own
ROLLBACK then failed with "cannot rollback - no transaction is active", an OperationalError
that hid the real error and that the exporter retried as a transient lock. SQLite's
``PRAGMA max_page_count`` makes the database full at a chosen size, as a full disk would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import autolog
from autolog._export.exporter import StoreExporter, export_with_retries
from autolog._store.records import Record, record_from_json
from autolog._store.sqlite import SqliteStore


def _record(i: int) -> Record:
    content = json.dumps({"name": "root", "inputs": {"text": "x" * 4000, "i": i}})
    record, _ = record_from_json({
        "trace_id": f"tr-{i:032x}", "experiment_id": "0", "name": "root", "request_time": 1_700_000_000_000 + i,
        "execution_duration": 5, "state": "OK", "client_request_id": None, "model_id": None, "run_id": None,
        "token_usage": None, "request_preview": None, "response_preview": None, "metadata_set": None,
        "tags": {"i": str(i)}, "metadata": {}, "spans": [[f"{i:016x}", None, "root", "CHAIN", "OK", 0, 5, content]]})
    return record


def _limit_pages(store: SqliteStore, pages: int | None) -> None:
    """Cap the database at ``pages`` pages (None: the current size) on this thread's connection."""
    with store.connections.session("capping the size") as conn:
        if pages is None:
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_store_raises_a_store_error_that_says_full(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'full.db'}")
    store.write_records([_record(0)])
    _limit_pages(store, None)
    batch = [_record(i) for i in range(1, 100)]
    with pytest.raises(autolog.StoreError) as caught:
        store.write_records(batch)
    assert type(caught.value) is autolog.StoreError  # not StoreBusyError: waiting does not free a disk
    assert "is full" in str(caught.value) and str(store.path) in str(caught.value)
    assert caught.value.cause == "database or disk is full"
    assert store.count_traces() == 1  # all of the batch or nothing

    # The connection is left clean: once there is room again, the same batch is stored.
    _limit_pages(store, 1_000_000)
    assert store.write_records(batch) == 99
    assert store.count_traces() == 100


def test_the_exporter_does_not_retry_a_full_disk(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'full.db'}")
    store.write_records([_record(0)])
    _limit_pages(store, None)
    started = time.monotonic()
    result = export_with_retries(StoreExporter(store), [_record(i) for i in range(1, 100)], {}, timeout_seconds=20)
    assert time.monotonic() - started < 2.0  # failed at once instead of retrying until the timeout
    assert not result.ok and not result.retryable
    assert isinstance(result.error, autolog.StoreError) and "is full" in str(result.error)
