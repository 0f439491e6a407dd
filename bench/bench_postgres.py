"""The PostgreSQL store: ingest from 1 and from 4 processes, and search latency over many traces.

    python bench/bench_postgres.py [traces_per_process] [search_traces]

Starts a throw-away PostgreSQL server (tests/store/pg_server.py: initdb in a temp dir, loopback only).
Ingest: each process traces ``traces_per_process`` traces of 5 spans through autolog (the real export
pipeline: encode, batch, upsert), timed from the first span to flush(); spans/s over all processes.
Search: ``search_traces`` pages (100 traces, spans not loaded) and counts over ``search_traces`` stored
traces, p50 of 20 runs each.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autolog._store.postgres import PostgresStore  # noqa: E402
from autolog._store.records import RECORD_FIELDS  # noqa: E402
from tests.store.pg_server import PgServer, find_bindir  # noqa: E402

WRITER = """
import json, sys, time
import autolog
uri, n, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
client = autolog.configure(uri, schedule_delay_millis=50)
client.store.count_traces()  # the pool and schema are ready before the clock starts
time.sleep(max(0.0, start_at - time.time()))
t0 = time.perf_counter()
for i in range(n):
    with autolog.start_span("agent", span_type="AGENT") as root:
        root.set_inputs({"question": f"q{i}"})
        autolog.update_current_trace(tags={"env": "prod" if i % 2 else "dev"})
        for j in range(4):
            with autolog.start_span(f"step-{j}", span_type="TOOL") as s:
                s.set_inputs({"i": i, "j": j}); s.set_outputs({"ok": True})
        root.set_outputs({"answer": "a"})
assert client.flush(300)
print(json.dumps({"seconds": time.perf_counter() - t0, "spans": n * 5}))
"""


def ingest(server: PgServer, processes: int, traces: int) -> float:
    uri = server.uri(server.create_database())
    PostgresStore(uri).count_traces()  # the schema, made once before the burst
    start_at = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, uri, str(traces), str(start_at)],
                              env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                              text=True) for _ in range(processes)]
    results = [json.loads(p.communicate(timeout=900)[0].strip().splitlines()[-1]) for p in procs]
    store = PostgresStore(uri)
    assert store.count_traces() == processes * traces
    store.close()
    return sum(r["spans"] for r in results) / max(r["seconds"] for r in results)


def _record(i: int) -> tuple[Any, ...]:
    tid = f"tr-{i:032x}"
    values: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    values.update(trace_id=tid, experiment_id="0", name=f"agent-{i % 50}", request_time=1_700_000_000_000 + i,
                  execution_duration=i % 997, state="ERROR" if i % 13 == 0 else "OK", total_tokens=i % 500,
                  cost=(i % 7) * 0.001 if i % 3 else None, tags=(("env", "prod" if i % 2 else "dev"),
                                                                 ("user", f"u{i % 1000}")), metadata=(),
                  spans=tuple((f"s{j}", None if j == 0 else "s0", f"step-{j}" if j else f"agent-{i % 50}", "TOOL",
                               "OK", j, j + 1, json.dumps({"inputs": {"q": f"question {i} {j}"}, "attributes": {
                                   "temperature": (i % 10) / 10}})) for j in range(3)))
    return tuple(values[f] for f in RECORD_FIELDS)


def search(server: PgServer, n: int) -> dict[str, float]:
    store = PostgresStore(server.uri(server.create_database()))
    t0 = time.perf_counter()
    for start in range(0, n, 2000):
        store.write_records([_record(i) for i in range(start, min(n, start + 2000))])
    load = time.perf_counter() - t0
    with store.connections.session("analyze", write=True, serial=False) as conn:
        conn.execute("ANALYZE")
    cases = {
        "newest page": lambda: store.search_traces(None, None, None, 100, include_spans=False),
        "second page": lambda: store.search_traces(None, None, None, 100, store.search_traces(
            None, None, None, 100, include_spans=False)[1], include_spans=False),
        "tags.env = 'prod'": lambda: store.search_traces(None, "tags.env = 'prod'", None, 100, include_spans=False),
        "cost DESC page": lambda: store.search_traces(None, None, ["cost DESC"], 100, include_spans=False),
        "span.name = 'step-1' AND status = 'ERROR'": lambda: store.search_traces(
            None, "span.name = 'step-1' AND status = 'ERROR'", None, 100, include_spans=False),
        "span.attributes.temperature > 0.85": lambda: store.search_traces(
            None, "span.attributes.temperature > 0.85", None, 100, include_spans=False),
        "trace.text LIKE '%question 4242 %' (every span read)": lambda: store.search_traces(
            None, "trace.text LIKE '%question 4242 %'", None, 100, include_spans=False),
        "newest page with spans": lambda: store.search_traces(None, None, None, 100),
        "count tags.user = 'u7'": lambda: store.count_traces(None, "tags.user = 'u7'"),
        "count all": lambda: store.count_traces(),
    }
    out = {"load spans/s": 3 * n / load}
    for name, run in cases.items():
        times = []
        for _ in range(20):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
        out[name + " p50 ms"] = statistics.median(times) * 1000
    store.close()
    return out


def main() -> None:
    per_process = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install -y postgresql)")
    server = PgServer(bindir)
    server.start()
    try:
        print(f"ingest, 1 process x {per_process} traces of 5 spans: {ingest(server, 1, per_process):,.0f} spans/s")
        print(f"ingest, 4 processes x {per_process} traces of 5 spans: {ingest(server, 4, per_process):,.0f} spans/s")
        for name, value in search(server, n).items():
            print(f"search over {n:,} traces, {name}: {value:,.1f}")
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
