"""Scenario 1: added cost of tracing an OpenAI chat call, on an in-process transport that does no I/O.

Peers (each in its own interpreter): plain SDK, autolog, OpenInference (OpenTelemetry SDK with a
BatchSpanProcessor and an exporter that discards), MLflow (``mlflow.openai.autolog()`` with a SQLite
tracking store). Reports µs per call (median of repeated runs) and the added µs against plain.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from _common import HERE, discarding_otel_provider, finish_peer, overhead_main, per_call_us

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

        OpenAIInstrumentor().instrument(tracer_provider=discarding_otel_provider())
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
        return finish_peer(peer, {"peer": peer, "us_per_call": us})


def main() -> None:
    overhead_main(__doc__ or "", HERE / "bench_openai.py", "openai_chat_call", measure)


if __name__ == "__main__":
    main()
