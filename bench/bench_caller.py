"""The OpenAI call's cost on the application's thread (issue 22): the caller's CPU per call, whole and by step.

A diagnostic beside scenario 1 (``bench_openai.py``, whose client and canned response it uses), in one process:

* **whole call**: blocks of calls with ``autolog.openai()`` on and off, alternating; the caller thread's CPU time
  (``time.thread_time_ns``: its own user and system time, not the time it waits for the GIL) per call, on minus
  off. The export worker runs as it ships; its own CPU is not in this figure (scenario 1 counts the wall time).
* **by step**: each piece of the wrapper's work timed alone in a loop on this thread (median of 7 loops), with the
  functions the wrapper calls: wrapt's dispatch, the request's JSON, a new trace with its root span, the two
  context variables, ending the span and handing the trace to the exporter.

The steps do not add up to the whole exactly (caches are warm in a loop, cold between SDK calls); they say where
the time goes. ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import emit, table
from bench_openai import MESSAGES, make_client

RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)  # Linux: this thread only

LOOP = 2_000


def thread_us(fn: Callable[[], Any], n: int = LOOP, repeats: int = 7) -> float:
    """Median over ``repeats`` loops of the caller thread's CPU µs per call of ``fn``."""
    samples = []
    for _ in range(repeats):
        start = time.thread_time_ns()
        for _ in range(n):
            fn()
        samples.append((time.thread_time_ns() - start) / n / 1_000)
    return statistics.median(samples)


def whole_call(blocks: int, calls: int) -> dict[str, float]:
    import autolog

    client = make_client()

    def call() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    on: list[float] = []
    off: list[float] = []
    system: dict[bool, list[float]] = {True: [], False: []}  # of which system time (wake-ups, GIL hand-overs)
    for _ in range(3):  # warm both paths
        autolog.openai(disable=True)
        call()
        autolog.openai()
        call()
    for b in range(blocks):
        for enabled in ((True, False) if b % 2 else (False, True)):
            autolog.openai(disable=not enabled)
            start, sys_start = time.thread_time_ns(), resource.getrusage(RUSAGE_THREAD).ru_stime
            for _ in range(calls):
                call()
            (on if enabled else off).append((time.thread_time_ns() - start) / calls / 1_000)
            system[enabled].append((resource.getrusage(RUSAGE_THREAD).ru_stime - sys_start) / calls * 1e6)
        assert autolog.flush(60)
    plain, traced = statistics.median(off), statistics.median(on)
    return {"plain_call_us": plain, "traced_call_us": traced, "added_us": traced - plain,
            "added_percent": 100 * (traced - plain) / plain,
            # Summed, not a median: the kernel counts system time in ticks (several ms), coarser than a block.
            "added_system_us": statistics.fmean(system[True]) - statistics.fmean(system[False])}


def steps() -> dict[str, float]:
    import wrapt

    import autolog
    from autolog._tracing import CURRENT_SPAN, dumps, start_span_no_context
    from integrations.openai import _IN_CALL

    kwargs = {"model": "gpt-4o-mini", "messages": MESSAGES}
    out: dict[str, float] = {}

    def bare(*args: Any, **kw: Any) -> None:
        return None

    wrapped = wrapt.FunctionWrapper(bare, lambda w, instance, args, kw: w(*args, **kw))
    bare_us = thread_us(lambda: bare(**kwargs))
    out["wrapt dispatch (minus the bare call)"] = thread_us(lambda: wrapped(**kwargs)) - bare_us
    out["request JSON"] = thread_us(lambda: dumps(kwargs))

    def start() -> Any:
        return start_span_no_context("Completions", span_type="CHAT_MODEL", inputs=kwargs,
                                     attributes={"mlflow.message.format": "openai", "mlflow.llm.model": "gpt-4o-mini"})

    starts: list[float] = []
    ends: list[float] = []
    for _ in range(7):  # batches of 200: started (timed), then ended (timed); the worker takes them meanwhile
        t0 = time.thread_time_ns()
        spans = [start() for _ in range(200)]
        t1 = time.thread_time_ns()
        for span in spans:
            span.end(outputs={"ok": 1})
        t2 = time.thread_time_ns()
        starts.append((t1 - t0) / 200 / 1_000)
        ends.append((t2 - t1) / 200 / 1_000)
        assert autolog.flush(60)
    out["new trace and root span"] = statistics.median(starts)
    out["end the span and hand the trace over"] = statistics.median(ends)
    span = start()

    def context() -> None:
        token, call = CURRENT_SPAN.set(span), _IN_CALL.set(True)
        _IN_CALL.reset(call)
        CURRENT_SPAN.reset(token)

    out["context variables (set and reset two)"] = thread_us(context)
    span.end()
    assert autolog.flush(60)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few blocks: a smoke run, not a measurement")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # integrations/ of this checkout
    import autolog

    with tempfile.TemporaryDirectory() as tmp:
        client = autolog.configure(f"sqlite:///{Path(tmp) / 'caller.db'}")
        result = {"scenario": "caller_thread", "quick": args.quick,
                  "whole": whole_call(4 if args.quick else 40, 20 if args.quick else 100), "steps": steps()}
        client.shutdown()
    whole = result["whole"]
    rows = [["plain call (SDK, canned transport)", f"{whole['plain_call_us']:.1f}"],
            ["traced call", f"{whole['traced_call_us']:.1f}"],
            ["added on the caller's thread", f"{whole['added_us']:.1f} ({whole['added_percent']:.1f} %)"],
            ["  of which system time", f"{whole['added_system_us']:.1f}"]]
    rows += [[f"  step: {name}", f"{us:.2f}"] for name, us in result["steps"].items()]
    print(table(rows, ["caller thread CPU per call", "µs"]))
    emit(result, args.json)


if __name__ == "__main__":
    main()
