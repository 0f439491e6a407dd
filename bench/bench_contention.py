"""How independent this machine's CPUs are: the plain OpenAI call of scenario 1 with the other CPU idle, then busy.

A diagnostic for issue 22's design choice (not a scenario of ``run_all.py``). Moving the export's work to another
thread's or process's CPU only takes it off the application's wall-clock time if that CPU does not slow the
application's: on a machine whose CPUs share a physical core (hyper-threads of the host) it does. Blocks of
plain calls (no instrumentation) alternate between an idle other CPU and one running a Python loop of JSON work
(about what the writer process does), in a process of its own; the figure is the median slowdown.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Any

from _common import emit, table
from bench_openai import MESSAGES, make_client

BUSY = "import json\nd = {'a': [1, 2, 3], 'b': 'x' * 100}\nwhile True:\n    json.loads(json.dumps(d))\n"


def block_us(call: Any, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few blocks: a smoke run, not a measurement")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    client = make_client()

    def call() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    block_us(call, 200)  # warm
    calls, pairs = (50, 2) if args.quick else (300, 10)
    idle: list[float] = []
    busy: list[float] = []
    for _ in range(pairs):
        idle.append(block_us(call, calls))
        other = subprocess.Popen([sys.executable, "-c", BUSY])
        try:
            time.sleep(0.3)  # the loop is running
            busy.append(block_us(call, calls))
        finally:
            other.kill()
            other.wait()
    slowdowns = [100 * (b - i) / i for i, b in zip(idle, busy, strict=True)]
    result = {"scenario": "cpu_contention", "pairs": pairs, "calls_per_block": calls,
              "plain_call_idle_us": statistics.median(idle), "plain_call_busy_us": statistics.median(busy),
              "slowdown_percent": statistics.median(slowdowns)}
    print(table([["other CPU idle", f"{result['plain_call_idle_us']:.1f}"],
                 ["other CPU busy (a Python process)", f"{result['plain_call_busy_us']:.1f}"],
                 ["slowdown (median of pairs)", f"{result['slowdown_percent']:.1f} %"]],
                ["plain OpenAI call, µs", "value"]))
    emit(result, args.json)


if __name__ == "__main__":
    main()
