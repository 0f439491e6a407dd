"""The store as a destination written by a writer process (``AUTOLOG_EXPORT_PROCESS=1``): the parent's side.

``WriterProcessExporter`` is the pipeline's exporter: ``export(items)`` sends a batch of
snapshots (and records, from spool replays) to the writer process and waits for its answer
(the wait releases the GIL), so the pipeline's retries, bisection, spool and quarantine work
on it unchanged, and a batch is the parent's until the writer says it is written.

The writer is started by the first batch, with the interpreter running the application. If it
cannot be started, or dies, the batch is written here instead (encoded in this process, as
without the writer process), and a new writer is started for a later batch, at most one every
``_RESTART_SECONDS``. A batch ``marshal`` cannot send (an attribute holding a user's object)
is written here too. In a forked child the parent's writer is not used: the child starts its own.
"""

from __future__ import annotations

import logging
import marshal
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autolog._export.encode import metadata_sets_of, shared_metadata_set_id
from autolog._export.exporter import ExportResult, StoreExporter
from autolog._export.frames import read_frame, write_frame
from autolog._export.snapshot import is_snapshot, record_of_snapshot
from autolog._store.records import Record
from autolog._tracing.guard import log_rate_limited
from autolog._tracing.metadata import process_metadata

__all__ = ["WriterProcessExporter", "export_process_enabled", "records_of"]

_logger = logging.getLogger("autolog")
_RESTART_SECONDS = 5.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # where `autolog` is imported from


def export_process_enabled() -> bool:
    """``AUTOLOG_EXPORT_PROCESS`` is 1/true/yes (read when a client is configured)."""
    return os.environ.get("AUTOLOG_EXPORT_PROCESS", "").strip().lower() in ("1", "true", "yes", "on")


def records_of(items: Sequence[Any]) -> list[Record]:
    """Records of pipeline items, encoding snapshots here."""
    metadata, set_id = process_metadata(), shared_metadata_set_id()
    return [record_of_snapshot(i, metadata, set_id) if is_snapshot(i) else i for i in items]


class WriterDiedError(ConnectionError):
    """The writer process ended while it had a batch: the batch is written by the parent instead."""


