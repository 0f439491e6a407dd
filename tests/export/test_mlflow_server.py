"""A REAL MLflow tracking server (3.6+) as the tracking URI: traces, spans, usage, the version, a restart mid-burst.

MLflow is not installed in the project's environment (its pins would fight ours): the
server and the reading client run from a separate virtualenv, found through
``$AUTOLOG_MLFLOW_VENV`` (default ``../mlflow-venv`` beside the checkout) or ``mlflow`` on
the PATH. Without one, these tests skip and say how to make it::

    python3 -m venv ../mlflow-venv && ../mlflow-venv/bin/pip install 'mlflow>=3.6'
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog._export.mlflow_rest import MlflowServerModeError

ROOT = Path(__file__).resolve().parents[2]


def _mlflow_bin() -> Path | None:
    venv = os.environ.get("AUTOLOG_MLFLOW_VENV")
    candidates = [Path(venv) / "bin" / "mlflow"] if venv else []
    for candidate in [*candidates, ROOT.parent / "mlflow-venv" / "bin" / "mlflow"]:
        if candidate.is_file():
            return candidate
    found = shutil.which("mlflow")
    return Path(found) if found else None


MLFLOW = _mlflow_bin()
if MLFLOW is None and os.environ.get("AUTOLOG_REQUIRE_MLFLOW"):  # CI (.ci/run) installs it: fail, never skip
    raise RuntimeError("AUTOLOG_REQUIRE_MLFLOW is set but no MLflow virtualenv was found (AUTOLOG_MLFLOW_VENV="
                       f"{os.environ.get('AUTOLOG_MLFLOW_VENV')!r})")
pytestmark = pytest.mark.skipif(MLFLOW is None, reason=(
    "no MLflow virtualenv: python3 -m venv ../mlflow-venv && ../mlflow-venv/bin/pip install 'mlflow>=3.6' "
    "(or set AUTOLOG_MLFLOW_VENV)"))

READER = """
import json, sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
exp = mlflow.get_experiment_by_name(sys.argv[2])
traces = mlflow.search_traces(locations=[exp.experiment_id], return_type="list", max_results=10000)
models = mlflow.search_logged_models(experiment_ids=[exp.experiment_id], output_format="list")
print(json.dumps({
    "traces": [{"trace_id": t.info.trace_id, "state": str(t.info.state), "metadata": t.info.trace_metadata,
                "tags": t.info.tags, "token_usage": t.info.token_usage,
                "spans": sorted([[s.name, s.span_type, s.parent_id is None, s.get_attribute("mlflow.chat.tokenUsage")]
                                 for s in t.data.spans], key=lambda s: s[0])} for t in traces],
    "models": [{"model_id": m.model_id, "name": m.name, "status": str(m.status), "tags": m.tags} for m in models]},
    default=str))
