"""Shared helpers of the benchmark scripts: timing, peers in subprocesses, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def per_call_us(fn: Callable[[], Any], calls: int, repeats: int) -> float:
    """Median over ``repeats`` runs of the mean µs per call of ``calls`` calls."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def run_peer(script: Path, peer: str, *args: str, timeout: float = 1800) -> dict[str, Any]:
    """Run ``script --peer <peer>`` in a fresh interpreter (instrumentations never meet) and read its JSON."""
    out = subprocess.run([sys.executable, str(script), "--peer", peer, *args], capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=str(REPO))
    if out.returncode != 0:
        return {"peer": peer, "error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--peer", default=None, help="run one peer in this process (used by the parent run)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--json", default=None, help="write the results here")
    return parser.parse_args()


def serve_peer(args: argparse.Namespace, measure: Callable[[str, int], dict[str, Any]]) -> bool:
    """In a peer's interpreter (``--peer name:size``): measure, print the JSON, and say so (the caller returns)."""
    if not args.peer:
        return False
    peer, _, size = args.peer.partition(":")
    emit(measure(peer, int(size)), None)
    return True


def emit(result: dict[str, Any], path: str | None) -> None:
    text = json.dumps(result, indent=2)
    if path:
        Path(path).write_text(text)
    print(json.dumps(result))


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def overhead_main(doc: str, script: Path, scenario: str, measure: Callable[[str, bool], dict[str, Any]],
                  peers: tuple[str, ...] = ("autolog", "openinference", "mlflow"), unit: str = "call") -> None:
    """Entry point of a per-call overhead scenario: each peer in its own interpreter, then a table and JSON.

    ``measure(peer, quick)`` returns ``measure_per_call``'s result for one peer: its added µs
    is the median of paired differences between blocks with its instrumentation on and off
    in the same process (see ``measure_per_call``).
    """
    args = main_args(doc)
    if args.peer:
        emit(measure(args.peer, args.quick), None)
        return
    extra = ["--quick"] if args.quick else []
    results = {p: run_peer(script, p, *extra) for p in peers}
    rows = []
    for peer, r in results.items():
        if "error" in r:
            rows.append([peer, "-", "-", "-", "-", r["error"][:60]])
            continue
        r["added_pct_of_plain"] = 100 * r["added_us"] / r["us_per_call_off"]
        note = (f"{r['pairs']} pairs of {r['calls_per_block']}; mean {r['added_us_mean']:.1f}; "
                f"calls only {r['added_us_calls_only']:.1f}; background CPU {r['background_cpu_us_per_call']:.1f} µs")
        if "traces_stored" in r:
            note += f"; {r['traces_stored']} traces stored"
        rows.append([peer, f"{r['us_per_call_off']:.1f}", f"{r['us_per_call_on']:.1f}", f"{r['added_us']:.1f}",
                     f"{r['added_pct_of_plain']:.1f}%", note])
    auto, oi, ml = (results.get(p, {}).get("added_us") for p in ("autolog", "openinference", "mlflow"))
    ratios = {}
    if auto is not None and oi:
        ratios["autolog_vs_openinference_overhead"] = auto / oi
    if auto is not None and ml:
        ratios["mlflow_vs_autolog_overhead"] = ml / max(auto, 1e-9)
    print(table(rows, ["peer", f"µs/{unit} off", f"µs/{unit} on", "added µs (median)", "added % of off", "note"]))
    for k, v in ratios.items():
        print(f"{k}: {v:.3f}")
    emit({"scenario": scenario, "results": results, "ratios": ratios}, args.json)


