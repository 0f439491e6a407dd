"""Helpers for the fault tests: spool lines as an older or crashed process leaves them, children, counts."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def spool_line(i: int, text: str = "x", **fields: Any) -> dict[str, Any]:
    """A spool line of one trace with one span, as ``record_to_json`` writes it."""
    content = json.dumps({"inputs": {"i": i, "text": text}, "outputs": None, "attributes": {}, "events": [],
                          "status_message": ""})
    line = {"trace_id": f"tr-{i:032x}", "experiment_id": "0", "name": "root", "request_time": 1_700_000_000_000 + i,
            "execution_duration": 5, "state": "OK", "client_request_id": None, "model_id": None, "run_id": None,
            "token_usage": None, "request_preview": None, "response_preview": None, "metadata_set": None,
            "tags": {}, "metadata": {}, "spans": [[f"{i:016x}", None, "root", "CHAIN", "OK", 0, 5, content]]}
    line.update(fields)
    return line


def write_spool(path: Path, lines: list[dict[str, Any] | bytes]) -> None:
    """A dead process's spool file (nobody holds its lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else (json.dumps(line, ensure_ascii=False) + "\n").encode())


def stored_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT trace_id FROM traces ORDER BY trace_id")]


def quarantined(spool_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted((spool_dir / "quarantine").glob("*.jsonl"))
            for line in f.read_text(encoding="utf-8").splitlines()]


def spool_lines(spool_dir: Path) -> int:
    return sum(len(f.read_bytes().splitlines()) for f in spool_dir.glob("*.jsonl") if f.is_file())


def run_python(code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120,
               script: Path | None = None) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (as production runs: internal errors swallowed); its last JSON line.

    With ``script``, the code is written there and run as a file (multiprocessing's spawn needs one).
    """
    full_env = {k: v for k, v in os.environ.items() if k != "AUTOLOG_RAISE_INTERNAL_ERRORS"}
    full_env.update({"PYTHONPATH": str(REPO), "AUTOLOG_FLUSH_ON_EXIT_TIMEOUT_SECONDS": "1", **(env or {})})
    if script is not None:
        script.write_text(textwrap.dedent(code), encoding="utf-8")
    command = [str(script)] if script is not None else ["-c", textwrap.dedent(code)]
    proc = subprocess.run([sys.executable, *command, *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=str(REPO))
    reports = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and reports, f"child failed ({proc.returncode}): {proc.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(reports[-1])
    report["stderr"] = proc.stderr
    return report
