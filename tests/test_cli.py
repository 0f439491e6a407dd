"""The command line: the demo and trace search/show, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import autolog

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "autolog", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_demo_records_two_versions_and_the_cli_searches_them(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'demo.db'}"
    out = _cli("demo", "--tracking-uri", uri, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    recorded, _, evaluated = out.stdout.partition("Evaluation on 12 questions")
    rows = [line for line in recorded.splitlines() if line.startswith("support-bot v")]
    assert len(rows) == 2
    for row in rows:
        parts = row.split()
        assert int(parts[3]) == 24  # traces per version
        assert int(parts[-1]) > 0  # tokens were recorded
    assert "autolog traces" in out.stdout
    # The evaluation: v2 (the larger model) is more helpful and less concise, by the local judge.
    quality = {line.split()[1]: line.split()[2:] for line in evaluated.splitlines() if line.startswith("support-bot")}
    assert set(quality) == {"v1", "v2"}
    assert float(quality["v1"][0].rstrip("%")) < float(quality["v2"][0].rstrip("%")) == 100
    assert quality["v1"][1] == "100%" and quality["v2"][1] == "0%"
    assert all(int(q[3]) > 0 for q in quality.values()), "tokens per evaluated row"
    runs = autolog.Client(uri).store.search_runs(None, "tags.`mlflow.runType` = 'genai_evaluate'", None, 10)
    assert len(runs) == 2 and all(r.data.metrics["helpful/mean"] > 0 for r in runs)

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
