"""Item 20: reads never take the write lock; every store failure is a ``StoreError`` naming the store and cause.

Before: the first use of a store migrated it under ``BEGIN IMMEDIATE``, so a search waited
for (and failed on) any other writer; a read-only store, a garbage file and an unwritable
path surfaced raw ``sqlite3``/``OSError`` exceptions.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import autolog

REPO = Path(__file__).resolve().parents[2]


def _make_store(path: Path, traces: int = 3) -> None:
    client = autolog.Client(f"sqlite:///{path}")
    for i in range(traces):
        root = client.start_trace("root", inputs={"i": i})
        client.end_trace(root.trace_id, outputs=i)
    assert client.flush(10)
    client.shutdown()


def test_a_search_does_not_wait_for_another_connections_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    _make_store(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("DELETE FROM traces")  # uncommitted: readers still see the three traces
    try:
        reader = autolog.Client(f"sqlite:///{path}")  # a new client: its first use checks the schema
        started = time.monotonic()
        found = reader.search_traces()
        assert len(found) == 3
        assert reader.get_experiment("0").name == "Default"
        assert time.monotonic() - started < 1.0  # never waited for the busy timeout
        with pytest.raises(autolog.StoreError, match="locked") as caught:  # a write still must wait, then says so
            reader.set_trace_tag(found[0].info.trace_id, "k", "v")
        assert str(path) in str(caught.value)
        reader.shutdown()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_garbage_file_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database, just some bytes\n" * 200)
    client = autolog.Client(f"sqlite:///{path}")
    for read in (client.search_traces, lambda: client.get_trace("tr-1"), client.search_logged_models):
        with pytest.raises(autolog.StoreError) as caught:
            read()
        assert str(path) in str(caught.value)
        assert "not an autolog store" in str(caught.value) and caught.value.cause == "file is not a database"
    client.shutdown()


def test_configure_on_a_path_that_cannot_be_a_directory_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(autolog.StoreError) as caught:
        autolog.configure(f"sqlite:///{blocker / 'sub' / 'x.db'}")
    assert str(blocker / "sub") in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)


# -- read-only stores: checked in a process that the file modes bind (root ignores them) -------------
_UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                 "--inh-caps=-dac_override,-dac_read_search"]

_READER = textwrap.dedent("""
    import json, sys, autolog
    report = {}
    try:
        client = autolog.configure(sys.argv[1])
        found = client.search_traces()
        report["found"] = len(found)
        report["trace"] = client.get_trace(found[0].info.trace_id).info.trace_id == found[0].info.trace_id
        try:
            client.set_trace_tag(found[0].info.trace_id, "k", "v")
            report["write"] = "succeeded"
        except autolog.StoreError as exc:
            report["write"] = str(exc)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(report), flush=True)
""")


def _run_bound_by_file_modes(*args: str) -> dict[str, object]:
    command = [sys.executable, "-c", _READER, *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file modes cannot make a store read-only")
        command = [*_UNPRIVILEGED, *command]
    out = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                         timeout=60)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, out.stderr[-2000:]
    report: dict[str, object] = json.loads(lines[-1])
    return report


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "ro"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)
    for child in folder.iterdir():
        child.chmod(0o644)


def test_a_read_only_file_is_searchable_and_refuses_writes_clearly(read_only_dir: Path) -> None:
    path = read_only_dir / "ro.db"
    _make_store(path)
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    report = _run_bound_by_file_modes(f"sqlite:///{path}")
    assert report.get("found") == 3 and report.get("trace") is True, report
    assert "read-only" in str(report["write"]) and str(path) in str(report["write"]), report


def test_a_store_in_a_read_only_directory_is_searchable(read_only_dir: Path) -> None:
    path = read_only_dir / "ro.db"
    code = ("import sys, pathlib, tests.faults.test_20_store_errors as t\n"
            "t._make_store(pathlib.Path(sys.argv[1]))  # then the process exits: the WAL files are removed")
    subprocess.run([sys.executable, "-c", code, str(path)], env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
                   check=True, timeout=60)
    assert not Path(f"{path}-wal").exists()  # closed cleanly: SQLite would have to create the WAL files
    read_only_dir.chmod(0o555)
    report = _run_bound_by_file_modes(f"sqlite:///{path}")
    assert report.get("found") == 3 and report.get("trace") is True, report
    assert "read-only" in str(report["write"]) and str(path) in str(report["write"]), report


def test_configure_below_a_read_only_directory_is_a_store_error(read_only_dir: Path) -> None:
    read_only_dir.chmod(0o555)
    report = _run_bound_by_file_modes(f"sqlite:///{read_only_dir / 'sub' / 'x.db'}")
    assert str(report.get("error", "")).startswith("StoreError: "), report
    assert str(read_only_dir / "sub") in str(report["error"]) and "Permission denied" in str(report["error"]), report
