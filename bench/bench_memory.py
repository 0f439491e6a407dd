"""Scenario 5: peak memory over 100,000 traces while the export destination is stalled.

Another connection holds SQLite's write lock for the whole run, so autolog's worker cannot
store anything: the in-memory queue stays bounded and overflow goes to the disk spool.
Then the lock is released and every trace must end up stored.
"""

from __future__ import annotations

import resource
import sqlite3
import tempfile
import time
from typing import Any

from _common import emit, main_args, table


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(traces: int) -> dict[str, Any]:
    import autolog

    with tempfile.TemporaryDirectory() as workdir:
        db = f"{workdir}/a.db"
        client = autolog.configure(f"sqlite:///{db}")
        client._store.count_traces()  # create the schema before the stall
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        base = rss_mb()
        peak = base
        start = time.perf_counter()
        for i in range(traces):
            with autolog.start_span("request") as span:
                span.set_inputs({"question": f"question number {i}", "context": "x" * 200})
                with autolog.start_span("llm", span_type="CHAT_MODEL") as llm:
                    llm.set_outputs("an answer of moderate length " * 4)
            if i % 5000 == 0:
                peak = max(peak, rss_mb())
        app_s = time.perf_counter() - start
        peak = max(peak, rss_mb())
        stalled = autolog.stats()
        blocker.execute("ROLLBACK")
        blocker.close()
        autolog.flush(900)
        stored = client._store.count_traces()
        return {"traces": traces, "rss_before_mb": base, "peak_rss_mb": peak, "peak_delta_mb": peak - base,
                "max_rss_mb_getrusage": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "app_s": app_s, "spooled_while_stalled": stalled["spooled"], "stored_after": stored,
                "lost": traces - stored, "dropped": autolog.stats()["dropped"]}


def main() -> None:
    args = main_args(__doc__ or "")
    result = measure(10_000 if args.quick else 100_000)
    print(table([[result["traces"], f"{result['peak_delta_mb']:.0f}", result["spooled_while_stalled"],
                  result["stored_after"], result["lost"]]],
                ["traces", "peak RSS growth MB", "spooled while stalled", "stored after", "lost"]))
    emit({"scenario": "memory_stalled_export", "results": {"autolog": result}}, args.json)


if __name__ == "__main__":
    main()
