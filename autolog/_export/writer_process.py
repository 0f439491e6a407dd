"""The writer process: turns snapshots into store records and writes them, on a CPU of its own.

Started by ``writer_link`` (``python -m autolog._export.writer_process``) for one store. It reads
requests from stdin and answers each on stdout, one at a time; each is a frame: 4 bytes of
length (little-endian) and a ``marshal`` payload.

* first, ``(tracking_uri, shared_set_id, process_metadata)``: the store and the parent's metadata set;
* ``("write", items, metadata_sets)``: records (tuples) and snapshots (lists), written in one transaction;
  answered ``("ok",)`` or ``("error", retryable, rejected, message)`` — the parent retries, bisects,
  spools or quarantines as it does for its own writes, so the parent holds every batch until it is answered;
* ``("maintain",)``: the store's upkeep (WAL checkpoint, planner statistics).

It exits when stdin closes: when the parent shuts it down, exits or is killed. A request read in
full is answered (written) first, so a parent killed mid-way loses nothing it had sent.
Ctrl-C reaches the whole process group: the writer ignores SIGINT, so the parent's exit flush still finds it.
"""

from __future__ import annotations

import marshal
import os
import signal
import sys
from typing import IO

from autolog._export.frames import read_frame, write_frame

__all__ = ["main"]

def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    from autolog._export.exporter import StoreExporter
    from autolog._export.snapshot import record_of_snapshot
    from autolog._store.records import SET_FIELD
    from autolog._store.stores import open_store

    config = read_frame(requests)
    if config is None:
        return
    uri, set_id, process_metadata = config
    exporter = StoreExporter(open_store(uri))
    while (request := read_frame(requests)) is not None:
        if request[0] == "maintain":
            exporter.maintain()
            write_frame(answers, marshal.dumps(("ok",)))
            continue
        _, items, sets = request
        try:
            records = [record_of_snapshot(i, process_metadata, set_id) if type(i) is list else i for i in items]
        except Exception as exc:  # noqa: BLE001 - answered: the parent bisects down to the trace and keeps it
            write_frame(answers, marshal.dumps(("error", False, True, f"encoding a snapshot failed: {exc!r}")))
            continue
        if set_id is not None and set_id not in sets and any(r[SET_FIELD] == set_id for r in records):
            sets = {**sets, set_id: process_metadata}
        result = exporter.export(records, sets)
        answer = ("ok",) if result.ok else ("error", result.retryable, result.rejected, repr(result.error))
        write_frame(answers, marshal.dumps(answer))


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not land in the answers
    _serve(requests, answers)


if __name__ == "__main__":
    main()