"""


class MlflowServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert MLFLOW is not None
        with open(self.directory / "server.log", "ab") as log:  # the server writes to its own copy
            self.process = subprocess.Popen(
                [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{self.directory / 'mlflow.db'}",
                 "--default-artifact-root", str(self.directory / "artifacts"), "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1"], stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"mlflow server did not start: {(self.directory / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and its workers
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def read(self, experiment: str) -> dict[str, Any]:
        assert MLFLOW is not None
        done = subprocess.run([str(MLFLOW.parent / "python"), "-c", READER, self.uri, experiment],
                              capture_output=True, text=True, timeout=120, cwd=self.directory)
        assert done.returncode == 0, done.stderr[-3000:]
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mlflow_client(mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        autolog.Client]:
    monkeypatch.setenv("AUTOLOG_SPOOL_DIR", str(tmp_path / "spools"))
    client = autolog.configure(mlflow_server.uri, schedule_delay_millis=20)
    yield client
    autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)


def test_traces_spans_usage_and_the_version_reach_mlflow(mlflow_server: MlflowServer,
                                                         mlflow_client: autolog.Client) -> None:
    experiment = autolog.set_experiment("autolog-e2e")
    model = autolog.set_active_model(name="checkout-v7")
    assert autolog.get_logged_model(model.model_id).name == "checkout-v7"
    ids = []
    for i in range(3):
        with autolog.start_span("agent", span_type="AGENT") as root:
            root.set_inputs({"question": f"q{i}"})
            autolog.update_current_trace(tags={"env": "prod"}, session_id="s-1", user="ada")
            with autolog.start_span("ChatOpenAI", span_type="CHAT_MODEL") as chat:
                chat.set_inputs({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"q{i}"}]})
                chat.set_attributes({"mlflow.chat.tokenUsage": {"input_tokens": 10 + i, "output_tokens": 2,
                                                                "total_tokens": 12 + i}})
                chat.set_outputs({"choices": [{"message": {"role": "assistant", "content": "a"}}]})
            with autolog.start_span("search", span_type="TOOL"):
                pass
        ids.append(autolog.get_last_active_trace_id())
    assert mlflow_client.flush(30)
    seen = mlflow_server.read("autolog-e2e")
    assert sorted(t["trace_id"] for t in seen["traces"]) == sorted(ids)
    for trace in seen["traces"]:
        i = ids.index(trace["trace_id"])
        assert trace["state"].endswith("OK")
        assert trace["spans"] == [
            ["ChatOpenAI", "CHAT_MODEL", False, {"input_tokens": 10 + i, "output_tokens": 2, "total_tokens": 12 + i}],
            ["agent", "AGENT", True, None], ["search", "TOOL", False, None]]
        assert trace["token_usage"] == {"input_tokens": 10 + i, "output_tokens": 2, "total_tokens": 12 + i}
        assert trace["metadata"]["mlflow.modelId"] == model.model_id  # MLflow's own OTLP path loses it (#19406)
        assert trace["metadata"]["mlflow.trace.session"] == "s-1" and trace["metadata"]["mlflow.trace.user"] == "ada"
        assert trace["tags"]["env"] == "prod" and trace["tags"]["mlflow.traceName"] == "agent"
    assert [(m["model_id"], m["name"], m["status"]) for m in seen["models"]] == [
        (model.model_id, "checkout-v7", "READY")]
    assert seen["models"][0]["tags"]["mlflow.model.isExternal"] == "true"
    assert experiment.experiment_id != "0"
    dest = autolog.stats()["destinations"][mlflow_server.uri]
    assert dest["exported"] == 3 and dest["spooled"] == 0


def test_reads_say_to_use_the_mlflow_client(mlflow_client: autolog.Client) -> None:
    with pytest.raises(MlflowServerModeError, match=r"mlflow\.search_traces"):
        autolog.search_traces(return_type="list")
    with pytest.raises(MlflowServerModeError, match="MLflow server"):
        autolog.get_trace("tr-" + "0" * 32)


def test_a_server_restart_mid_burst_loses_and_repeats_nothing(mlflow_server: MlflowServer,
                                                               mlflow_client: autolog.Client) -> None:
    autolog.set_experiment("autolog-restart")
    ids = []

    def burst(n: int) -> None:
        for i in range(n):
            with autolog.start_span(f"t{len(ids)}", span_type="CHAIN") as root:
                root.set_inputs({"i": i})
                with autolog.start_span("child", span_type="LLM"):
                    pass
            ids.append(autolog.get_last_active_trace_id())

    burst(100)
    mlflow_server.stop()  # while some of the burst is still on its way
    burst(100)
    assert autolog.stats()["destinations"][mlflow_server.uri]["dropped"] == 0
    mlflow_server.start()
    burst(50)
    # Live traffic is what finds the server back (a probe every 2 s), and a batch that gets through
    # replays the spool at once instead of at the spool's next backoff (up to 30 s).
    deadline = time.monotonic() + 30
    while autolog.stats()["destinations"][mlflow_server.uri]["replayed"] == 0 and time.monotonic() < deadline:
        burst(1)
        time.sleep(0.1)
    assert mlflow_client.flush(60)
    seen = mlflow_server.read("autolog-restart")
    got = [t["trace_id"] for t in seen["traces"]]
    assert len(got) == len(set(got)) == len(ids) and set(got) == set(ids), "every trace exactly once"
    assert all(len(t["spans"]) == 2 for t in seen["traces"]), "no span lost or repeated"
    dest = autolog.stats()["destinations"][mlflow_server.uri]
    assert dest["dropped"] == 0 and dest["quarantined"] == 0 and dest["spooled"] > 0
    assert dest["exported"] + dest["replayed"] >= len(ids)
