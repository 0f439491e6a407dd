"""``autolog ui`` as a user starts it: a real uvicorn server in a subprocess, on a loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import autolog
from tests.serving import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'ui.db'}"
    autolog.configure(uri)

    @autolog.trace
    def hello(name: str) -> str:
        return f"hi {name}"

    hello("ada")
    assert autolog.flush()
    return uri


@contextmanager
def _ui(*args: str, token: str | None = None, stderr: list[str] | None = None) -> Iterator[str]:
    """Run ``autolog ui ARGS`` until the block ends; yields its first line; its stderr is appended to ``stderr``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOLOG_", "MLFLOW_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if token:
        env["AUTOLOG_UI_TOKEN"] = token
    proc = subprocess.Popen([sys.executable, "-m", "autolog", "ui", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the app is built, before uvicorn binds
        assert first.startswith("autolog ui: http://"), first + (proc.stderr.read() if proc.poll() else "")
        yield first
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)  # also closes the pipes
        if stderr is not None:
            stderr.append(err)


def _get(url: str, token: str | None = None, attempts: int = 100) -> tuple[int, bytes]:
    """GET, retrying while uvicorn is still binding (connection refused)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (ConnectionRefusedError, urllib.error.URLError):
            time.sleep(0.1)
    raise AssertionError(f"{url}: the server never answered")


def test_ui_serves_the_page_and_the_api_on_loopback(store: str) -> None:
    port = free_port()
    with _ui("--tracking-uri", store, "--port", str(port)) as first:
        assert first.strip().startswith(f"autolog ui: http://127.0.0.1:{port}/")
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and b"<html" in page.lower()
        status, body = _get(f"http://127.0.0.1:{port}/api/traces")
        assert status == 200
        assert [row["name"] for row in json.loads(body)["traces"]] == ["hello"]
        status, body = _get(f"http://127.0.0.1:{port}/openapi.json")
        assert status == 200 and "/api/traces" in json.loads(body)["paths"]


def test_ui_with_a_token_refuses_api_requests_without_it(store: str) -> None:
    port = free_port()
    with _ui("--tracking-uri", store, "--port", str(port), token="s3cret") as first:
        assert "token required" in first
        assert _get(f"http://127.0.0.1:{port}/api/traces")[0] == 401
        assert _get(f"http://127.0.0.1:{port}/api/traces", token="wrong")[0] == 401
        assert _get(f"http://127.0.0.1:{port}/api/traces", token="s3cret")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/")[0] == 200  # the page that asks for the token


def test_ui_off_loopback_without_a_token_warns(store: str) -> None:
    port = free_port()
    stderr: list[str] = []
    with _ui("--tracking-uri", store, "--host", "0.0.0.0", "--port", str(port), stderr=stderr):
        assert _get(f"http://127.0.0.1:{port}/api/traces")[0] == 200
    assert "WARNING: serving on 0.0.0.0 without $AUTOLOG_UI_TOKEN" in stderr[0]


def test_ui_refuses_a_store_that_does_not_exist(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "autolog", "ui", "--tracking-uri", f"sqlite:///{tmp_path}/none.db"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2 and "no store at" in proc.stderr
    assert not (tmp_path / "none.db").exists()
