"""Item 3: while the store keeps failing (a newer schema), the spool is kept once, never copied.

Each restart used to replay every spool file, fail, append the records to a new file and
delete the old one only when all of it was done: a process that exited meanwhile left both
(800 traces became 14,864 spool lines after 8 restarts). Now a file whose replay fails stays
as it is, and is replayed whole once the store works again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.faults.spools import run_python, spool_lines, stored_ids

WRITER = """
import json, sys, autolog
client = autolog.configure(sys.argv[1])
for i in range(int(sys.argv[2])):
    with autolog.start_span("root") as span:
        span.set_inputs({"i": i})
ok = client.flush(2)
print(json.dumps({"flushed": ok, "stats": autolog.stats()}))
"""


def _set_schema_version(db: Path, version: int) -> int:
    with sqlite3.connect(db) as conn:
        old = int(conn.execute("SELECT version FROM schema_version").fetchone()[0])
        conn.execute("UPDATE schema_version SET version = ?", (version,))
    return old


def test_restarts_against_a_failing_store_never_grow_the_spool(tmp_path: Path) -> None:
    db = tmp_path / "newer.db"
    spool_dir = Path(str(db) + ".spool")
    run_python(WRITER, str(db), "1")  # creates the store
    current = _set_schema_version(db, 999)  # written by a newer autolog: refused by this one
    first = run_python(WRITER, str(db), "100")
    assert first["flushed"] is False and first["stats"]["spooled"] == 100
    assert spool_lines(spool_dir) == 100
    for _ in range(3):  # restarts that add nothing, then restarts that add traces
        run_python(WRITER, str(db), "0")
        assert spool_lines(spool_dir) == 100
    run_python(WRITER, str(db), "20")
    assert spool_lines(spool_dir) == 120
    _set_schema_version(db, current)  # the store works again
    last = run_python(WRITER, str(db), "0")
    assert last["flushed"] is True and last["stats"]["replayed"] == 120
    assert len(stored_ids(db)) == 1 + 120 and spool_lines(spool_dir) == 0
