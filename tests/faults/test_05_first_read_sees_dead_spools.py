"""Item 5: the first read of a new process sees what dead processes left in the spool.

``flush()`` returned True before the worker had even claimed the orphan spools, so a read
right after start-up (and the CLI) showed none of them. The first flush now waits for the
start-up scan.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import autolog
from tests.faults.spools import REPO, spool_line, write_spool


def _create_store(db: Path) -> None:
    client = autolog.configure(f"sqlite:///{db}")
    with autolog.start_span("first"):
        pass
    assert client.flush(10)


def test_search_right_after_opening_sees_the_dead_process_spool(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    _create_store(db)
    write_spool(Path(str(db) + ".spool") / "999998-dead.jsonl", [spool_line(i) for i in range(30)])
    client = autolog.configure(f"sqlite:///{db}")
    assert len(client.search_traces(max_results=100)) == 31


def test_the_cli_lists_the_dead_process_spool(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    _create_store(db)
    write_spool(Path(str(db) + ".spool") / "999997-dead.jsonl", [spool_line(i) for i in range(7)])
    out = subprocess.run([sys.executable, "-m", "autolog", "traces", "--tracking-uri", f"sqlite:///{db}"],
                         capture_output=True, text=True, cwd=str(REPO), timeout=60, check=True).stdout
    assert out.count("root") == 7 and "first" in out, out
