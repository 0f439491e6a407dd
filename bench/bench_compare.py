"""Scenario 9: ``compare_versions`` over a store of 1,000,000 traces (two versions), in SQL.

The store is filled by SQL inserts into autolog's own schema (the tracing path is measured by
the other scenarios; here only the comparison's read is timed): two versions of 500,000 traces
each, latencies of 50-3,000 ms, 3 % errors, token usage and cost on every trace, a "helpful"
feedback on one trace in five and an environment tag on one in ten.

The peer is the comparison users write today (the README's old ``compare()`` helper):
``search_traces`` into a DataFrame and pandas over it. Loading every trace is what it costs,
so it runs on a smaller store (``--peer-size``, default 20,000) and the table says so.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import tempfile
import time
from typing import Any

from _common import HERE, emit, main_args, run_peer, serve_peer, table


def fill(path: str, size: int) -> list[str]:
    """An autolog store of ``size`` traces split over two versions; returns the version ids."""
    import autolog

    autolog.configure(f"sqlite:///{path}")
    ids = [autolog.create_external_model(name=f"bot-v{i + 1}").model_id for i in range(2)]
    autolog.flush()
    conn = sqlite3.connect(path)
    rng = random.Random(0)
    traces, tags, feedback = [], [], []
    for i in range(size):
        trace_id = f"tr-{i:032x}"
        input_tokens, output_tokens = rng.randint(10, 500), rng.randint(5, 200)
        usage = json.dumps({"input_tokens": input_tokens, "output_tokens": output_tokens,
                            "total_tokens": input_tokens + output_tokens})
        traces.append((trace_id, "0", "agent", 1_700_000_000_000 + i, rng.randint(50, 3000),
                       "ERROR" if rng.random() < 0.03 else "OK", ids[i % 2], usage, input_tokens, output_tokens,
                       input_tokens + output_tokens, input_tokens * 1.5e-7 + output_tokens * 6e-7))
        if i % 10 == 0:
            tags.append((trace_id, "environment", "prod" if i % 20 else "staging"))
        if i % 5 == 0:
            feedback.append((f"a-{i:032x}", trace_id, "helpful", "feedback", "true" if rng.random() < 0.7 else "false",
                             "LLM_JUDGE", 0, 0))
    with conn:
        conn.executemany("INSERT INTO traces (trace_id, experiment_id, name, request_time, execution_duration, state,"
                         " model_id, token_usage, input_tokens, output_tokens, total_tokens, cost)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", traces)
        conn.executemany("INSERT INTO trace_tags VALUES (?, ?, ?)", tags)
        conn.executemany("INSERT INTO assessments (assessment_id, trace_id, name, kind, value, source_type,"
                         " create_time_ms, last_update_time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", feedback)
    conn.execute("ANALYZE")
    conn.close()
    return ids


def _timed(fn: Any, repeats: int) -> tuple[float, Any]:
    samples, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def measure(peer: str, size: int) -> dict[str, Any]:
    import autolog

    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        ids = fill(f"{workdir}/c.db", size)
        fill_s = time.perf_counter() - start
        if peer == "autolog":
            from autolog.genai import compare_versions

            seconds, df = _timed(lambda: compare_versions(ids), 3)
            split_s, split = _timed(lambda: compare_versions(ids, by="tags.environment"), 3)
            filtered_s, _ = _timed(lambda: compare_versions(ids, filter_string="status = 'OK'"), 3)
            return {"peer": peer, "traces": size, "fill_s": fill_s, "compare_s": seconds, "split_s": split_s,
                    "filtered_s": filtered_s, "rows": len(df), "split_rows": len(split),
                    "p95_ms": df["latency_p95_ms"].tolist(), "helpful": df["helpful/mean"].tolist()}

        def by_hand() -> Any:  # what a user writes without compare_versions
            frames = []
            for model_id in ids:
                df = autolog.search_traces(model_id=model_id, max_results=size)
                df["model_id"] = model_id
                frames.append(df)
            import pandas as pd

            df = pd.concat(frames)
            df["tokens"] = [u.get("total_tokens") if u else None for u in df["token_usage"]]
            df["helpful"] = [next((a.value for a in assessments if a.name == "helpful"), None)
                             for assessments in df["assessments"]]
            return df.groupby("model_id").agg(traces=("trace_id", "count"),
                                               p95=("execution_time_ms", lambda s: s.quantile(0.95)),
                                               tokens=("tokens", "mean"), helpful=("helpful", "mean"))

        seconds, out = _timed(by_hand, 1)
        return {"peer": peer, "traces": size, "fill_s": fill_s, "compare_s": seconds, "rows": len(out)}


def main() -> None:
    args = main_args(__doc__ or "")
    if serve_peer(args, measure):
        return
    size = 20_000 if args.quick else 1_000_000
    peer_size = 2_000 if args.quick else 20_000
    results = {"autolog": run_peer(HERE / "bench_compare.py", f"autolog:{size}"),
               "autolog-small": run_peer(HERE / "bench_compare.py", f"autolog:{peer_size}"),
               "search_traces + pandas": run_peer(HERE / "bench_compare.py", f"by-hand:{peer_size}")}
    rows = [[name, r.get("traces", "-"), f"{r.get('compare_s', float('nan')):.3f}",
             f"{r.get('split_s', float('nan')):.3f}", f"{r.get('filtered_s', float('nan')):.3f}",
             r.get("error", "")[:60]] for name, r in results.items()]
    print(table(rows, ["how", "traces", "compare s", "by=tag s", "filtered s", "note"]))
    small, by_hand = results["autolog-small"].get("compare_s"), results["search_traces + pandas"].get("compare_s")
    if small and by_hand:
        print(f"at {peer_size:,} traces compare_versions takes {small / by_hand:.3f}x the time of the hand-written"
              " comparison")
    emit(results, args.json or str(HERE / "results" / "bench_compare.json"))


if __name__ == "__main__":
    main()
