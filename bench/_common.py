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
                  peers: tuple[str, ...] = ("plain", "autolog", "openinference", "mlflow"),
                  unit: str = "call", rounds: int = 5) -> None:
    """Entry point of a per-call overhead scenario: each peer in its own interpreter, then a table and JSON.

    ``measure(peer, quick)`` returns ``{"peer", "us_per_call", ...}``. The peers run in ``rounds``
    interleaved rounds (plain, autolog, ..., plain, autolog, ...; MLflow, the slowest, in the
    first round only), and each peer's added µs is the median over rounds of its time minus
    plain's time *in the same round*: this machine's speed drifts by tens of percent over
    minutes, and pairing by round cancels that drift instead of comparing runs minutes apart.
    """
    args = main_args(doc)
    if args.peer:
        emit(measure(args.peer, args.quick), None)
        return
    extra = ["--quick"] if args.quick else []
    n_rounds = 1 if args.quick else rounds
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in peers}
    for r in range(n_rounds):
        for peer in peers:
            if peer == "mlflow" and r > 0:
                continue
            runs[peer].append(run_peer(script, peer, *extra))
    results: dict[str, dict[str, Any]] = {}
    rows = []
    for peer, peer_runs in runs.items():
        failed = [x for x in peer_runs if "error" in x]
        if failed or (peer != "plain" and any("error" in x for x in runs["plain"])):
            error = (failed or runs["plain"])[0].get("error", "plain failed")
            results[peer] = {"peer": peer, "error": error}
            rows.append([peer, "-", "-", "-", error[:60]])
            continue
        times = [x["us_per_call"] for x in peer_runs]
        added = [x["us_per_call"] - plain["us_per_call"] for x, plain in zip(peer_runs, runs["plain"], strict=False)]
        plain_time = statistics.median(p["us_per_call"] for p in runs["plain"][:len(peer_runs)])
        r = {**peer_runs[-1], "us_per_call": statistics.median(times), "us_per_call_per_round": times}
        if peer != "plain":
            r["added_us"] = statistics.median(added)
            r["added_us_per_round"] = added
            r["added_pct_of_plain"] = 100 * r["added_us"] / plain_time
        results[peer] = r
        note = f"{r['traces_stored']} traces stored" if "traces_stored" in r else ""
        if peer != "plain" and len(added) > 1:
            note = f"rounds: {min(added):.1f}..{max(added):.1f} µs added; {note}"
        rows.append([peer, f"{r['us_per_call']:.1f}", f"{r['added_us']:.1f}" if peer != "plain" else "-",
                     f"{r['added_pct_of_plain']:.1f}%" if peer != "plain" else "-", note])
    auto, oi, ml = (results.get(p, {}).get("added_us") for p in ("autolog", "openinference", "mlflow"))
    ratios = {}
    if auto is not None and oi:
        ratios["autolog_vs_openinference_overhead"] = auto / oi
    if auto is not None and ml:
        ratios["mlflow_vs_autolog_overhead"] = ml / max(auto, 1e-9)
    print(f"{n_rounds} interleaved round(s); medians over rounds")
    print(table(rows, ["peer", f"µs/{unit}", "added µs", "added % of plain", "note"]))
    for k, v in ratios.items():
        print(f"{k}: {v:.3f}")
    emit({"scenario": scenario, "rounds": n_rounds, "results": results, "ratios": ratios}, args.json)


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
                     make_call: Callable[[], Callable[[], Any]], sizes: tuple[int, int] = (500, 7),
                     quick_sizes: tuple[int, int] = (50, 3), warmup: int = 20) -> dict[str, Any]:
    """One peer's µs per call of ``make_call()`` (median of ``repeats`` runs of ``calls`` calls).

    ``library`` names the integration (``autolog.<library>()``, ``mlflow.<library>.autolog()``);
    ``openinference()`` returns that library's OpenInference instrumentor. MLflow always runs the
    quick sizes: it is too slow for the full ones.
    """
    with tempfile.TemporaryDirectory() as workdir:
        _instrument(peer, workdir, library, openinference)
        call = make_call()
        calls, repeats = quick_sizes if quick or peer == "mlflow" else sizes
        per_call_us(call, warmup, 1)  # imports, caches, first connection
        return finish_peer(peer, {"peer": peer, "us_per_call": per_call_us(call, calls, repeats)})


def _instrument(peer: str, workdir: str, library: str, openinference: Callable[[], Any]) -> None:
    if peer == "autolog":
        import autolog

        autolog.configure(f"sqlite:///{workdir}/autolog.db")
        getattr(autolog, library)()
    elif peer == "openinference":
        openinference().instrument(tracer_provider=discarding_otel_provider())
    elif peer == "mlflow":
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
        mlflow.set_experiment("bench")
        getattr(mlflow, library).autolog()


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
