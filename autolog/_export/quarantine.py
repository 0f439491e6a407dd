"""The quarantine: records the store refused and spool lines that cannot be read, kept for a person.

Files ``<db>.spool/quarantine/<pid>-<random>.jsonl``, one JSON object a line: ``reason``
(what the store or the reader said), ``at`` (when, ISO 8601 UTC), and either ``record``
(the trace record, in the spool's format: it can be fixed by hand and moved back into
``<db>.spool/`` to be stored) or ``line`` (the unreadable text). Nothing ever reads these
files back on its own: a record the store refused once would be refused again. Each entry
is counted in ``autolog.stats()["quarantined"]``.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any

__all__ = ["Quarantine"]


class Quarantine:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._pid = -1

    def add(self, entries: list[dict[str, Any]]) -> None:
        """Append entries (each with ``reason`` and ``record`` or ``line``); raises OSError if the disk refuses."""
        at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        data = "".join(json.dumps({"at": at, **e}, ensure_ascii=False, default=repr) + "\n" for e in entries)
        with self._lock:
            if self._path is None or self._pid != os.getpid():
                self.directory.mkdir(parents=True, exist_ok=True)
                self._pid = os.getpid()
                self._path = self.directory / f"{self._pid}-{secrets.token_hex(6)}.jsonl"
            with open(self._path, "a", encoding="utf-8") as f:
                f.write(data)
