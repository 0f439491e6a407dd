"""Item 7: replaying a large spool takes bounded memory.

Replay read every orphan spool into memory at once (a 1.04 GB spool took the process to
1.54 GB). It now reads each file in chunks of one batch (at most 512 records or about 4 M
characters). Here an 80 MB spool is replayed by a fresh process whose peak RSS growth is
measured; the 1 GB figure is in BENCHMARKS.md (``bench/bench_faults.py``).
"""

from __future__ import annotations

from pathlib import Path

from tests.faults.spools import run_python, spool_line, stored_ids, write_spool

REPLAYER = """
import json, resource, sys, autolog
client = autolog.configure(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ok = client.flush(120)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"flushed": ok, "growth_kb": after - before, "stats": autolog.stats()}))
"""


def test_an_80_mb_spool_replays_in_under_60_mb(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    text = "ünïcødé spool " * 2850  # ~40 kB of JSON a trace
    write_spool(Path(str(db) + ".spool") / "999996-dead.jsonl", [spool_line(i, text) for i in range(2000)])
    assert (Path(str(db) + ".spool") / "999996-dead.jsonl").stat().st_size > 80_000_000
    report = run_python(REPLAYER, str(db))
    assert report["flushed"] and report["stats"]["replayed"] == 2000
    assert len(stored_ids(db)) == 2000
    assert report["growth_kb"] < 60_000, f"replay grew the process by {report['growth_kb'] / 1000:.0f} MB"
