"""Scenario 1: added cost of tracing an OpenAI chat call, on an in-process transport that does no I/O.

Peers (each in its own interpreter): plain SDK, autolog, OpenInference (OpenTelemetry SDK with a
BatchSpanProcessor and an exporter that discards), MLflow (``mlflow.openai.autolog()`` with a SQLite
tracking store). Reports µs per call (median of repeated runs) and the added µs against plain.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from _common import HERE, emit, main_args, per_call_us, run_peer, table

BODY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello there!"}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}).encode()
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}]


def make_client() -> Any:
    import httpx
    import openai

    class Canned(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})

    return openai.OpenAI(api_key="sk-bench", max_retries=0, http_client=httpx.Client(transport=Canned()))


def setup(peer: str, workdir: str) -> None:
    if peer == "autolog":
        import autolog

        autolog.configure(f"sqlite:///{workdir}/autolog.db")
        autolog.openai()
    elif peer == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        class Discard(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Discard()))
        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif peer == "mlflow":
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
        mlflow.set_experiment("bench")
        mlflow.openai.autolog()


def measure(peer: str, quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        setup(peer, workdir)
        client = make_client()
        call = lambda: client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        calls, repeats = (50, 3) if quick or peer == "mlflow" else (500, 7)
        per_call_us(call, 20, 1)  # warm-up: imports, first connection
        us = per_call_us(call, calls, repeats)
        if peer == "autolog":
            import autolog

            autolog.flush()
            stored = len(autolog.search_traces(return_type="list"))
            return {"peer": peer, "us_per_call": us, "traces_stored": stored}
        return {"peer": peer, "us_per_call": us}


def main() -> None:
    args = main_args(__doc__ or "")
    if args.peer:
        emit(measure(args.peer, args.quick), None)
        return
    extra = ["--quick"] if args.quick else []
    results = {p: run_peer(HERE / "bench_openai.py", p, *extra) for p in ("plain", "autolog", "openinference",
                                                                         "mlflow")}
    plain = results["plain"]["us_per_call"]
    rows = []
    for peer, r in results.items():
        if "error" in r:
            rows.append([peer, "-", "-", "-", r["error"][:60]])
            continue
        added = r["us_per_call"] - plain
        r["added_us"] = added
        r["added_pct_of_plain"] = 100 * added / plain
        rows.append([peer, f"{r['us_per_call']:.1f}", f"{added:.1f}", f"{100 * added / plain:.1f}%", ""])
    auto, oi, ml = (results[p].get("added_us") for p in ("autolog", "openinference", "mlflow"))
    ratios = {}
    if auto is not None and oi:
        ratios["autolog_vs_openinference_overhead"] = auto / oi
    if auto is not None and ml:
        ratios["mlflow_vs_autolog_overhead"] = ml / max(auto, 1e-9)
    print(table(rows, ["peer", "µs/call", "added µs", "added % of plain", "note"]))
    for k, v in ratios.items():
        print(f"{k}: {v:.3f}")
    emit({"scenario": "openai_chat_call", "results": results, "ratios": ratios}, args.json)


if __name__ == "__main__":
    main()
