"""Automatic trace metadata: source, user and git facts, resolved once per process without subprocesses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import autolog
from autolog._metadata import read_git_info


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
