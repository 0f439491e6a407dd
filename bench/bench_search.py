"""Scenario 4: p50/p95 latency of a two-tag filter returning 100 traces, over a store of many traces.

Both stores are filled through their own public tracing API; MLflow's store is filled to a
smaller size when its ingest is too slow to reach the full size in a few minutes (the table
says the size each peer searched).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from _common import HERE, emit, main_args, run_peer, table

FILTER = "tags.team = 'search' AND tags.env = 'prod'"


def _tags(i: int) -> dict[str, str]:
    # 1 in 10 traces is team=search, 1 in 5 is env=prod: 1 in 10 matches both (i % 10 == 0).
    return {"team": "search" if i % 10 == 0 else f"team{i % 10}", "env": "prod" if i % 5 == 0 else "dev"}


def measure(peer: str, size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        if peer == "autolog":
            import autolog

            autolog.configure(f"sqlite:///{workdir}/a.db", max_queue_size=size + 1)
            start = time.perf_counter()
            for i in range(size):
                with autolog.start_span("request") as span:
                    span.set_inputs({"i": i})
                    autolog.update_current_trace(tags=_tags(i))
            autolog.flush(900)
            fill_s = time.perf_counter() - start

            def search() -> int:
                return len(autolog.search_traces(filter_string=FILTER, max_results=100, return_type="list"))
        else:
            import mlflow

            mlflow.set_tracking_uri(f"sqlite:///{workdir}/m.db")
            experiment = mlflow.set_experiment("bench")
            start = time.perf_counter()
            for i in range(size):
                with mlflow.start_span("request") as span:
                    span.set_inputs({"i": i})
                    mlflow.update_current_trace(tags=_tags(i))
            if hasattr(mlflow, "flush_trace_async_logging"):
                mlflow.flush_trace_async_logging()
            fill_s = time.perf_counter() - start

            def search() -> int:
                return len(mlflow.search_traces(experiment_ids=[experiment.experiment_id], filter_string=FILTER,
                                                max_results=100, return_type="list"))

        search()
        samples = []
        for _ in range(30):
            t = time.perf_counter()
            found = search()
            samples.append((time.perf_counter() - t) * 1000)
        samples.sort()
        return {"peer": peer, "stored_traces": size, "fill_s": fill_s, "found": found, "p50_ms": samples[15],
                "p95_ms": samples[28]}


def main() -> None:
    args = main_args(__doc__ or "")
    if args.peer:
        peer, _, size = args.peer.partition(":")
        emit(measure(peer, int(size)), None)
        return
    size = 5_000 if args.quick else 50_000
    results = {"autolog": run_peer(HERE / "bench_search.py", f"autolog:{size}"),
               "mlflow": run_peer(HERE / "bench_search.py", f"mlflow:{min(size, 2_000)}")}
    rows = [[p, r.get("stored_traces", "-"), r.get("found", "-"), f"{r.get('p50_ms', float('nan')):.1f}",
             f"{r.get('p95_ms', float('nan')):.1f}", r.get("error", "")[:60]] for p, r in results.items()]
    print(table(rows, ["peer", "stored traces", "found", "p50 ms", "p95 ms", "note"]))
    emit({"scenario": "search", "filter": FILTER, "results": results}, args.json)


if __name__ == "__main__":
    main()
