"""The command line and the ui server's API read a PostgreSQL store as they read SQLite."""

from __future__ import annotations

import contextlib
import io

from fastapi.testclient import TestClient

import autolog
from autolog._server.app import create_app
from autolog.cli import main


def _record(uri: str) -> str:
    autolog.configure(uri)
    model = autolog.create_external_model(name="bot")

    @autolog.trace(span_type="AGENT")
    def answer(question: str) -> str:
        autolog.update_current_trace(tags={"channel": "web"})
        return "yes"

    with autolog.set_active_model(model_id=model.model_id):
        answer("is it <b>bold</b>?")
    assert autolog.flush()
    return model.model_id


def test_cli_and_api_on_each_backend(backend_uri: str) -> None:
    model_id = _record(backend_uri)
    (trace,) = autolog.search_traces(return_type="list")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["traces", "list", "--tracking-uri", backend_uri, "--filter", "tags.channel = 'web'"]) == 0
    assert trace.info.trace_id in out.getvalue() and out.getvalue().rstrip().endswith("1 trace")
    with TestClient(create_app(backend_uri)) as api:  # leaving it shuts the app's own client down
        _check_api(api, trace.info.trace_id, model_id)


def _check_api(api: TestClient, trace_id: str, model_id: str) -> None:
    page = api.get("/api/traces", params={"filter": "tags.channel = 'web'"}).json()
    assert [(r["trace_id"], r["model_id"], r["model_name"]) for r in page["traces"]] == [
        (trace_id, model_id, "bot")]
    detail = api.get(f"/api/traces/{trace_id}").json()
    assert [(s["name"], s["span_type"]) for s in detail["spans"]] == [("answer", "AGENT")]
    versions = api.get("/api/versions").json()
    assert [(v["model_id"], v["traces"]) for v in versions] == [(model_id, 1)]
