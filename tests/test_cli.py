"""The command line: the demo and trace search/show, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "autolog", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_demo_records_two_versions_and_the_cli_searches_them(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'demo.db'}"
    out = _cli("demo", "--tracking-uri", uri, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    rows = [line for line in lines if line.startswith("support-bot v")]
    assert len(rows) == 2
    for row in rows:
        parts = row.split()
        assert int(parts[3]) == 24  # traces per version
        assert int(parts[-1]) > 0  # tokens were recorded
    assert "autolog traces" in out.stdout

    errors = _cli("traces", "--tracking-uri", uri, "--filter", "status = 'ERROR'", cwd=tmp_path)
    assert errors.returncode == 0, errors.stderr
    error_rows = [line for line in errors.stdout.splitlines()[1:] if line.startswith("tr-")]
    assert error_rows and all(" ERROR " in line for line in error_rows)

    trace_id = error_rows[0].split()[0]
    shown = _cli("traces", "--tracking-uri", uri, "show", trace_id, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"trace {trace_id}  state=ERROR" in shown.stdout
    assert "- support_bot (AGENT)" in shown.stdout and "(RETRIEVER)" in shown.stdout

    bad = _cli("traces", "--tracking-uri", uri, "--filter", "tags.x = ", cwd=tmp_path)
    assert bad.returncode == 2 and "Invalid filter at position" in bad.stderr
