"""Scenario 2: µs per span on the application thread: a plain call, ``@autolog.trace``, ``@mlflow.trace``.

Measured in runs of 2,000 calls with the exporter drained between runs (the rate a real
application produces spans at), single-span traces and a 3-level nested trace (per span).
Also reported: a tight loop of 50,000 root spans with no pause, where the queue overflows
and the application thread pays for spooling.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from _common import HERE, emit, main_args, run_peer, table


def measure(peer: str, quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        if peer == "autolog":
            import autolog

            autolog.configure(f"sqlite:///{workdir}/a.db")
            deco, flush = autolog.trace, autolog.flush
        elif peer == "mlflow":
            import mlflow

            mlflow.set_tracking_uri(f"sqlite:///{workdir}/m.db")
            mlflow.set_experiment("bench")
            deco = mlflow.trace

            def flush() -> None:
                mlflow.flush_trace_async_logging() if hasattr(mlflow, "flush_trace_async_logging") else None
        else:
            def deco(f: Any) -> Any:
                return f

            def flush() -> None:
                return None

        @deco
        def leaf(x: int) -> int:
            return x + 1

        @deco
        def middle(x: int) -> int:
            return leaf(x)

        @deco
        def root(x: int) -> int:
            return middle(x)

        calls = 200 if quick or peer == "mlflow" else 2000
        repeats = 3 if quick else 7

        def runs(fn: Any, spans_per_call: int) -> float:
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                for i in range(calls):
                    fn(i)
                samples.append((time.perf_counter() - start) / (calls * spans_per_call) * 1e6)
                flush()
            samples.sort()
            return samples[len(samples) // 2]

        runs(leaf, 1)
        result: dict[str, Any] = {"peer": peer, "us_per_root_span": runs(leaf, 1), "us_per_nested_span": runs(root, 3)}
        if peer == "autolog" and not quick:
            import autolog

            n = 50_000
            start = time.perf_counter()
            for i in range(n):
                leaf(i)
            result["us_per_span_tight_loop_50k"] = (time.perf_counter() - start) / n * 1e6
            autolog.flush(300)
            result["tight_loop_spooled"] = autolog.stats()["spooled"]
            result["tight_loop_dropped"] = autolog.stats()["dropped"]
        return result


def main() -> None:
    args = main_args(__doc__ or "")
    if args.peer:
        emit(measure(args.peer, args.quick), None)
        return
    extra = ["--quick"] if args.quick else []
    results = {p: run_peer(HERE / "bench_fluent.py", p, *extra) for p in ("plain", "autolog", "mlflow")}
    rows = [[p, f"{r.get('us_per_root_span', float('nan')):.2f}", f"{r.get('us_per_nested_span', float('nan')):.2f}",
             r.get("error", "")[:60]] for p, r in results.items()]
    print(table(rows, ["peer", "µs per root span", "µs per nested span", "note"]))
    ratios = {}
    a, m = results["autolog"], results["mlflow"]
    if "us_per_root_span" in a and "us_per_root_span" in m:
        ratios["mlflow_vs_autolog_root_span"] = m["us_per_root_span"] / a["us_per_root_span"]
        ratios["mlflow_vs_autolog_nested_span"] = m["us_per_nested_span"] / a["us_per_nested_span"]
    if "us_per_span_tight_loop_50k" in a:
        print(f"autolog tight loop of 50,000 root spans: {a['us_per_span_tight_loop_50k']:.1f} µs/span "
              f"({a['tight_loop_spooled']} spooled, {a['tight_loop_dropped']} dropped)")
    emit({"scenario": "fluent_span", "results": results, "ratios": ratios}, args.json)


if __name__ == "__main__":
    main()
