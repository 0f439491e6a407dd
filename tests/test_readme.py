"""The README runs as written: every Python and shell block is executed, and what it shows is what it does.

The Python blocks run in order in one fresh interpreter (as a reader pasting them into one session), in an
empty directory, with the real openai SDK, LangChain and LlamaIndex pointed at a loopback stand-in for
api.openai.com (``OPENAI_BASE_URL``). The command-line block runs line by line after ``autolog demo``, with
the ids the demo printed in place of the README's ``tr-...`` / ``m-...`` placeholders. A block is left out
only with a ``<!-- readme-test: skip: why -->`` marker, and the test below lists which may be.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from autolog import Trace
from tests.readme.blocks import README, Block, read_blocks
from tests.readme.fake_openai import FakeOpenAI, completion_usage
from tests.trees import parallel_branches_sorted, span_tree

REPO = README.parent
DRIVER = Path(__file__).resolve().parent / "readme" / "run_python_blocks.py"
BLOCKS = read_blocks()
PYTHON_BLOCKS = [b for b in BLOCKS if b.language == "python" and b.skip is None]
_TREE_CHARS = "│├└─ "


def _block(section: str, first_line: str, language: str = "python") -> Block:
    """The block of ``section`` whose code starts with ``first_line`` (so a reordered README fails here)."""
    found = [b for b in BLOCKS if b.section == section and b.language == language and b.code.startswith(first_line)]
    assert len(found) == 1, f"README: expected one {language} block in '{section}' starting {first_line!r}"
    return found[0]


def _shown_after(block: Block) -> Block:
    """The unlabelled block (output the README shows) that follows ``block``."""
    later = [b for b in BLOCKS if b.line > block.line]
    assert later and later[0].language == "", f"README:{block.line}: no shown output after this block"
    return later[0]


def _shown_tree(shown: Block) -> list[Any]:
    """``[(name, span_type, [children])]`` from a README tree drawn with │ ├── └── (four columns a level)."""
    roots: list[Any] = []
    stack: list[tuple[int, list[Any]]] = [(-1, roots)]
    for line in shown.code.splitlines():
        depth = (len(line) - len(line.lstrip(_TREE_CHARS))) // 4
        name, span_type = line.lstrip(_TREE_CHARS).split()[:2]
        while stack[-1][0] >= depth:
            stack.pop()
        node = (name, span_type, [])
        stack[-1][1].append(node)
        stack.append((depth, node[2]))
    return roots


def _environment(api: FakeOpenAI) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOLOG_", "MLFLOW_", "OPENAI_"))}
    spec = importlib.util.find_spec("llama_index.core")
    assert spec is not None and spec.origin is not None
    env.update(
        OPENAI_API_KEY="sk-readme-test", OPENAI_BASE_URL=api.base_url,
        OPENAI_API_BASE=api.base_url,  # LlamaIndex's OpenAI classes read this name
        # LlamaIndex's token splitter needs tiktoken's encoding: the copy LlamaIndex ships, never a download
        TIKTOKEN_CACHE_DIR=str(Path(spec.origin).parent / "_static" / "tiktoken_cache"),
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        PATH=os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")]),
        AUTOLOG_GENAI_EVAL_PROGRESS="0")
    return env


@pytest.fixture(scope="module")
def python_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every Python block once; per block (by line) its printed text and its new traces."""
    work = tmp_path_factory.mktemp("readme-python")
    (work / "blocks.json").write_text(json.dumps(
        [{"line": b.line, "code": b.code, "path": str(README)} for b in PYTHON_BLOCKS]))
    with FakeOpenAI() as api:
        proc = subprocess.run([sys.executable, str(DRIVER), "blocks.json", "report.json"], cwd=work,
                              env=_environment(api), capture_output=True, text=True, timeout=300)
        requests = list(api.requests)
    assert proc.returncode == 0, f"a README block failed:\n{proc.stderr}"
    report = json.loads((work / "report.json").read_text())
    assert [r["line"] for r in report] == [b.line for b in PYTHON_BLOCKS]
    return {"blocks": {r["line"]: {"stdout": r["stdout"], "traces": [Trace.from_json(t) for t in r["traces"]]}
                       for r in report}, "requests": requests, "stderr": proc.stderr}


