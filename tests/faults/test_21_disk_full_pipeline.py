"""Item 21, the pipeline's side: on a full disk every loss is counted, logged a few times, and flush() says so.

With the disk full, every dropped trace was logged from the user's thread (10,717 stderr
lines for 20,000 traces) and ``flush()`` returned True when every trace had been dropped.
Here the child process's files may not grow past 3 MB (``RLIMIT_FSIZE``: writes fail with
EFBIG, as on a full disk; SQLite reports SQLITE_FULL): the store fills, then the spool.
Every trace is then stored, in the spool, or counted as dropped; logs are rate-limited.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.faults.spools import run_python, spool_lines

FULL_DISK = """
import json, resource, signal, sys, autolog
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
limit = 3_000_000
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
client = autolog.configure(sys.argv[1], max_queue_size=64)
n = 5000
for i in range(n):
    with autolog.start_span("root") as span:
        span.set_inputs({"i": i, "text": "full disk " * 100})
ok = client.flush(3)  # the spool cannot be stored while the disk is full: False either way
print(json.dumps({"flushed": ok, "submitted": n, "stats": autolog.stats()}))
"""


def test_a_full_disk_counts_every_loss_and_logs_a_few_lines(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    report = run_python(FULL_DISK, str(db), env={"AUTOLOG_FLUSH_ON_EXIT_TIMEOUT_SECONDS": "2"})
    stats = report["stats"]
    assert report["flushed"] is False, "flush() must not say True when traces were dropped"
    assert stats["dropped"] > 0
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM traces").fetchone()[0]
    spooled = spool_lines(Path(str(db) + ".spool"))
    assert stored + spooled + stats["dropped"] >= report["submitted"], (stored, spooled, stats)  # nothing uncounted
    lines = report["stderr"].splitlines()
    assert 1 <= len([line for line in lines if line.startswith("autolog ")]) <= 10, report["stderr"][-2000:]
