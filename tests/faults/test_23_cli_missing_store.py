"""Item 23: the CLI's read-only commands never create a store; a missing store is an error saying so.

``autolog traces --tracking-uri sqlite:///nope.db`` used to create ``nope.db`` (and every
missing directory above it) and print an empty table, as if the store existed and were empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "autolog", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args", [
    ("traces", "--tracking-uri", "sqlite:///nope.db"),
    ("traces", "--tracking-uri", "sqlite:///deep/er/nope.db", "--filter", "status = 'OK'"),
    ("traces", "--tracking-uri", "nope.db", "show", "tr-0123"),
    ("traces", "--tracking-uri", "sqlite:///nope.db", "--json"),
])
def test_reading_a_missing_store_is_an_error_and_creates_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    out = _cli(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stdout
    assert "no store at" in out.stderr and "nope.db" in out.stderr, out.stderr
    assert out.stdout == ""  # no empty table pretending the store is empty
    assert list(tmp_path.iterdir()) == []  # neither the file, nor its directories, nor a spool


def test_the_environments_store_is_checked_too(tmp_path: Path) -> None:
    out = _cli("traces", cwd=tmp_path, env={"AUTOLOG_TRACKING_URI": f"sqlite:///{tmp_path / 'env.db'}"})
    assert out.returncode == 2 and "no store at" in out.stderr and "env.db" in out.stderr, out.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_store_is_still_listed(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'real.db'}"
    code = ("import sys, autolog; autolog.configure(sys.argv[1])\n"
            "with autolog.start_span('hello'): pass\n"
            "assert autolog.flush(10)\n")
    subprocess.run([sys.executable, "-c", code, uri], env={**os.environ, "PYTHONPATH": str(REPO)}, check=True,
                   timeout=60)
    out = _cli("traces", "--tracking-uri", uri, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "hello" in out.stdout.split()
