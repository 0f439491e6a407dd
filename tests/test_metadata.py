"""Automatic trace metadata: source, user and git facts, resolved once per process without subprocesses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import autolog
from autolog._tracing.metadata import read_git_info


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_git_facts_read_from_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "feature/x")
    _git(repo, "-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "one")
    _git(repo, "remote", "add", "origin", "https://example.com/team/app.git")
    (repo / "pkg").mkdir()
    info = read_git_info(repo / "pkg")
    assert info == {"mlflow.source.git.branch": "feature/x",
                    "mlflow.source.git.commit": _git(repo, "rev-parse", "HEAD"),
                    "mlflow.source.git.repoURL": "https://example.com/team/app.git"}
    _git(repo, "pack-refs", "--all")  # the commit now lives only in packed-refs
    assert read_git_info(repo)["mlflow.source.git.commit"] == _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "--detach")
    assert read_git_info(repo) == {"mlflow.source.git.commit": _git(repo, "rev-parse", "HEAD"),
                                   "mlflow.source.git.repoURL": "https://example.com/team/app.git"}


def test_every_trace_carries_process_metadata() -> None:
    @autolog.trace
    def f() -> None:
        pass

    f()
    meta = autolog.search_traces(return_type="list")[0].info.trace_metadata
    assert meta["mlflow.source.type"] in ("LOCAL", "UNKNOWN", "NOTEBOOK")
    assert meta["mlflow.source.name"]
    assert meta["mlflow.user"]
    assert meta["mlflow.trace_schema.version"] == "3"


def test_process_metadata_is_stored_once_and_reads_back_per_trace(store: autolog.Client) -> None:
    import sqlite3

    @autolog.trace
    def f(override: bool) -> None:
        if override:
            autolog.update_current_trace(metadata={"mlflow.source.name": "custom"})

    for _ in range(10):
        f(False)
    f(True)
    traces = autolog.search_traces(return_type="list", order_by=["timestamp_ms ASC"])
    assert [t.info.trace_metadata["mlflow.source.name"] != "custom" for t in traces] == [True] * 10 + [False]
    assert all("mlflow.user" in t.info.trace_metadata for t in traces)
    conn = sqlite3.connect(store.tracking_uri.removeprefix("sqlite:///"))
    shared_rows = conn.execute("SELECT COUNT(*) FROM metadata_sets").fetchone()[0]
    per_trace = conn.execute("SELECT COUNT(DISTINCT trace_id) FROM trace_metadata").fetchone()[0]
    conn.close()
    derived = {"mlflow.traceInputs", "mlflow.traceOutputs"}  # per-trace previews, made on read
    assert shared_rows == len(set(traces[0].info.trace_metadata) - derived)  # one copy of the process metadata
    assert per_trace == 1  # only the trace that overrode a process key stores its own copy
    custom = autolog.search_traces(filter_string="metadata.`mlflow.source.name` = 'custom'", return_type="list")
    assert [t.info.trace_id for t in custom] == [traces[-1].info.trace_id]
    shared = autolog.search_traces(filter_string="metadata.`mlflow.source.name` != 'custom'", return_type="list")
    assert len(shared) == 10
