"""Scenario 1b: the OpenAI call of scenario 1, counted in CPU instructions instead of seconds.

Wall-clock figures on a shared machine drift by tens of percent between seconds (the plain
call alone varied 2.4x between blocks of 100 calls in one run here), because neighbours
compete for caches and memory bandwidth. Instructions executed drift far less: each peer runs
under valgrind's callgrind, which counts every instruction of every thread of the process
(the application's thread and the peer's background export). Two runs per peer, with
``small`` and ``large`` calls after the same warm-up, each ending with the peer's flush, give
instructions per call as (large - small) / (large - small calls): start-up, imports and the
warm-up cancel out, and the peer's background work for every timed call is included.

SQLite's compilation of a statement (``pysqlite_statement_create``) is not counted: it
happens once per statement shape and connection (autolog's batch INSERTs take at most ten
row counts per table, compiled in the first seconds of a process), but which shapes a run
happens to compile first depends on the batch sizes the thread scheduling gave it, which
made autolog's figure swing by a third between identical runs. Even without it autolog's
count varies between runs (283 k to 411 k added per call on one day; see BENCHMARKS.md),
while plain and OpenInference repeat within 0.5 %.

What this does not see: time lost to cache misses, to threads waiting for the GIL or to
context switches, which the wall-clock scenario measures. MLflow is left out: under
valgrind its per-call cost would take most of an hour. Needs ``valgrind`` on PATH (skipped
with a message otherwise).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _common import HERE, REPO, _instrumentation, emit, table
from bench_openai import make_call, openinference

PEERS = ("plain", "autolog", "openinference")


def child(peer: str, calls: int) -> None:
    """Run in the measured process: instrument, warm up, then ``calls`` calls and the peer's flush."""
    with tempfile.TemporaryDirectory() as workdir:
        settle = None
        if peer != "plain":
            _, settle = _instrumentation(peer, workdir, "openai", openinference)
        call = make_call()
        for _ in range(100):  # imports, caches, the first connection, the exporter's worker
            call()
        if settle:
            settle()
        for _ in range(calls):
            call()
        if settle:
            settle()


def count_instructions(peer: str, calls: int) -> int:
    """Instructions executed by a whole ``child(peer, calls)`` process, all threads."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          # Off inside statement compilation, on everywhere else (the flag alone would
                          # switch collection off at start; the second one must come after it).
                          "--toggle-collect=pysqlite_statement_create", "--collect-atstart=yes",
                          sys.executable, str(HERE / "bench_instructions.py"), "--child", peer, "--calls", str(calls)],
                         capture_output=True, text=True, cwd=str(REPO), env={**os.environ, "PYTHONPATH": str(REPO)},
                         timeout=3600)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not found:
        raise RuntimeError(f"{peer}: {(out.stderr.strip().splitlines() or ['failed'])[-1]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", default=None, help="(internal) the peer of a measured process")
    parser.add_argument("--calls", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.calls)
        return
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: instruction counts skipped")
        emit({"scenario": "openai_chat_call_instructions", "skipped": "valgrind not installed"}, args.json)
        return
    small, large = (10, 40) if args.quick else (100, 500)
    jobs = [(peer, n) for peer in PEERS for n in (small, large)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # valgrind runs one core per process
        counts = dict(zip(jobs, pool.map(lambda job: count_instructions(*job), jobs), strict=True))
    per_call = {peer: (counts[peer, large] - counts[peer, small]) / (large - small) for peer in PEERS}
    plain = per_call["plain"]
    results: dict[str, Any] = {}
    rows = []
    for peer in PEERS:
        added = per_call[peer] - plain
        results[peer] = {"instructions_per_call": per_call[peer], "added_instructions": added,
                         "added_pct_of_plain": 100 * added / plain, "calls": (small, large)}
        rows.append([peer, f"{per_call[peer]:,.0f}", "-" if peer == "plain" else f"{added:,.0f}",
                     "-" if peer == "plain" else f"{100 * added / plain:.2f}%"])
    ratios = {"autolog_vs_openinference_overhead": results["autolog"]["added_instructions"]
              / results["openinference"]["added_instructions"]}
    print(table(rows, ["peer", "instructions/call", "added", "added % of plain"]))
    for key, value in ratios.items():
        print(f"{key}: {value:.3f}")
    emit({"scenario": "openai_chat_call_instructions", "results": results, "ratios": ratios}, args.json)


if __name__ == "__main__":
    main()