def test_every_code_block_is_run_or_says_why_not() -> None:
    assert {b.language for b in BLOCKS} <= {"python", "bash", ""}, "a block in a language this test cannot run"
    skipped = [(b.section, b.language) for b in BLOCKS if b.skip is not None]
    assert skipped == [("Set-up", "bash"), ("Development", "bash")], skipped
    assert all(b.skip is None for b in BLOCKS if b.language == ""), "a skip marker on shown output means nothing"
    assert len(PYTHON_BLOCKS) >= 10


def test_every_python_block_runs(python_run: dict[str, Any]) -> None:
    assert set(python_run["blocks"]) == {b.line for b in PYTHON_BLOCKS}


def test_quick_start_records_the_trace_it_describes(python_run: dict[str, Any]) -> None:
    block = _block("Quick start: version tracking", "import autolog\nimport openai")
    (trace,) = python_run["blocks"][block.line]["traces"]
    assert span_tree(trace) == [("answer", "AGENT", [("retrieve", "RETRIEVER", []),
                                                     ("Completions", "CHAT_MODEL", [])])]
    info = trace.info
    assert info.state == "OK" and info.tags["channel"] == "web"
    assert info.trace_metadata["mlflow.trace.user"] == "u-1"
    assert info.trace_metadata["mlflow.trace.session"] == "s-42"
    assert info.trace_metadata["mlflow.modelId"].startswith("m-")
    (body,) = [b for path, b in python_run["requests"] if path.endswith("/chat/completions")
               and "How do I reset my password?" in json.dumps(b) and b.get("model") == "gpt-4o-mini"][:1]
    usage = completion_usage(body)
    assert info.token_usage == {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                                "total_tokens": usage["total_tokens"]}
    # the block prints the version's traces found by search_traces: this one
    assert info.trace_id in python_run["blocks"][block.line]["stdout"]


@pytest.mark.parametrize(("section", "first_line"), [("LangChain", "import autolog\nfrom langchain_core"),
                                                     ("LlamaIndex", "import autolog\nfrom llama_index")])
def test_framework_blocks_record_the_tree_the_readme_shows(python_run: dict[str, Any], section: str,
                                                         first_line: str) -> None:
    block = _block(section, first_line)
    traces = python_run["blocks"][block.line]["traces"]
    assert len(traces) == 1, f"README says 'records one trace' (indexing is suppressed); got {len(traces)}"
    (trace,) = traces
    assert parallel_branches_sorted(span_tree(trace)) == parallel_branches_sorted(_shown_tree(_shown_after(block)))
    root = next(s for s in trace.data.spans if s.parent_id is None)
    assert root.inputs in ("What do cats do?", {"str_or_query_bundle": "What do cats do?"})
    if section == "LangChain":
        assert root.outputs == "They purr."
        assert trace.info.trace_metadata["mlflow.trace.session"] == "conv-7"
        assert trace.info.trace_metadata["mlflow.trace.user"] == "u-42"
    assert trace.info.trace_metadata["mlflow.modelId"].startswith("m-")
    assert trace.info.token_usage and trace.info.token_usage["total_tokens"] > 0


def test_openai_blocks_record_one_trace_each(python_run: dict[str, Any]) -> None:
    for first_line in ("import autolog, openai", "msgs = "):
        block = _block("OpenAI", first_line)
        (trace,) = python_run["blocks"][block.line]["traces"]
        assert trace.info.state == "OK" and trace.info.token_usage, f"README:{block.line}"


def test_evaluation_block_evaluates_both_versions_with_the_judges(python_run: dict[str, Any]) -> None:
    block = _block("Evaluation: is the new version better?", "import autolog\nfrom autolog.genai import evaluate")
    out = python_run["blocks"][block.line]["stdout"]
    assert re.search(r"^bot v1 \{.*'exact_match/mean': 0\.0", out, re.M), out
    assert re.search(r"^bot v2 \{.*'exact_match/mean': 1\.0", out, re.M), out
    assert len(python_run["blocks"][block.line]["traces"]) == 4  # two rows, two versions
    judged = [b for path, b in python_run["requests"] if path.endswith("/chat/completions")
              and any('"result"' in str(m.get("content")) for m in b.get("messages", []))]
    assert len(judged) == 8  # Correctness and Guidelines, on four rows


def test_compare_block_prints_both_versions(python_run: dict[str, Any]) -> None:
    block = _block("Compare two versions", "from datetime import datetime")
    out = python_run["blocks"][block.line]["stdout"]
    assert "bot v1" in out and "bot v2" in out and "correctness/mean" in out


# --- the command-line block -------------------------------------------------------------------------------


