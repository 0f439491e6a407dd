"""Soak: minutes of writers killed with SIGKILL at random moments and restarted, with a running count.

Each cycle starts a writer that traces as fast as it can (writing one progress byte per
finished trace, so the count survives the kill), kills it with SIGKILL after 0.3-2 s (one
cycle in five lets it exit normally instead), and starts the next one at once on the same
store, which replays the spools the dead ones left. Every ten cycles a reader process opens
the store and the running totals are printed: submitted, stored, and lost. Losses of killed
writers are what the README names (the traces not yet written when the kill came);
writers that exit normally must lose nothing.

Run: ``nox -s soak`` or ``python bench/soak.py --minutes 5 [--json bench/results/soak.json]``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import tempfile
import time
from pathlib import Path

from _common import emit
from bench_faults import run_child

WRITER = """
progress = open(sys.argv[2], "ab", buffering=0)  # one byte per finished trace, written at once
n = int(sys.argv[3])
for i in range(n if n else 10**9):
    one(int(sys.argv[4]) + i)
    progress.write(b".")
if n:
    finish(n)
"""


def _stored(db: Path) -> int:
    run_child("finish(0)\n", f"sqlite:///{db}")  # a fresh process: replays what dead writers spooled
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM traces").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rng = random.Random(16)
    with tempfile.TemporaryDirectory() as workdir:
        db = Path(workdir) / "soak.db"
        uri = f"sqlite:///{db}"
        deadline = time.monotonic() + args.minutes * 60
        cycles = kills = clean_exits = 0
        submitted = clean_submitted = clean_lost = 0
        while time.monotonic() < deadline:
            progress = Path(workdir) / f"progress-{cycles}"
            base = str(cycles * 10**7)
            if cycles % 5 == 4:  # a writer that exits normally: it must lose nothing
                before = _stored(db)
                report = run_child(WRITER, uri, str(progress), "2000", base)[-1]
                after = _stored(db)
                clean_exits += 1
                clean_submitted += 2000
                clean_lost += 2000 - (after - before)
                submitted += 2000
            else:
                proc = run_child(WRITER, uri, str(progress), "0", base, wait=False)
                time.sleep(rng.uniform(0.3, 2.0))
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                submitted += progress.stat().st_size if progress.exists() else 0
            cycles += 1
            if cycles % 10 == 0:
                stored = _stored(db)
                print(f"cycle {cycles}: submitted {submitted:,}, stored {stored:,}, lost {submitted - stored:,}"
                      f" ({kills} kills, {clean_exits} clean exits losing {clean_lost})", flush=True)
        stored = _stored(db)
        spool_left = sum(1 for _ in Path(str(db) + ".spool").glob("*.jsonl"))
        del report
    result = {"scenario": "soak", "minutes": args.minutes, "cycles": cycles, "kills": kills,
              "clean_exits": clean_exits, "submitted": submitted, "stored": stored, "lost": submitted - stored,
              "lost_per_kill": round((submitted - stored) / kills, 1) if kills else 0.0,
              "clean_exit_submitted": clean_submitted, "clean_exit_lost": clean_lost,
              "spool_files_left": spool_left}
    print(f"soak: {cycles} cycles in {args.minutes:g} min; submitted {submitted:,}, stored {stored:,}; "
          f"lost {submitted - stored:,} ({result['lost_per_kill']} per kill -9); clean exits lost {clean_lost}")
    emit(result, args.json)


if __name__ == "__main__":
    main()
