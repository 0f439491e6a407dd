"""OTLP export throughput to a loopback receiver (another process), and the caller-thread cost with OTLP on.

    python bench/bench_otlp.py [traces]

Prints traces/s and spans/s delivered to the receiver (local_store=False, then store + OTLP),
and the application thread's time per traced call with the store alone and with store + OTLP.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import autolog

RECEIVER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.export.receiver import Receiver
r = Receiver()
print(r.port, flush=True)
for line in sys.stdin:
    print(len(r.spans()), flush=True)
"""
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
ANSWER = {"model": "gpt-4o-mini", "choices": [{"message": {"role": "assistant", "content": "Paris."},
                                               "finish_reason": "stop"}]}


def one_call(i: int) -> None:
    with autolog.start_span("agent", span_type="AGENT") as root:
        root.set_inputs({"q": i})
        with autolog.start_span("ChatOpenAI", span_type="CHAT_MODEL") as chat:
            chat.set_inputs(CHAT)
            chat.set_attributes({"mlflow.chat.tokenUsage": {"input_tokens": 12, "output_tokens": 2,
                                                            "total_tokens": 14}})
            chat.set_outputs(ANSWER)
        with autolog.start_span("lookup", span_type="TOOL"):
            pass


def run(n: int, receiver_port: int | None, local_store: bool, tmp: Path, tag: str) -> dict[str, float]:
    endpoint = f"http://127.0.0.1:{receiver_port}/v1/traces" if receiver_port else None
    client = autolog.configure(f"sqlite:///{tmp / (tag + '.db')}", otlp_endpoint=endpoint, local_store=local_store)
    for i in range(200):  # warm-up
        one_call(i)
    client.flush(60)
    started = time.perf_counter()
    for i in range(n):
        one_call(i)
    caller = time.perf_counter() - started
    assert client.flush(300), autolog.stats()
    total = time.perf_counter() - started
    return {"caller_us_per_call": caller / n * 1e6, "delivered_traces_per_s": n / total}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    repo = Path(__file__).resolve().parents[1]
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(repo)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None and receiver.stdin is not None
    port = int(receiver.stdout.readline())
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "store only": run(n, None, True, Path(tmp), "a"),
            "OTLP only (local_store=False)": run(n, port, False, Path(tmp), "b"),
            "store + OTLP": run(n, port, True, Path(tmp), "c"),
        }
    receiver.stdin.write("count\n")
    receiver.stdin.flush()
    spans = int(receiver.stdout.readline())
    receiver.stdin.close()
    receiver.wait(10)
    print(json.dumps({"traces": n, "spans_received": spans, **results}, indent=1))


if __name__ == "__main__":
    main()
