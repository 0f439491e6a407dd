"""The disk spool: where traces go when the queue is full, the store fails or the process exits.

Spool files are JSON lines (``autolog._store.records.record_to_json``) named
``<pid>-<random>.jsonl`` in ``<db>.spool/`` and held under an exclusive ``flock`` while
their process lives. The export worker replays its own files when the queue is idle, and
files of processes that died (their lock is free): a process killed mid-export loses
nothing it had spooled.

A file is kept once and never copied: replay reads it in bounded chunks (so a spool of
any size replays in constant memory), and deletes it only once every chunk is stored or
quarantined. If the store fails meanwhile, the file stays where it is, whole, and the
chunks already stored are written again on the next attempt (harmless: writes are
idempotent by trace id); this process remembers how far it got and resumes from there.

Lines that cannot be read back (cut short by a kill, not UTF-8, not a record) never stop
the replay of the rest: each goes to the quarantine with the reason, and is counted.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from autolog._store.records import SET_FIELD, Record, record_from_json

__all__ = ["Chunk", "Spool", "SpoolFile", "iter_chunks"]


@dataclass(eq=False)
class SpoolFile:
    """One spool file, held (locked) by this process: its own, or a dead process's it claimed."""

    path: Path
    handle: IO[bytes]  # holds the flock; for its own file also the append handle
    records: int = 0  # lines not replayed yet (own files; 0 for a dead process's file: not counted)
    offset: int = 0  # bytes already replayed, by this process
    own: bool = True


@dataclass
class Chunk:
    """Part of a spool file, read back: its records, the metadata sets they name, and unreadable lines."""

    records: list[Record]
    sets: dict[str, dict[str, str]]
    unreadable: list[tuple[str, str]]  # (line as text, why)
    end: int  # offset just past the chunk
    lines: int  # lines read, readable or not


def _lock(handle: IO[bytes]) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class Spool:
    """This process's spool files, plus the claiming of files left by dead processes. Thread-safe."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._current: SpoolFile | None = None  # appended to
        self._waiting: list[SpoolFile] = []  # own files a failed replay gave back

    @property
    def pending(self) -> int:
        """Records this process spooled that are not stored yet (and not being replayed right now)."""
        current = self._current
        return (current.records if current is not None else 0) + sum(f.records for f in self._waiting)

    def _open(self) -> SpoolFile:
        if self._current is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            # secrets, not random: a user's random.seed() must not give two processes one name.
            path = self.directory / f"{os.getpid()}-{secrets.token_hex(6)}.jsonl"
            handle = open(path, "ab")  # noqa: SIM115 - lives until its records are replayed
            _lock(handle)  # a fresh name: nobody else holds it
            self._current = SpoolFile(path, handle)
        return self._current

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append records (``record_to_json`` objects) durably enough to survive the process being killed.

        All or nothing: a write that fails part-way (a full disk) is cut back, so the file
        never holds half a line that the next append would run into.
        """
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        with self._lock:
            f = self._open()
            size = f.handle.seek(0, os.SEEK_END)
            try:
                f.handle.write(data)
                f.handle.flush()
            except BaseException:
                try:
                    f.handle.truncate(size)
                except OSError:
                    self._current = None  # unknown state: later appends go to a new file
                raise
            f.records += len(records)

    def claim_own(self) -> list[SpoolFile]:
        """This process's files with records to replay; later appends start a new file."""
        with self._lock:
            files, self._waiting = self._waiting, []
            current = self._current
            if current is not None and current.records:
                self._current = None
                current.handle.flush()
                files.append(current)
        return files

    def claim_orphans(self, exclude: set[Path] | None = None) -> list[SpoolFile]:
        """Files of processes that are gone, each locked so no other process replays it meanwhile."""
        if not self.directory.is_dir():
            return []
        with self._lock:
            held = {f.path for f in self._waiting} | ({self._current.path} if self._current else set())
        held |= exclude or set()
        claims = []
        for path in sorted(self.directory.glob("*.jsonl")):
            if path in held or not path.is_file():  # a directory named *.jsonl is not a spool file
                continue
            try:
                handle = open(path, "rb")  # noqa: SIM115 - held until release()
            except OSError:
                continue  # replayed and deleted by another process meanwhile, or unreadable: not ours to judge
            if not _lock(handle):
                handle.close()
                continue  # its process is alive (it replays the file itself) or another one claimed it
            if not path.exists():  # released by the process that held it just before we locked it
                handle.close()
                continue
            claims.append(SpoolFile(path, handle, own=False))
        return claims

    def give_back(self, files: list[SpoolFile]) -> None:
        """Files whose replay stopped because the store failed: kept as they are, for a later attempt.

        Own files stay locked and wait in this process; a dead process's file is unlocked,
        for this process's next scan or another process to claim.
        """
        with self._lock:
            for f in files:
                if f.own:
                    self._waiting.append(f)
                else:
                    f.handle.close()

    @staticmethod
    def release(f: SpoolFile) -> None:
        """Delete a file whose records are all stored or quarantined, then drop its lock."""
        f.path.unlink(missing_ok=True)
        f.handle.close()

    def close(self) -> None:
        """Unlock this process's files (they stay on disk): any live process may now replay them."""
        with self._lock:
            files = self._waiting + ([self._current] if self._current else [])
            self._waiting, self._current = [], None
        for f in files:
            f.handle.close()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._current = None  # the parent's files and locks stay the parent's
        self._waiting = []


def iter_chunks(f: SpoolFile, max_records: int, max_chars: int) -> Iterator[Chunk]:
    """Read ``f`` from its offset in chunks of at most ``max_records`` lines or about ``max_chars`` characters."""
    with open(f.path, "rb") as reader:
        reader.seek(f.offset)
        offset = f.offset
        lines: list[tuple[bytes, int]] = []
        chars = 0
        for raw in reader:
            offset += len(raw)
            lines.append((raw, offset))
            chars += len(raw)
            if len(lines) >= max_records or chars >= max_chars:
                yield _parse(lines)
                lines, chars = [], 0
        if lines:
            yield _parse(lines)


def _parse(lines: list[tuple[bytes, int]]) -> Chunk:
    records: list[Record] = []
    sets: dict[str, dict[str, str]] = {}
    unreadable: list[tuple[str, str]] = []
    for raw, _ in lines:
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
            record, set_values = record_from_json(obj)
        except UnicodeDecodeError as exc:
            unreadable.append((raw.decode("utf-8", "backslashreplace"), f"not UTF-8: {exc}"))
        except json.JSONDecodeError as exc:
            # A line cut short by a kill mid-write, or damaged on disk.
            unreadable.append((raw.decode("utf-8", "backslashreplace"), f"not JSON: {exc}"))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            unreadable.append((raw.decode("utf-8", "backslashreplace"), f"not a trace record: {exc!r}"))
        else:
            records.append(record)
            if record[SET_FIELD] is not None and set_values is not None:
                sets[record[SET_FIELD]] = set_values
    return Chunk(records, sets, unreadable, lines[-1][1], len(lines))
