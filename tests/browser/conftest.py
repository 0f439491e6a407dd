"""Browser tests of the ``autolog ui`` web pages: a seeded store, the app on a loopback port, Debian's Chromium.

The store is seeded once per session with the fluent API (versions, nested spans, chat messages, a retriever, an
error, a ``<script>`` input, two evaluated versions, a labeling session, a 30,000-span trace); the server runs
uvicorn in a thread. Pages are opened with Playwright's sync API.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import playwright.sync_api as sync_api
import pytest

import autolog
from autolog import SpanType
from autolog._tracing import versions as _versions
from tests.serving import Served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# The README's screenshots: every run takes them (a page that cannot be drawn fails), but only
# AUTOLOG_UPDATE_SCREENSHOTS=1 writes them over the committed ones in docs/, so a test run leaves the tree clean.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
XSS = "<script>window.__xss = 1; alert(1)</script><img src=x onerror=\"window.__xss = 2\">"
BIG_SPANS = 30_000

if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    # CI (.ci/run installs Chromium and sets AUTOLOG_REQUIRE_BROWSER) fails here rather than skipping
    if os.environ.get("AUTOLOG_REQUIRE_BROWSER"):
        raise RuntimeError("the browser tests need Debian's chromium at /usr/bin/chromium: apt-get install -y chromium")
    pytest.skip("no Chromium at /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)


@dataclass
class Seeded:
    client: autolog.Client
    uri: str
    ids: dict[str, str] = field(default_factory=dict)   # name -> trace id
    models: dict[str, str] = field(default_factory=dict)  # version name -> model id
    runs: dict[str, str] = field(default_factory=dict)  # version name -> evaluation run id
    labeling_session_id: str | None = None


def _seed(tmp: Path) -> Seeded:
    uri = f"sqlite:///{tmp / 'ui.db'}"
    client = autolog.configure(uri, schedule_delay_millis=20)
    _versions._global_model_id = _versions._UNSET
    _versions._ACTIVE_MODEL_ID.set(_versions._UNSET)
    autolog.set_experiment("ui-tests")
    seeded = Seeded(client, uri)
    for name, temperature in [("bot v1", "0.7"), ("bot v2", "0.2")]:
        seeded.models[name] = autolog.create_external_model(name=name, params={"temperature": temperature},
                                                            tags={"team": "support"}).model_id

    @autolog.trace(span_type=SpanType.RETRIEVER)
    def retrieve(question: str) -> list[dict[str, Any]]:
        time.sleep(0.003)
        return [{"page_content": "Use 'Forgot password' on the sign-in page.", "metadata": {"doc_uri": "kb/1"}},
                {"page_content": "Passwords expire after 90 days.", "metadata": {"doc_uri": "kb/2"}}]

    @autolog.trace(name="chat", span_type=SpanType.CHAT_MODEL)
    def chat(messages: list[dict[str, str]]) -> dict[str, Any]:
        time.sleep(0.01)
        span = autolog.get_current_active_span()
        span.set_attributes({"mlflow.llm.model": "gpt-4o-mini", "mlflow.chat.tokenUsage": {
            "input_tokens": 40, "output_tokens": 12, "total_tokens": 52}})
        return {"choices": [{"message": {"role": "assistant", "content": f"Answer to: {messages[-1]['content']}"}}]}

    @autolog.trace(name="support_bot", span_type=SpanType.AGENT)
    def answer(question: str, session: str = "session-1") -> str:
        autolog.update_current_trace(tags={"channel": "web"}, user="alice", session_id=session)
        docs = retrieve(question)
        with autolog.start_span("format", span_type=SpanType.PARSER) as span:
            span.set_inputs({"long_notes": "notes " * 200})
            span.set_outputs("\n".join(d["page_content"] for d in docs))
        reply = chat([{"role": "system", "content": "Answer from the notes."}, {"role": "user", "content": question}])
        return reply["choices"][0]["message"]["content"]

    @autolog.trace(name="failing_bot")
    def failing(question: str) -> str:
        raise ValueError("the model is overloaded")

    @autolog.trace(name="echo")
    def echo(text: str) -> str:
        return text

    _evaluate(seeded)  # first, so the application's traces are the newest rows
    seeded.ids["big"] = _big_trace(client)
    autolog.set_active_model(model_id=seeded.models["bot v1"])
    answer("How do I reset my password?")
    seeded.ids["chat"] = autolog.get_last_active_trace_id()
    answer("Where is my invoice?", session="session-2")
    with pytest.raises(ValueError):
        failing("Why was my card declined?")
    seeded.ids["error"] = autolog.get_last_active_trace_id()
    autolog.set_active_model(model_id=seeded.models["bot v2"])
    answer("Can I change my plan?")
    echo(XSS)
    seeded.ids["xss"] = autolog.get_last_active_trace_id()
    _versions._global_model_id = _versions._UNSET
    _versions._ACTIVE_MODEL_ID.set(_versions._UNSET)
    _labeling(seeded)
    assert autolog.flush() is True
    return seeded


def _big_trace(client: autolog.Client) -> str:
    """A trace of BIG_SPANS spans: 300 steps under the root, each with 99 tool calls (made with the Client API).

    Spans end through their LiveSpan: ``Client.end_span`` looks the span up by a linear scan of the trace."""
    root = client.start_trace("big_agent", span_type=SpanType.AGENT, inputs={"task": "many steps"})
    t = root.start_time_ns
    made = 1
    for step in range(300):
        parent = client.start_span(f"step {step}", root.trace_id, root.span_id, SpanType.CHAIN, start_time_ns=t)
        for call in range(99 if made + 100 <= BIG_SPANS else BIG_SPANS - made - 1):
            child = client.start_span(f"tool {step}.{call}", root.trace_id, parent.span_id, SpanType.TOOL,
                                      inputs={"n": call}, start_time_ns=t)
            t += 1_000
            child.end(outputs=call, end_time_ns=t)
            made += 1
        parent.end(end_time_ns=t)
        made += 1
    client.end_trace(root.trace_id, outputs="done", end_time_ns=t + 1_000)
    return root.trace_id


QA = [("How do I reset my password?", "Use 'Forgot password'."), ("Where is my invoice?", "Billing > History."),
      ("Can I change my plan?", "Billing > Plan."), ("Is there an API?", "Yes."),
      ("Do you support SSO?", "On Enterprise."),
      ("How do I cancel?", "Billing > Plan > Cancel."), ("Can I get a refund?", "Within 30 days."),
      ("How do I add a teammate?", "Team > Invite."), ("What are your support hours?", "24/7."),
      ("How do I export my data?", "Settings > Data > Export."), ("Why was my card declined?", "Ask your bank."),
      ("How do I delete my account?", "Settings > Account > Delete.")]


def _evaluate(seeded: Seeded) -> None:
    """Both versions on the same 12 rows: v2 is right more often (improved) and never polite (regressed)."""
    from autolog.genai import evaluate, scorer
    from autolog.genai.scorers import ExactMatch

    data = [{"inputs": {"question": q}, "expectations": {"expected_response": a}} for q, a in QA]
    answers = dict(QA)

    @scorer
    def polite(outputs: str) -> bool:
        return "please" in outputs.lower()

    def bot_v1(question: str) -> str:
        time.sleep(0.004 + 0.002 * (len(question) % 5))
        return "Please contact our support team about that."

    def bot_v2(question: str) -> str:
        time.sleep(0.001 + 0.001 * (len(question) % 3))
        return answers[question]

    for name, app in [("bot v1", bot_v1), ("bot v2", bot_v2)]:
        result = evaluate(data, scorers=[ExactMatch(), polite], predict_fn=app, model_id=seeded.models[name],
                          run_name=f"eval {name}", progress=False)
        seeded.runs[name] = result.run_id


def _labeling(seeded: Seeded) -> None:
    from autolog.genai import label_schemas, labeling

    label_schemas.create_label_schema("correct", type="feedback", input=label_schemas.InputPassFail(),
                                      instruction="Is the answer right?", enable_comment=True)
    label_schemas.create_label_schema("tone", type="feedback",
                                      input=label_schemas.InputCategorical(["formal", "casual"]))
    session = labeling.create_labeling_session("review", traces=[seeded.ids["chat"], seeded.ids["error"]],
                                               schemas=["correct", "tone"])
    seeded.labeling_session_id = session.labeling_session_id


@pytest.fixture(scope="package")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return _seed(tmp_path_factory.mktemp("ui"))


@pytest.fixture(autouse=True)
def store(seeded: Seeded, server: Served) -> Iterator[autolog.Client]:
    """Replaces the per-test store of tests/conftest.py: every browser test reads the one served store."""
    if autolog.client.get_default_client() is not seeded.client:  # a test of another module re-configured autolog
        seeded.client = autolog.configure(seeded.uri, schedule_delay_millis=20)
        server.app.state.client = seeded.client
    yield seeded.client
    assert seeded.client.flush(10)


@pytest.fixture(scope="package")
def server(seeded: Seeded) -> Iterator[Served]:
    from autolog._server.app import create_app

    served = Served(create_app(client=seeded.client))
    yield served
    served.stop()


# Package scope, not session: Playwright's sync API keeps an event loop running on the main thread while it is
# open, and later tests of the suite call asyncio.run(), which refuses to start inside a running loop.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A fresh browser page that records dialogs and page errors (an XSS would show up in either)."""

    def __init__(self, browser: Any, base: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.base = base
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, hash_: str) -> Any:
        self.page.goto(f"{self.base}/#/{hash_}")
        return self.page

    def shot(self, name: str) -> None:
        png = self.page.screenshot(full_page=False)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000, f"screenshot {name}: not a drawn page"
        if os.environ.get("AUTOLOG_UPDATE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (DOCS_SCREENSHOTS / f"{name}.png").write_bytes(png)


@pytest.fixture
def ui(browser: Any, server: Served) -> Iterator[Page]:
    page = Page(browser, server.url)
    yield page
    page.context.close()
    assert not page.errors, f"the page raised: {page.errors}"
