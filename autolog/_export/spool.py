"""The disk spool: where traces go when the queue is full, the store fails or the process exits.

Spool files are JSON lines (``autolog._store.records.record_to_json``) named
``<pid>-<random>.jsonl`` in ``<db>.spool/`` and held under an exclusive ``flock`` while
their process lives. The export worker replays its own spool when the queue is idle, and
replays files of processes that died (their lock is free): a process killed mid-export
loses nothing it had spooled.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import threading
from pathlib import Path
from typing import IO, Any

from autolog._stats import STATS
from autolog._store.records import SET_FIELD, Record, record_from_json

__all__ = ["Spool", "read_spool", "records_from_spool"]

Claims = list[tuple[Path, IO[str]]]


class Spool:
    """This process's append-only spool file, plus replay of files left by dead processes.

    Replay *claims* files: their records are read, but a file is deleted only once its
    records are stored (``release``), and it stays locked until then so no other process
    claims it too. A process killed mid-replay leaves the file for the next one; records
    stored twice that way are harmless (writes are idempotent by trace id).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._path: Path | None = None
        self.pending = 0

    def _open(self) -> IO[str]:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._path = self.directory / f"{os.getpid()}-{random.getrandbits(32):08x}.jsonl"
            self._file = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the spool
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self._file

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append records (as ``record_to_json`` objects) durably enough to survive the process being killed."""
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        with self._lock:
            f = self._open()
            f.write(text)
            f.flush()
            self.pending += len(records)

    def claim_own(self) -> tuple[list[dict[str, Any]], Claims]:
        """Everything this process spooled so far, and the claim on its file (later appends start a new file)."""
        with self._lock:
            if self._file is None or self.pending == 0:
                return [], []
            assert self._path is not None
            claim = (self._path, self._file)  # still locked: no other process replays it meanwhile
            self._file, self._path = None, None
            self.pending = 0
            claim[1].flush()
        return read_spool(claim[0]), [claim]

    def claim_orphans(self) -> tuple[list[dict[str, Any]], Claims]:
        """The records of spool files whose owner process is gone, and the claims on those files."""
        if not self.directory.is_dir():
            return [], []
        records: list[dict[str, Any]] = []
        claims: Claims = []
        for path in sorted(self.directory.glob("*.jsonl")):
            if path == self._path:
                continue
            try:
                f = open(path, encoding="utf-8")  # noqa: SIM115 - held until release()
            except FileNotFoundError:
                continue  # another process replayed it meanwhile
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue  # its process is alive (it replays the file itself) or another one claimed it
            if not path.exists():  # released by the process that held it just before we locked it
                f.close()
                continue
            records.extend(read_spool(path))
            claims.append((path, f))
        return records, claims

    @staticmethod
    def release(claims: Claims) -> None:
        """Delete claimed files whose records are stored (or spooled again), then drop their locks."""
        for path, f in claims:
            path.unlink(missing_ok=True)
            f.close()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._file = None  # the parent's file and lock stay the parent's
        self._path = None
        self.pending = 0


def read_spool(path: Path) -> list[dict[str, Any]]:
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                # Only a line cut short by a kill can be malformed; it was never fully spooled.
                STATS.incr("dropped")
    return records


def records_from_spool(lines: list[dict[str, Any]]) -> tuple[list[Record], dict[str, dict[str, str]]]:
    """Spooled lines as records, and the content of the metadata sets they name."""
    records: list[Record] = []
    sets: dict[str, dict[str, str]] = {}
    for line in lines:
        try:
            record, set_values = record_from_json(line)
        except (KeyError, TypeError, ValueError):
            STATS.incr("dropped")  # not a record this autolog can read: counted, not silently skipped
            continue
        records.append(record)
        if record[SET_FIELD] is not None and set_values is not None:
            sets[record[SET_FIELD]] = set_values
    return records, sets
