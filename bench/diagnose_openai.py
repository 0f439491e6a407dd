"""Where autolog's overhead on the OpenAI call of scenario 1 goes: the same measurement with parts switched off.

A diagnostic, not a scenario of ``run_all.py``. Each variant runs scenario 1's autolog peer
(``measure_per_call``, paired on/off blocks, settling timed) in its own interpreter:

* ``full``      — autolog as shipped;
* ``no-write``  — the worker serializes every trace into its record, and never writes it;
* ``app-only``  — a finished trace is let go at hand-over: only the work on the caller's
                  thread remains (the span, the request's JSON, the hand-over itself).

The differences between the variants show what serializing and what writing add to the
caller's wall-clock time, besides the caller's own code. The switched-off parts are replaced
by patching the exporter's methods in the measured process, which only a diagnostic may do.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import HERE, emit, run_peer, table

VARIANTS = ("full", "no-write", "app-only")


def switch_off(variant: str) -> None:
    """Patch autolog's exporter in this process so that ``variant`` is what runs."""
    from autolog._export.pipeline import ExportPipeline

    if variant == "no-write":
        def store_nothing(self: Any, records: list[Any], handled: int) -> None:
            with self._cond:
                self._handled += handled
                self._cond.notify_all()

        ExportPipeline._store = store_nothing  # type: ignore[method-assign]
    elif variant == "app-only":
        def let_go(self: Any, trace: Any) -> None:
            trace.release(())  # as encoding would: the trace and its spans stop referring to each other
            with self._cond:
                self._submitted += 1
                self._handled += 1

        ExportPipeline.enqueue = let_go  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peer", default=None, help="(internal) the variant measured in this process")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.peer:
        import bench_openai

        switch_off(args.peer)
        emit({**bench_openai.measure("autolog", args.quick), "variant": args.peer}, None)
        return
    extra = ["--quick"] if args.quick else []
    results = {v: run_peer(HERE / "diagnose_openai.py", v, *extra) for v in VARIANTS}
    rows = [[v, f"{r['us_per_call_off']:.1f}", f"{r['added_us']:.1f}", f"{r['added_us_calls_only']:.1f}",
             f"{r['background_cpu_us_per_call']:.1f}"] if "error" not in r else [v, "-", "-", "-", r["error"][:60]]
            for v, r in results.items()]
    print(table(rows, ["variant", "µs/call off", "added µs", "added µs, calls only", "background CPU µs/call"]))
    emit({"scenario": "openai_chat_call_parts", "results": results}, args.json)


if __name__ == "__main__":
    main()
