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

    # The comparison: the demo prints the commands; run them as a user would.
    assert "Is support-bot v2 better than support-bot v1?" in out.stdout
    compare_line = next(line for line in out.stdout.splitlines() if "autolog versions compare" in line)
    runs_line = next(line for line in out.stdout.splitlines() if "autolog runs compare" in line)
    model_a, model_b = compare_line.split()[3:5]
    candidate, baseline = runs_line.split()[3:5]
    listed = _cli("versions", "list", "--tracking-uri", uri, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    listing = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[2:]}
    assert set(listing) == {model_a, model_b} and listing[model_a][1:3] == ["support-bot", "v1"]
    # The recorded traces and the evaluation's (one per attempt: a 503 retried by evaluate is a trace too).
    stored = autolog.Client(uri).search_traces(model_id=model_a, max_results=1000)
    assert int(listing[model_a][5]) == len(stored) >= 24 + 12
    plot = tmp_path / "compare.png"
    compared = _cli("versions", "compare", model_a, model_b, "--tracking-uri", uri, "--plot", str(plot), cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    metrics = {line.split()[0]: line.split()[1:] for line in compared.stdout.splitlines()[2:] if line.strip()}
    assert metrics["traces"] == ["36", "36"] and float(metrics["cost_total"][1]) > float(metrics["cost_total"][0]) > 0
    assert metrics["helpful/n"] == ["12", "12"] and metrics["is_concise/mean"] == ["1", "0"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    gate = _cli("runs", "compare", candidate, baseline, "--tracking-uri", uri, "--fail-on-regression", cwd=tmp_path)
    assert gate.returncode == 1 and "regression: is_concise" in gate.stdout
    verdicts = {line.split()[0]: line.split()[-1] for line in gate.stdout.splitlines()[2:8]}
    assert verdicts["is_concise"] == "regressed" and verdicts["trace.cost"] == "regressed"
    unknown = _cli("runs", "compare", "no-such-run", baseline, "--tracking-uri", uri, cwd=tmp_path)
    assert unknown.returncode == 2 and "no-such-run" in unknown.stderr
