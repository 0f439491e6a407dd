"""Scenario 3: a burst of traces of 10 spans, produced as fast as possible.

Reports the time spent in the application thread, the time until every trace is stored
and searchable, how many traces the store holds at the end, and ingest in spans/s.
MLflow (default settings, SQLite tracking store) runs a smaller burst when the full one
would take too long; the table says which size each peer ran.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from _common import HERE, emit, main_args, run_peer, table

SPANS_PER_TRACE = 10


def measure(peer: str, traces: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        if peer == "autolog":
            import autolog

            autolog.configure(f"sqlite:///{workdir}/a.db")
            deco = autolog.trace

            def settle() -> int:
                autolog.flush(600)
                return len(autolog.search_traces(filter_string="name = 'request'", return_type="list"))
        else:
            import mlflow

            mlflow.set_tracking_uri(f"sqlite:///{workdir}/m.db")
            experiment = mlflow.set_experiment("bench")
            deco = mlflow.trace

            def settle() -> int:
                if hasattr(mlflow, "flush_trace_async_logging"):
                    mlflow.flush_trace_async_logging()
                last, stable_since = -1, time.monotonic()
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    count = len(mlflow.search_traces(experiment_ids=[experiment.experiment_id],
                                                     max_results=traces + 100, return_type="list"))
                    if count != last:
                        last, stable_since = count, time.monotonic()
                    elif count >= traces or time.monotonic() - stable_since > 10:
                        break
                    time.sleep(1)
                return last

        @deco
        def step(i: int) -> int:
            return i

        @deco
        def request(i: int) -> int:
            return sum(step(j) for j in range(SPANS_PER_TRACE - 1))

        start = time.perf_counter()
        for i in range(traces):
            request(i)
        app_s = time.perf_counter() - start
        stored = settle()
        total_s = time.perf_counter() - start
        result = {"peer": peer, "traces": traces, "app_thread_s": app_s, "until_stored_s": total_s,
                  "stored": stored, "lost": traces - stored, "spans_per_s": traces * SPANS_PER_TRACE / total_s,
                  "app_us_per_span": app_s / (traces * SPANS_PER_TRACE) * 1e6}
        if peer == "autolog":
            import autolog

            result["stats"] = autolog.stats()
        return result


def main() -> None:
    args = main_args(__doc__ or "")
    if args.peer:
        peer, _, size = args.peer.partition(":")
        emit(measure(peer, int(size)), None)
        return
    full = 1_000 if args.quick else 10_000
    results = {"autolog": run_peer(HERE / "bench_burst.py", f"autolog:{full}"),
               "mlflow": run_peer(HERE / "bench_burst.py", f"mlflow:{min(full, 1_000)}")}
    rows = []
    for p, r in results.items():
        if "error" in r:
            rows.append([p, "-", "-", "-", "-", "-", r["error"][:60]])
            continue
        rows.append([p, r["traces"], f"{r['app_thread_s']:.2f}", f"{r['until_stored_s']:.2f}", r["stored"],
                     f"{r['spans_per_s']:.0f}", f"{100 * r['stored'] / r['traces']:.1f}%"])
    print(table(rows, ["peer", "traces x10 spans", "app thread s", "until stored s", "stored", "spans/s",
                       "complete"]))
    emit({"scenario": "burst", "results": results}, args.json)


if __name__ == "__main__":
    main()