def _demo_ids(stdout: str) -> dict[str, str]:
    """The ids `autolog demo` prints in its hints, for the README's placeholders."""
    trace_id = re.search(r"autolog traces show (tr-\w+)", stdout)
    versions = re.search(r"autolog versions compare (m-\w+) (m-\w+)", stdout)
    runs = re.search(r"autolog runs compare (\S+) (\S+) ", stdout)
    assert trace_id and versions and runs, stdout
    return {"tr-...": trace_id.group(1), "m-... m-...": f"{versions.group(1)} {versions.group(2)}",
            "CANDIDATE_RUN BASELINE_RUN": f"{runs.group(1)} {runs.group(2)}"}


def _cli_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOLOG_", "MLFLOW_"))}
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    assert shutil.which("autolog", path=env["PATH"]), "the autolog console script is not installed"
    return env


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory where the command-line block ran (``autolog demo`` first): its store, its plot."""
    work = tmp_path_factory.mktemp("readme-cli")
    block = _block("Command line", "autolog demo", language="bash")
    lines = [line for line in block.code.splitlines() if line.strip()]
    assert lines[0].startswith("autolog demo")
    env = _cli_environment()
    outputs = {}
    ids: dict[str, str] = {}
    for line in lines:
        command = line
        for placeholder, value in ids.items():
            command = command.replace(placeholder, value)
        assert "..." not in command.split("#")[0] and "_RUN" not in command.split("#")[0], command
        proc = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True,
                              timeout=120)
        outputs[line] = proc
        expected = 1 if "--fail-on-regression" in line else 0  # the README: the demo's versions regress
        assert proc.returncode == expected, f"README:{block.line}: {command}\n{proc.stdout}\n{proc.stderr}"
        if line is lines[0]:
            ids = _demo_ids(proc.stdout)
            assert "autolog ui --tracking-uri sqlite:///autolog-demo.db" in proc.stdout  # the demo's last hint
    errors = next(p for line, p in outputs.items() if "status = 'ERROR'" in line).stdout
    rows = [row for row in errors.splitlines() if row.startswith("tr-")]
    assert rows and all(" ERROR " in row for row in rows), errors
    assert re.search(r"^\d+ (of \d+ )?traces?\b", errors.splitlines()[-1]), errors
    shown = next(p for line, p in outputs.items() if line.startswith("autolog traces show")).stdout
    assert ids["tr-..."] in shown
    regression = next(p for line, p in outputs.items() if "--fail-on-regression" in line)
    assert "regressed" in regression.stdout + regression.stderr
    return work


def test_command_line_block_runs_as_written(demo_dir: Path) -> None:
    assert (demo_dir / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (demo_dir / "autolog-demo.db").exists() and not (demo_dir / "autolog.db").exists()


def test_web_ui_block_serves_the_demo_store(demo_dir: Path) -> None:
    """Each line starts the server as written; it answers the page and the demo's traces, then is stopped."""
    block = _block("Web UI", "autolog ui", language="bash")
    for line in (line for line in block.code.splitlines() if line.strip()):
        port = int(m.group(1)) if (m := re.search(r"--port (\d+)", line)) else 5000
        proc = subprocess.Popen(["bash", "-c", f"exec {line.split('#')[0]}"], cwd=demo_dir, env=_cli_environment(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith(f"autolog ui: http://127.0.0.1:{port}/"), f"README:{block.line}: {line}\n{first}"
            page = _get_when_up(f"http://127.0.0.1:{port}/")
            assert b"<html" in page.lower()
            listing = json.loads(_get_when_up(f"http://127.0.0.1:{port}/api/traces?max_results=5"))
            assert len(listing["traces"]) == 5 and listing["next_page_token"]
        finally:
            proc.terminate()
            proc.communicate(timeout=10)


def _get_when_up(url: str) -> bytes:
    for _ in range(100):  # uvicorn binds just after the first line is printed
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bytes(response.read())
        except (ConnectionRefusedError, urllib.error.URLError):
            time.sleep(0.1)
    raise AssertionError(f"{url}: the server never answered")


def test_labeling_block_queues_the_evaluation_rows(python_run: dict[str, Any]) -> None:
    block = _block("Web UI", "from autolog.genai import create_labeling_session")
    assert python_run["blocks"][block.line]["stdout"].strip() == (
        "{'total': 2, 'completed': 0, 'skipped': 0, 'pending': 2}")