def discarding_otel_provider() -> Any:
    """An OpenTelemetry SDK TracerProvider with a BatchSpanProcessor whose exporter discards (OpenInference peers)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    return provider


def measure_per_call(peer: str, quick: bool, library: str, openinference: Callable[[], Any],
                     make_call: Callable[[], Callable[[], Any]], sizes: tuple[int, int] = (100, 40),
                     quick_sizes: tuple[int, int] = (20, 4), warmup: int = 20) -> dict[str, Any]:
    """One peer's added µs per call of ``make_call()``, from blocks with its instrumentation on and off.

    The process alternates blocks of ``calls`` calls with the instrumentation installed and
    removed (on/off, then off/on, ... for ``pairs`` pairs); each pair gives one difference
    of µs per call, and the result is their median (``added_us``; their mean too). This
    machine's speed drifts by tens of percent within minutes, so a peer compared with a
    plain run in another process, seconds away, measures the drift as much as the peer;
    pairs a fraction of a second apart cancel it. Whatever the peer leaves to do in the
    background after an "on" block (autolog's and MLflow's stores, OpenTelemetry's batch
    processor) is finished before the next block, so it never lands in an "off" block, and
    that settling is *timed* as part of the "on" block: with calls coming back to back that
    work would otherwise be done during the next calls, so leaving it out would hide part
    of the peer's cost (``added_us_calls_only`` is the figure without it, for reference).
    ``sizes`` is (calls per block, pairs); MLflow always runs the quick sizes (it is slow).
    """
    with tempfile.TemporaryDirectory() as workdir:
        switch, settle = _instrumentation(peer, workdir, library, openinference)
        call = make_call()
        calls, pairs = quick_sizes if quick or peer == "mlflow" else sizes
        per_call_us(call, warmup, 1)  # imports, caches, first connection
        switch(False)
        per_call_us(call, warmup, 1)
        on: list[float] = []  # µs per call, the settling included
        on_calls: list[float] = []  # µs per call, the calls only
        off: list[float] = []
        background_cpu = 0.0  # CPU time of the peer's other threads during "on" blocks and their settling
        for i in range(pairs):
            for enabled in ((True, False) if i % 2 == 0 else (False, True)):
                switch(enabled)
                cpu, own_cpu = time.process_time(), time.thread_time()
                start = time.perf_counter()
                for _ in range(calls):
                    call()
                calls_done = time.perf_counter()
                if enabled:
                    settle()
                    background_cpu += (time.process_time() - cpu) - (time.thread_time() - own_cpu)
                    on.append((time.perf_counter() - start) / calls * 1e6)
                    on_calls.append((calls_done - start) / calls * 1e6)
                else:
                    off.append((calls_done - start) / calls * 1e6)
        added = [a - b for a, b in zip(on, off, strict=True)]
        result = {"peer": peer, "calls_per_block": calls, "pairs": pairs, "us_per_call_on": statistics.median(on),
                  "us_per_call_off": statistics.median(off), "added_us": statistics.median(added),
                  "added_us_mean": statistics.fmean(added), "added_us_quartiles": statistics.quantiles(added, n=4),
                  "added_us_calls_only": statistics.median([a - b for a, b in zip(on_calls, off, strict=True)]),
                  "background_cpu_us_per_call": background_cpu / (calls * pairs) * 1e6}
        switch(True)
        return finish_peer(peer, result)


def _instrumentation(peer: str, workdir: str, library: str,
                     openinference: Callable[[], Any]) -> tuple[Callable[[bool], None], Callable[[], None]]:
    """Install ``peer``'s instrumentation; return (switch(enabled), settle()) for it."""
    if peer == "autolog":
        import autolog

        autolog.configure(f"sqlite:///{workdir}/autolog.db")
        enable = getattr(autolog, library)
        enable()
        return (lambda on: enable(disable=not on)), (lambda: autolog.flush())
    if peer == "openinference":
        provider = discarding_otel_provider()
        instrumentor = openinference()

        def switch_oi(on: bool) -> None:
            if on and not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=provider)
            elif not on and instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()

        switch_oi(True)
        return switch_oi, (lambda: provider.force_flush())
    if peer == "mlflow":
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
        mlflow.set_experiment("bench")
        module = getattr(mlflow, library)
        module.autolog()
        return (lambda on: module.autolog(disable=not on)), (lambda: mlflow.flush_trace_async_logging())
    raise ValueError(f"unknown peer {peer!r}")


def finish_peer(peer: str, result: dict[str, Any]) -> dict[str, Any]:
    """After timing: count autolog's stored traces; let MLflow's async export finish before its store goes away."""
    if peer == "autolog":
        result["traces_stored"] = autolog_stored_traces()
    elif peer == "mlflow":
        import mlflow

        mlflow.flush_trace_async_logging(terminate=True)
    return result


def autolog_stored_traces() -> int:
    import autolog

    autolog.flush()
    return len(autolog.search_traces(return_type="list", max_results=100_000))
