"""Trace metadata that is the same for every trace of a process, resolved once.

Git facts are read from the ``.git`` directory's files rather than by running ``git``:
no subprocess per trace (nor per process), and it works where git is not installed.
"""

from __future__ import annotations

import configparser
import functools
import getpass
import os
import sys
from pathlib import Path

from autolog.entities.keys import (
    GIT_BRANCH,
    GIT_COMMIT,
    GIT_REPO_URL,
    SCHEMA_VERSION_KEY,
    SOURCE_NAME,
    SOURCE_TYPE,
    TRACE_SCHEMA_VERSION,
    USER,
)

__all__ = ["process_metadata", "read_git_info"]


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # noqa: BLE001
        return False
    return ip is not None and type(ip).__name__ in ("ZMQInteractiveShell", "Shell")


def _source() -> tuple[str, str]:
    if _in_notebook():
        name = os.environ.get("JPY_SESSION_NAME") or "notebook"
        return name, "NOTEBOOK"
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else None)
    if path and path not in ("-c", "-"):
        return os.path.abspath(path), "LOCAL"
    return "<interactive>" if hasattr(sys, "ps1") else "<unknown>", "UNKNOWN"


def _find_git_dir(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.is_file():  # worktree or submodule: "gitdir: <path>"
            text = candidate.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:"):].strip())
                return target if target.is_absolute() else (directory / target).resolve()
    return None


def read_git_info(start: Path) -> dict[str, str]:
    """Commit, branch and origin URL of the repository containing ``start``, from its files."""
    git_dir = _find_git_dir(start)
    if git_dir is None:
        return {}
    info: dict[str, str] = {}
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    common = git_dir
    commondir_file = git_dir / "commondir"
    if commondir_file.is_file():
        common = (git_dir / commondir_file.read_text(encoding="utf-8").strip()).resolve()
    if head.startswith("ref:"):
        ref = head[4:].strip()
        if ref.startswith("refs/heads/"):
            info[GIT_BRANCH] = ref[len("refs/heads/"):]
        commit = None
        for base in (git_dir, common):
            ref_file = base / ref
            if ref_file.is_file():
                commit = ref_file.read_text(encoding="utf-8").strip()
                break
        if commit is None:
            packed = common / "packed-refs"
            if packed.is_file():
                for line in packed.read_text(encoding="utf-8").splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[1] == ref:
                        commit = parts[0]
                        break
        if commit:
            info[GIT_COMMIT] = commit
    elif head:
        info[GIT_COMMIT] = head  # detached HEAD
    config_file = common / "config"
    if config_file.is_file():
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read(config_file, encoding="utf-8")
            url = parser.get('remote "origin"', "url", fallback=None)
        except configparser.Error:
            url = None
        if url:
            info[GIT_REPO_URL] = url
    return info


@functools.lru_cache(maxsize=1)
def process_metadata() -> dict[str, str]:
    """The metadata every trace of this process carries. Computed on first use, then cached."""
    name, source_type = _source()
    meta = {SOURCE_NAME: name, SOURCE_TYPE: source_type, SCHEMA_VERSION_KEY: TRACE_SCHEMA_VERSION}
    try:
        meta[USER] = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        pass
    start = Path(name).parent if source_type == "LOCAL" else Path.cwd()
    try:
        meta.update(read_git_info(start))
    except OSError:
        pass
    return meta
