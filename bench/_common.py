"""Shared helpers of the benchmark scripts: timing, peers in subprocesses, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
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
