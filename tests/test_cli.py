"""The command line: the demo, and trace list/search/show, run as a user would."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog import Trace
from autolog.cli import main

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

    errors = _cli("traces", "list", "--tracking-uri", uri, "--filter", "status = 'ERROR'", cwd=tmp_path)
    assert errors.returncode == 0, errors.stderr
    error_rows = _table_rows(errors.stdout)
    stored_errors = autolog.Client(uri).search_traces(filter_string="status = 'ERROR'", max_results=1000)
    assert len(error_rows) == min(len(stored_errors), 20) > 0
    assert all(r["state"] == "ERROR" and r["version"] in ("support-bot v1", "support-bot v2") for r in error_rows)
    total = f"{len(stored_errors)} trace{'s' if len(stored_errors) > 1 else ''}"
    assert errors.stdout.splitlines()[-1] == (total if len(stored_errors) <= 20 else
                                              f"20 of {len(stored_errors)} traces (--max-results N for more)")

    trace_id = error_rows[0]["trace_id"]
    shown = _cli("traces", "show", trace_id, "--tracking-uri", uri, cwd=tmp_path)
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


# -- autolog traces list|search|show, in-process on a store written by the test --------------------------------

USAGE = {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}


def _table_rows(stdout: str) -> list[dict[str, str]]:
    """The listing's rows by column, cut where the rule under the header has its gaps (cells hold spaces)."""
    lines = stdout.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[rule])]
    spans[-1] = (spans[-1][0], 10_000)  # the last column is not padded
    names = [lines[rule - 1][a:b].strip() for a, b in spans]
    return [{n: line[a:b].strip() for n, (a, b) in zip(names, spans, strict=True)}
            for line in lines[rule + 1:] if line.startswith("tr-")]


def _record(name: str, *, tokens: bool = False, fail: bool = False, tags: dict[str, str] | None = None) -> None:
    try:
        with autolog.start_span(name, span_type="AGENT"):
            if tags:
                autolog.update_current_trace(tags=tags)
            if tokens:
                with autolog.start_span("llm", span_type="LLM") as llm:
                    llm.set_attribute("mlflow.chat.tokenUsage", USAGE)
            if fail:
                raise RuntimeError("boom")
    except RuntimeError:
        pass


@pytest.fixture
def uri(store: autolog.Client) -> str:
    """A store of 12 traces: 7 of "bot v1" (2 failed), 4 of "bot v2" (tagged prod), 1 of no version."""
    v1 = autolog.create_external_model(name="bot v1")
    v2 = autolog.create_external_model(name="bot v2")
    with autolog.set_active_model(model_id=v1.model_id):
        for i in range(7):
            _record(f"ask-{i}", tokens=i < 5, fail=i >= 5)
    with autolog.set_active_model(model_id=v2.model_id):
        for i in range(4):
            _record(f"ask-v2-{i}", tokens=True, tags={"env": "prod"})
    _record("unversioned")
    assert autolog.flush(10)
    return store.tracking_uri


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _stored(uri: str, **search: Any) -> list[Trace]:
    return autolog.Client(uri).search_traces(max_results=10_000, **search)


def _version_of(uri: str, trace_name: str) -> str:
    return str(_stored(uri, filter_string=f"name = '{trace_name}'")[0].info.trace_metadata["mlflow.modelId"])


