"""The git state of a path, as ``mlflow.utils.git_utils``: commit, branch, remote URL; dirty state and diff.

Each asks the ``git`` command (not found, not a repository, or any git error: None), so
these are for start-up, not for a request's path.
"""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlsplit, urlunsplit

__all__ = ["get_git_branch", "get_git_commit", "get_git_diff", "get_git_repo_url", "is_git_dirty", "run_git"]

_TIMEOUT_SECONDS = 10


def run_git(path: str, *args: str) -> str | None:
    """``git <args>`` run in ``path`` (or the folder of the file ``path``): its output, or None if it failed."""
    folder = os.path.dirname(os.path.abspath(path)) if os.path.isfile(path) else path
    try:
        done = subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True, timeout=_TIMEOUT_SECONDS,
                              check=False)
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    return done.stdout if done.returncode == 0 else None


def _line(path: str, *args: str) -> str | None:
    out = run_git(path, *args)
    return out.strip() or None if out is not None else None


def get_git_commit(path: str) -> str | None:
    """The commit checked out in the repository containing ``path``."""
    return _line(path, "rev-parse", "HEAD")


def get_git_branch(path: str) -> str | None:
    """The branch checked out (None on a detached HEAD)."""
    return _line(path, "symbolic-ref", "--quiet", "--short", "HEAD")


def _without_credentials(url: str) -> str:
    # https://user:token@host/repo → https://host/repo: a repository URL becomes a tag others can read.
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, parts.fragment))


def get_git_repo_url(path: str, remote_name: str | None = None) -> str | None:
    """The URL of ``remote_name`` (default: the first remote), without credentials."""
    if remote_name is None:
        remotes = (run_git(path, "remote") or "").split()
        if not remotes:
            return None
        remote_name = remotes[0]
    url = _line(path, "remote", "get-url", remote_name)
    return _without_credentials(url) if url else None


def is_git_dirty(path: str) -> bool | None:
    """True if tracked files have changes, staged or not (untracked files do not count)."""
    out = run_git(path, "status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())


def get_git_diff(path: str) -> str | None:
    """The unstaged then the staged changes, as ``git diff`` prints them (None when there are none)."""
    unstaged = run_git(path, "diff") or ""
    staged = run_git(path, "diff", "--cached") or ""
    joined = "\n".join(part for part in (unstaged.rstrip("\n"), staged.rstrip("\n")) if part)
    return joined or None