class WriterProcessExporter:
    """Exports through a writer process; falls back to ``local`` (the same store, in this process)."""

    def __init__(self, local: StoreExporter, tracking_uri: str) -> None:
        self.local = local
        self._tracking_uri = tracking_uri  # with its password, which the store's uri leaves out
        self._process: subprocess.Popen[bytes] | None = None
        self._pid = os.getpid()
        self._next_start = 0.0  # no new writer before this (monotonic) time, after one failed
        self._lock = threading.Lock()  # one request at a time (the worker, or flush() exporting on its thread)
        self.started = 0  # writers started (a diagnostic: tests and the bench read it)
        _LINKS.add(self)

    @property
    def destination(self) -> str:
        return self.local.destination

    def export(self, items: Sequence[Any], metadata_sets: dict[str, dict[str, str]]) -> ExportResult:
        try:
            payload = marshal.dumps(("write", list(items), metadata_sets))
        except ValueError:  # a user's object in an attribute: only this process can encode that trace
            return self._export_split(items, metadata_sets)
        with self._lock:
            answer = self._request(payload)
        if answer is None:
            return self._export_here(items)
        if answer[0] == "ok":
            return ExportResult(ok=True)
        _, retryable, rejected, message = answer
        return ExportResult(ok=False, retryable=retryable, rejected=rejected, error=RuntimeError(message))

    def maintain(self) -> None:
        with self._lock:
            if self._process is not None:
                self._request(marshal.dumps(("maintain",)))

    def shutdown(self, timeout_seconds: float) -> None:
        if self._lock.acquire(timeout=max(0.0, timeout_seconds)):
            try:
                self._stop(timeout_seconds)
            finally:
                self._lock.release()
        else:  # the worker is stuck in a request past the deadline (the pipeline spooled its batch): end the writer
            process = self._process
            if process is not None:
                process.kill()
        self.local.shutdown(timeout_seconds)

    # -- the writer ------------------------------------------------------------------------------
    def _export_split(self, items: Sequence[Any], metadata_sets: dict[str, dict[str, str]]) -> ExportResult:
        """The items marshal can send to the writer, the others written here (all again on a retry: upserts)."""
        here, there = [], []
        for item in items:
            try:
                marshal.dumps(item)
                there.append(item)
            except ValueError:
                here.append(item)
        result = self._export_here(here)
        if not result.ok or not there:
            return result
        return self.export(there, metadata_sets)

    def _export_here(self, items: Sequence[Any]) -> ExportResult:
        records = records_of(items)
        return self.local.export(records, metadata_sets_of(records))

    def _request(self, payload: bytes) -> Any:
        """The writer's answer to one request; None if there is no writer (then the caller writes here)."""
        process = self._writer()
        if process is None:
            return None
        error: Exception | None = None
        try:
            write_frame(process.stdin, payload)  # type: ignore[arg-type]
            answer = read_frame(process.stdout)  # type: ignore[arg-type]
        except (OSError, ValueError, EOFError) as exc:
            answer, error = None, exc
        if answer is None:
            self._stop(0.0)
            self._next_start = time.monotonic() + _RESTART_SECONDS
            log_rate_limited("export.writer_process", logging.WARNING, "autolog's writer process ended (%r); this "
                             "batch is written by the application's process", error or WriterDiedError())
        return answer

    def _writer(self) -> subprocess.Popen[bytes] | None:
        if self._pid != os.getpid():  # a forked child: the parent's writer is not ours
            self._forget()
        if self._process is not None and self._process.poll() is None:
            return self._process
        if self._process is not None:
            self._stop(0.0)
        if time.monotonic() < self._next_start:
            return None
        try:
            self._process = self._start()
        except (OSError, ValueError) as exc:
            self._next_start = time.monotonic() + _RESTART_SECONDS
            log_rate_limited("export.writer_process", logging.WARNING,
                             "autolog could not start its writer process (%r); traces are written in-process", exc)
            return None
        return self._process

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        env.pop("AUTOLOG_EXPORT_PROCESS", None)
        if getattr(sys, "frozen", False):  # a frozen app's executable is the app itself, not a Python
            raise ValueError("a frozen application cannot start python -m autolog._export.writer_process")
        # Unbuffered pipes: a buffered writer's lock, held by a write a fork interrupts, would hang the child.
        process = subprocess.Popen([sys.executable, "-m", "autolog._export.writer_process"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, env=env, close_fds=True, bufsize=0)
        self.started += 1
        try:
            write_frame(process.stdin, marshal.dumps((self._tracking_uri, shared_metadata_set_id(),  # type: ignore[arg-type]
                                                      process_metadata())))
        except OSError:
            process.kill()
            process.wait()
            raise
        return process

    def _stop(self, timeout_seconds: float) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for pipe in (process.stdin, process.stdout):
            try:
                pipe.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            process.wait(timeout_seconds)  # it writes what it has, then exits
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _forget(self) -> None:
        """In a forked child: close the parent's pipes here (the parent's writer must see its parent go)."""
        process, self._process = self._process, None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        if process is not None:
            _ABANDONED.append(process)  # never finalized here: its pipe objects must not close a reused fd later
            for pipe in (process.stdin, process.stdout):
                try:
                    os.close(pipe.fileno())  # type: ignore[union-attr]  # this process's copy of the descriptor only
                except (OSError, ValueError):
                    pass


_LINKS: weakref.WeakSet[WriterProcessExporter] = weakref.WeakSet()
_ABANDONED: list[Any] = []  # the parent's writers, as a forked child inherited them


def _after_fork_in_child() -> None:
    for link in list(_LINKS):
        link._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
