"""Scenario 1: added cost of tracing an OpenAI chat call, on an in-process transport that does no I/O.

Peers (each in its own interpreter): plain SDK, autolog, OpenInference (OpenTelemetry SDK with a
BatchSpanProcessor and an exporter that discards), MLflow (``mlflow.openai.autolog()`` with a SQLite
tracking store). Reports the added µs per call, storing included (see ``measure_per_call``), against plain.
"""

from __future__ import annotations

import json
from typing import Any

from _common import HERE, measure_per_call, overhead_main

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


def openinference() -> Any:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


def make_call() -> Any:
    client = make_client()
    return lambda: client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def measure(peer: str, quick: bool) -> dict[str, Any]:
    return measure_per_call(peer, quick, "openai", openinference, make_call, sizes=(100, 120), quick_sizes=(20, 4))


def main() -> None:
    overhead_main(__doc__ or "", HERE / "bench_openai.py", "openai_chat_call", measure)


if __name__ == "__main__":
    main()