def test_plain_traces_list_and_search_are_one_listing(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = {}
    for command in (["traces"], ["traces", "list"], ["traces", "search"]):
        code, out, err = _run(capsys, *command, "--tracking-uri", uri, "--filter", "status = 'OK'")
        assert code == 0, err
        outputs[command[-1]] = out
    assert outputs["traces"] == outputs["list"] == outputs["search"]
    expected = [t.info.trace_id for t in _stored(uri, filter_string="status = 'OK'")]
    assert [r["trace_id"] for r in _table_rows(outputs["list"])] == expected and len(expected) == 10
    assert outputs["list"].splitlines()[-1] == "10 traces"


def test_options_given_before_the_sub_command_are_kept(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, before, _ = _run(capsys, "traces", "--tracking-uri", uri, "--filter", "tags.env = 'prod'", "list")
    _, after, _ = _run(capsys, "traces", "list", "--tracking-uri", uri, "--filter", "tags.env = 'prod'")
    assert before == after and len(_table_rows(before)) == 4


def test_the_footer_counts_every_match_of_a_truncated_listing(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "traces", "list", "--tracking-uri", uri, "--max-results", "3")
    assert code == 0 and len(_table_rows(out)) == 3
    assert out.splitlines()[-1] == f"3 of {len(_stored(uri))} traces (--max-results N for more)"
    model_id = _version_of(uri, "ask-0")
    _, out, _ = _run(capsys, "traces", "--tracking-uri", uri, "--model-id", model_id, "--filter", "status = 'OK'",
                     "--max-results", "2")
    matching = _stored(uri, model_id=model_id, filter_string="status = 'OK'")
    assert len(matching) == 5 and out.splitlines()[-1] == "2 of 5 traces (--max-results N for more)"


def test_a_complete_listing_says_how_many_and_no_match_says_so(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "traces", "list", "--tracking-uri", uri, "--max-results", "12")
    assert len(_table_rows(out)) == 12 == len(_stored(uri)) and out.splitlines()[-1] == "12 traces"
    _, out, _ = _run(capsys, "traces", "list", "--tracking-uri", uri, "--filter", "name = 'unversioned'")
    assert out.splitlines()[-1] == "1 trace"
    code, out, err = _run(capsys, "traces", "search", "--tracking-uri", uri, "--filter", "status = 'NOPE'")
    assert (code, out, err) == (0, "no traces match --filter \"status = 'NOPE'\"\n", "")
    _, out, _ = _run(capsys, "traces", "list", "--tracking-uri", uri, "--json", "--max-results", "3")
    assert [json.loads(line)["info"]["trace_id"] for line in out.splitlines()] == \
        [t.info.trace_id for t in _stored(uri)[:3]]  # JSON only: no footer


def test_the_store_counts_what_the_search_finds(uri: str) -> None:
    client = autolog.Client(uri)
    model_id = _version_of(uri, "ask-v2-0")
    for search in ({}, {"filter_string": "status = 'ERROR'"}, {"filter_string": "span.type = 'LLM'"},
                   {"model_id": model_id}, {"model_id": model_id, "filter_string": "status = 'ERROR'"},
                   {"experiment_ids": ["0"]}, {"experiment_ids": ["999"]}):
        assert client.count_traces(**search) == len(_stored(uri, **search)), search
    assert client.count_traces(filter_string="status = 'ERROR'") == 2 and client.count_traces() == 12
    assert client.store.count_traces() == 12


def test_the_version_column_names_the_logged_model(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "traces", "list", "--tracking-uri", uri)
    rows = {r["name"]: r for r in _table_rows(out)}
    assert {rows[f"ask-{i}"]["version"] for i in range(7)} == {"bot v1"}
    assert {rows[f"ask-v2-{i}"]["version"] for i in range(4)} == {"bot v2"}
    assert rows["unversioned"]["version"] == ""
    assert rows["ask-0"]["tokens"] == "7" and rows["ask-6"]["tokens"] == "" and rows["ask-6"]["state"] == "ERROR"
    assert rows["ask-v2-0"]["tags"] == '{"env": "prod"}'
    assert max(len(line) for line in out.splitlines()) <= 150
    # A version whose LoggedModel is gone (traces imported from another store) shows its id.
    gone = _version_of(uri, "ask-v2-0")
    with sqlite3.connect(autolog.Client(uri).store.path) as conn:
        for table in ("logged_model_tags", "logged_model_params", "logged_model_metrics", "logged_models"):
            conn.execute(f"DELETE FROM {table} WHERE model_id = ?", (gone,))
    _, out, _ = _run(capsys, "traces", "list", "--tracking-uri", uri)
    assert {r["version"] for r in _table_rows(out) if r["name"].startswith("ask-v2-")} == {gone}


def test_show_prints_one_trace(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    trace_id = _stored(uri, filter_string="name = 'ask-0'")[0].info.trace_id
    code, tree, _ = _run(capsys, "traces", "show", trace_id, "--tracking-uri", uri)
    assert code == 0 and tree.startswith(f"trace {trace_id}  state=OK")
    assert f"  mlflow.modelId = {_version_of(uri, 'ask-0')} (bot v1)\n" in tree
    assert "- ask-0 (AGENT)" in tree and "  - llm (LLM)" in tree and '"total_tokens": 7' in tree
    _, older_form, _ = _run(capsys, "traces", "--tracking-uri", uri, "show", trace_id)
    assert older_form == tree
    _, as_json, _ = _run(capsys, "traces", "show", trace_id, "--json", "--tracking-uri", uri)
    assert json.loads(as_json)["info"]["trace_id"] == trace_id
    code, out, err = _run(capsys, "traces", "show", "tr-00000000000000000000000000000000", "--tracking-uri", uri)
    assert code == 2 and out == "" and "tr-00000000000000000000000000000000" in err


def test_a_bad_order_by_is_named_so(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    for order_by in ("nope DESC", "execution_time_ms SIDEWAYS"):
        code, out, err = _run(capsys, "traces", "list", "--tracking-uri", uri, "--order-by", order_by)
        assert code == 2 and out == "", order_by
        assert err.startswith("autolog: Invalid order_by at position") and "Invalid filter" not in err, err
    code, _, err = _run(capsys, "traces", "--tracking-uri", uri, "--filter", "tags.x = ")
    assert code == 2 and "Invalid filter at position" in err


@pytest.mark.parametrize("args, message", [
    (["traces", "lst"], "invalid choice: 'lst' (choose from 'list', 'search', 'show')"),
    (["traces", "show"], "the following arguments are required: TRACE_ID"),
    (["traces", "list", "--max-results", "0"], "--max-results: must be a positive integer, got 0"),
])
def test_a_wrong_command_line_is_an_argparse_error(args: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("command", [["demo"], ["traces"], ["traces", "list"], ["traces", "search"],
                                     ["traces", "show"], ["versions", "list"], ["versions", "compare"],
                                     ["runs", "compare"]])
def test_every_option_says_its_default(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    helped = capsys.readouterr().out
    options = helped.split("options:")[1].split("\n\n")[0]
    entries = re.split(r"\n  (?=-)", options)[1:]  # one per option, its help wrapped over lines
    assert len(entries) >= 2 and entries[0].startswith("-h, --help")
    for entry in entries[1:]:
        assert "(default: " in " ".join(entry.split()), entry
    if command[0] == "traces" and command[-1] != "show":
        assert "(default: 20)" in " ".join(helped.split())


def test_python_m_autolog_traces_list(uri: str, tmp_path: Path) -> None:
    out = _cli("traces", "list", "--tracking-uri", uri, "--max-results", "5", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(_table_rows(out.stdout)) == 5 and out.stdout.endswith("5 of 12 traces (--max-results N for more)\n")
