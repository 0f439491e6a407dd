"""``autolog.genai.enable_git_model_versioning`` and ``autolog.utils.git_utils`` on real git repositories."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

import autolog as mlflow
from autolog.utils import git_utils

BRANCH, COMMIT, DIRTY, REPO_URL, DIFF = ("mlflow.source.git.branch", "mlflow.source.git.commit",
                                         "mlflow.source.git.dirty", "mlflow.source.git.repoURL",
                                         "mlflow.source.git.diff")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository on branch `feature/x` with one commit and an origin carrying credentials; the cwd."""
    path = tmp_path / "app"
    path.mkdir()
    git(path, "init", "-q", "-b", "feature/x")
    (path / "agent.py").write_text("PROMPT = 'v1'\n")
    git(path, "add", "agent.py")
    git(path, "commit", "-q", "-m", "first")
    git(path, "remote", "add", "origin", "https://bot:s3cret@example.com/team/app.git")
    monkeypatch.chdir(path)
    yield path
    mlflow.genai.disable_git_model_versioning()


@mlflow.trace
def answer(question: str) -> str:
    return question.upper()


def _linked_model(trace_id: str) -> str | None:
    assert mlflow.flush() is True
    return mlflow.get_trace(trace_id).info.trace_metadata.get("mlflow.modelId")


def test_git_utils_read_the_repository(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert git_utils.get_git_commit(str(repo)) == head
    assert git_utils.get_git_commit(str(repo / "agent.py")) == head  # a file: its folder's repository
    assert git_utils.get_git_branch(str(repo)) == "feature/x"
    assert git_utils.get_git_repo_url(str(repo)) == "https://example.com/team/app.git"  # credentials dropped
    assert git_utils.is_git_dirty(str(repo)) is False and git_utils.get_git_diff(str(repo)) is None
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git_utils.get_git_commit(str(outside)) is None and git_utils.get_git_branch(str(outside)) is None


def test_one_version_per_git_state(repo: Path) -> None:
    first = mlflow.genai.enable_git_model_versioning()
    assert first.info is not None and first.active_model is not None
    head = git(repo, "rev-parse", "HEAD")
    model = mlflow.get_logged_model(first.active_model.model_id)
    assert model.tags == {BRANCH: "feature/x", COMMIT: head, DIRTY: "false", REPO_URL: "https://example.com/team/app.git"}
    answer("hi")
    assert _linked_model(mlflow.get_last_active_trace_id()) == model.model_id

    again = mlflow.genai.enable_git_model_versioning()  # the same state: the same version
    assert again.active_model is not None and again.active_model.model_id == model.model_id

    (repo / "agent.py").write_text("PROMPT = 'v2'\n")  # uncommitted changes: a new version, with its diff
    dirty = mlflow.genai.enable_git_model_versioning()
    assert dirty.info is not None and dirty.info.dirty is True and dirty.active_model is not None
    dirty_model = mlflow.get_logged_model(dirty.active_model.model_id)
    assert dirty_model.model_id != model.model_id and dirty_model.tags[DIRTY] == "true"
    assert "-PROMPT = 'v1'" in dirty_model.tags[DIFF] and "+PROMPT = 'v2'" in dirty_model.tags[DIFF]
    answer("again")
    assert _linked_model(mlflow.get_last_active_trace_id()) == dirty_model.model_id

    git(repo, "commit", "-q", "-am", "second")  # a new commit: a new clean version
    committed = mlflow.genai.enable_git_model_versioning()
    assert committed.active_model is not None
    assert committed.active_model.model_id not in (model.model_id, dirty_model.model_id)
    assert mlflow.get_logged_model(committed.active_model.model_id).tags[COMMIT] == git(repo, "rev-parse", "HEAD")


def test_context_manager_clears_the_version(repo: Path) -> None:
    with mlflow.genai.enable_git_model_versioning() as context:
        assert context.active_model is not None
        assert mlflow.get_active_model_id() == context.active_model.model_id
    assert mlflow.get_active_model_id() is None
    answer("after")
    assert _linked_model(mlflow.get_last_active_trace_id()) is None


def test_no_repository_or_detached_head_warns_and_does_nothing(repo: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    git(repo, "checkout", "-q", "--detach")
    with caplog.at_level(logging.WARNING, logger="autolog"):
        context = mlflow.genai.enable_git_model_versioning()
    assert context.info is None and context.active_model is None and "detached" in caplog.text
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="autolog"):
        context = mlflow.genai.enable_git_model_versioning()
    assert context.info is None and "not in a git repository" in caplog.text
    assert mlflow.search_logged_models(output_format="list") == []
