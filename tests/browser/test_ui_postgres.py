"""The ``autolog ui`` pages in Chromium over a PostgreSQL store (a throw-away server, tests/store/pg_server.py).

The module seeds its own PostgreSQL database with the fluent API (two versions, nested spans, tags, an error, an
evaluation of each version, a labeling session) and serves it as the browser conftest serves SQLite; what a page
shows is compared with what the store holds, and what a page records is read back from PostgreSQL by a new Client.
It skips without PostgreSQL's binaries (unless AUTOLOG_REQUIRE_POSTGRES=1) or Chromium (the conftest's rule).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import expect

import autolog
from autolog import SpanType
from autolog._tracing import versions as _versions
from tests.browser.conftest import Page
from tests.serving import Served
from tests.store.conftest import pg_server  # noqa: F401  (the session's throw-away PostgreSQL server)
from tests.store.pg_server import PgServer

expect.set_options(timeout=10_000)

QA = [("How do I reset my password?", "Use 'Forgot password'."), ("Where is my invoice?", "Billing > History."),
      ("Can I change my plan?", "Billing > Plan."), ("Is there an API?", "Yes."), ("Do you support SSO?", "Yes."),
      ("How do I cancel?", "Billing > Cancel."), ("Can I get a refund?", "Within 30 days."),
      ("What are your hours?", "24/7.")]  # 8 pairs: a paired test needs 6 to give a verdict
QUESTION = "Is <b>bold</b> & 'quoted' text shown as text?"


@dataclass
class PgSeeded:
    client: autolog.Client
    uri: str
    ids: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    labeling_session_id: str = ""


def _reset_active_model() -> None:
    _versions._global_model_id = _versions._UNSET
    _versions._ACTIVE_MODEL_ID.set(_versions._UNSET)


def _seed(uri: str) -> PgSeeded:
    from autolog.genai import evaluate, label_schemas, labeling, scorer
    from autolog.genai.scorers import ExactMatch

    client = autolog.configure(uri, schedule_delay_millis=20)
    _reset_active_model()
    autolog.set_experiment("ui-postgres")
    seeded = PgSeeded(client, uri)
    for name, temperature in [("pg v1", "0.7"), ("pg v2", "0.2")]:
        seeded.models[name] = autolog.create_external_model(name=name, params={"temperature": temperature},
                                                            tags={"store": "postgres"}).model_id

    @scorer
    def polite(outputs: str) -> bool:
        return "please" in outputs.lower()

    answers = dict(QA)
    data = [{"inputs": {"question": q}, "expectations": {"expected_response": a}} for q, a in QA]
    for name, app in [("pg v1", lambda question: "Please ask support."), ("pg v2", lambda question: answers[question])]:
        seeded.runs[name] = evaluate(data, scorers=[ExactMatch(), polite], predict_fn=app,
                                     model_id=seeded.models[name], run_name=f"eval {name}", progress=False).run_id

    @autolog.trace(span_type=SpanType.RETRIEVER)
    def retrieve(question: str) -> list[dict[str, Any]]:
        return [{"page_content": "Use 'Forgot password' on the sign-in page.", "metadata": {"doc_uri": "kb/1"}}]

    @autolog.trace(name="chat", span_type=SpanType.CHAT_MODEL)
    def chat(messages: list[dict[str, str]]) -> dict[str, Any]:
        time.sleep(0.002)
        autolog.get_current_active_span().set_attributes({"mlflow.llm.model": "gpt-4o-mini", "mlflow.chat.tokenUsage": {
            "input_tokens": 10 * len(messages[-1]["content"]), "output_tokens": 5, "total_tokens": 10 * len(
                messages[-1]["content"]) + 5}})
        return {"choices": [{"message": {"role": "assistant", "content": f"Answer to: {messages[-1]['content']}"}}]}

    @autolog.trace(name="support_bot", span_type=SpanType.AGENT)
    def answer(question: str, environment: str) -> str:
        autolog.update_current_trace(tags={"environment": environment}, user="alice", session_id="pg-session")
        docs = retrieve(question)
        with autolog.start_span("format", span_type=SpanType.PARSER) as span:
            span.set_inputs({"docs": len(docs)})
            span.set_outputs(docs[0]["page_content"])
        messages = [{"role": "system", "content": "Answer from the notes."}, {"role": "user", "content": question}]
        return str(chat(messages)["choices"][0]["message"]["content"])

    @autolog.trace(name="failing_bot")
    def failing(question: str) -> str:
        autolog.update_current_trace(tags={"environment": "prod"})
        raise ValueError("the model is overloaded")

    autolog.set_active_model(model_id=seeded.models["pg v1"])
    answer(QUESTION, "prod")
    seeded.ids["chat"] = autolog.get_last_active_trace_id()
    answer("Where is my invoice?", "staging")
    seeded.ids["staging"] = autolog.get_last_active_trace_id()
    with pytest.raises(ValueError):
        failing("Why was my card declined?")
    seeded.ids["error"] = autolog.get_last_active_trace_id()
    autolog.set_active_model(model_id=seeded.models["pg v2"])
    answer("Can I change my plan?", "prod")
    seeded.ids["v2"] = autolog.get_last_active_trace_id()
    _reset_active_model()
    label_schemas.create_label_schema("correct", type="feedback", input=label_schemas.InputPassFail(),
                                      instruction="Is the answer right?", enable_comment=True)
    session = labeling.create_labeling_session("pg review", traces=[seeded.ids["chat"], seeded.ids["error"]],
                                               schemas=["correct"])
    seeded.labeling_session_id = session.labeling_session_id
    assert autolog.flush() is True
    return seeded


@pytest.fixture(scope="module")
def pg_seeded(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgSeeded]:  # noqa: F811
    database = pg_server.create_database()
    seeded = _seed(pg_server.uri(database))
    yield seeded
    # off PostgreSQL before its database goes (the next test configures its own store anyway)
    autolog.configure(f"sqlite:///{tmp_path_factory.mktemp('after-pg') / 'autolog.db'}", schedule_delay_millis=20)
    pg_server.drop_database(database)


@pytest.fixture(scope="module")
def server(pg_seeded: PgSeeded) -> Iterator[Served]:
    """Overrides the conftest's (SQLite) server for this module: ``ui`` opens pages of this one."""
    from autolog._server.app import create_app

    served = Served(create_app(client=pg_seeded.client))
    yield served
    served.stop()


@pytest.fixture(autouse=True)
def store(pg_seeded: PgSeeded, server: Served) -> Iterator[autolog.Client]:
    """Overrides the conftest's store: every test of the module reads (and writes) the one PostgreSQL store."""
    assert pg_seeded.client.tracking_uri.startswith("postgresql://")
    if autolog.client.get_default_client() is not pg_seeded.client:
        pg_seeded.client = autolog.configure(pg_seeded.uri, schedule_delay_millis=20)
        server.app.state.client = pg_seeded.client
    yield pg_seeded.client
    assert pg_seeded.client.flush(10)


@pytest.fixture
def reader(pg_seeded: PgSeeded) -> Iterator[autolog.Client]:
    """A Client of its own on the PostgreSQL URI: reads what the server wrote, from the database."""
    client = autolog.Client(pg_seeded.uri)
    yield client
    client.shutdown()


def _row_ids(page: Any) -> list[str]:
    return list(page.get_by_test_id("trace-row").evaluate_all("rows => rows.map(r => r.dataset.traceId)"))


def _filter(page: Any, text: str) -> None:
    page.get_by_test_id("filter-input").fill(text)
    page.get_by_test_id("filter-input").press("Enter")


def _stored_ids(client: autolog.Client, filter_string: str | None = None) -> set[str]:
    return {t.info.trace_id for t in client.search_traces(filter_string=filter_string, include_spans=False)}


def test_traces_list_and_filters_match_the_store(ui: Page, pg_seeded: PgSeeded, reader: autolog.Client) -> None:
    page = ui.open("traces")
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    stored = _stored_ids(reader)
    expect(page.get_by_test_id("trace-row")).to_have_count(len(stored))
    assert set(_row_ids(page)) == stored and pg_seeded.ids["chat"] in stored
    times = [(reader.get_trace(i).info.request_time, i) for i in _row_ids(page)]
    assert times == sorted(times, reverse=True), "rows are not newest first"
    row = page.locator(f"[data-trace-id='{pg_seeded.ids['chat']}']")
    expect(row).to_contain_text("support_bot")
    expect(row).to_contain_text("pg v1")
    expect(row).to_contain_text("environment=prod")
    for text, expected in [("tags.environment = 'prod'", {pg_seeded.ids[k] for k in ("chat", "error", "v2")}),
                           ("status = 'ERROR'", {pg_seeded.ids["error"]}),
                           ("tags.environment = 'prod' AND name = 'support_bot'",
                            {pg_seeded.ids["chat"], pg_seeded.ids["v2"]}),
                           ("name LIKE 'support%' AND tags.environment != 'prod'", {pg_seeded.ids["staging"]})]:
        _filter(page, text)
        expect(page.get_by_test_id("trace-row")).to_have_count(len(expected))
        assert set(_row_ids(page)) == expected == _stored_ids(reader, text), text
    _filter(page, "tags.environment = ")
    error = page.get_by_test_id("filter-error")
    expect(error).to_contain_text("expected")
    expect(error).to_contain_text(f"at position {len('tags.environment =')}")
    expect(page.get_by_test_id("trace-row")).to_have_count(0)
    _filter(page, "")
    expect(page.get_by_test_id("filter-error")).to_have_count(0)
    expect(page.get_by_test_id("trace-row")).to_have_count(len(stored))


def test_trace_page_shows_the_stored_tree_and_spans(ui: Page, pg_seeded: PgSeeded, reader: autolog.Client) -> None:
    trace = reader.get_trace(pg_seeded.ids["chat"])
    page = ui.open(f"trace/{pg_seeded.ids['chat']}")
    nodes = page.get_by_test_id("span-node")
    expect(nodes).to_have_count(len(trace.data.spans))
    for span in trace.data.spans:
        expect(nodes.filter(has_text=span.name)).not_to_have_count(0)
    detail = page.get_by_test_id("span-detail")
    expect(detail).to_contain_text(QUESTION)  # the root's inputs, as text: no <b> element is made of it
    assert detail.locator("b").count() == 0
    nodes.filter(has_text="retrieve").click()
    expect(detail.locator(".documents li")).to_have_count(1)
    expect(detail).to_contain_text("doc_uri=kb/1")
    nodes.filter(has_text="chat").click()
    chat = next(s for s in trace.data.spans if s.name == "chat")
    expect(detail.locator(".conversation .msg")).to_have_count(len(chat.inputs["messages"]) + 1)
    expect(detail.locator(".role-user")).to_contain_text(QUESTION)
    expect(detail).to_contain_text(chat.outputs["choices"][0]["message"]["content"])
    page = ui.open(f"trace/{pg_seeded.ids['error']}")
    expect(page.locator(".page-head .state")).to_have_text(reader.get_trace(pg_seeded.ids["error"]).info.state)
    expect(page.locator(".events li.exception")).to_contain_text("the model is overloaded")


def test_human_feedback_from_the_trace_page_is_stored_in_postgres(ui: Page, pg_seeded: PgSeeded,
                                                                  reader: autolog.Client) -> None:
    page = ui.open(f"trace/{pg_seeded.ids['v2']}")
    page.get_by_test_id("reviewer-input").fill("paula")
    page.get_by_test_id("feedback-name").fill("pg_helpful")
    page.locator("[data-testid=feedback-button][data-value=true]").click()
    expect(page.get_by_test_id("assessments")).to_contain_text("HUMAN · paula")
    page.get_by_test_id("span-node").filter(has_text="retrieve").click()
    page.get_by_test_id("feedback-name").fill("pg_retrieval_ok")
    page.get_by_test_id("feedback-on-span").check()
    page.locator("[data-testid=feedback-button][data-value=false]").click()
    expect(page.get_by_test_id("assessments")).to_contain_text("pg_retrieval_ok")
    assert autolog.flush() is True
    trace = reader.get_trace(pg_seeded.ids["v2"])
    retriever = next(s.span_id for s in trace.data.spans if s.name == "retrieve")
    found = {(a.name, a.value, a.source.source_type, a.source.source_id, a.span_id) for a in trace.info.assessments}
    assert ("pg_helpful", True, "HUMAN", "paula", None) in found
    assert ("pg_retrieval_ok", False, "HUMAN", "paula", retriever) in found
    assert _stored_ids(reader, "feedback.pg_helpful = 'true'") == {pg_seeded.ids["v2"]}
    page = ui.open("traces")  # the new feedback is a column of the list, and a filter of it narrows the rows
    expect(page.locator("thead")).to_contain_text("pg_helpful")
    _filter(page, "feedback.pg_helpful = 'true'")
    expect(page.get_by_test_id("trace-row")).to_have_count(1)
    assert _row_ids(page) == [pg_seeded.ids["v2"]]


def test_versions_compare(ui: Page, pg_seeded: PgSeeded, reader: autolog.Client) -> None:
    page = ui.open("versions")
    rows = page.get_by_test_id("version-row")
    expect(rows).to_have_count(len(pg_seeded.models))
    for name, model_id in pg_seeded.models.items():
        row = page.locator(f"[data-testid=version-row][data-model-id='{model_id}']")
        expect(row).to_contain_text(name)
        expect(row).to_contain_text("store=postgres")
        expect(row).to_contain_text("exact_match/mean")
        count = len(_stored_ids(reader, f"metadata.`mlflow.modelId` = '{model_id}'"))
        expect(row.get_by_title("this version's traces")).to_contain_text(str(count))
    expect(page.locator(f"[data-model-id='{pg_seeded.models['pg v1']}']")).to_contain_text("temperature=0.7")
    for row in rows.all():
        row.get_by_test_id("version-check").check()
    page.get_by_test_id("compare-button").click()
    table = page.get_by_test_id("compare-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    for name in pg_seeded.models:
        expect(table).to_contain_text(name)
    plots = page.locator("figure.plot")
    expect(plots.filter(has_text="Latency").locator("g.box")).to_have_count(2)
    expect(plots.filter(has_text="exact_match: mean")).to_have_count(1)
    page.get_by_role("link", name="pg v2 traces").click()
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    v2 = _stored_ids(reader, f"metadata.`mlflow.modelId` = '{pg_seeded.models['pg v2']}'")
    expect(page.get_by_test_id("trace-row")).to_have_count(len(v2))
    assert set(_row_ids(page)) == v2


def test_evaluations_compare(ui: Page, pg_seeded: PgSeeded, reader: autolog.Client) -> None:
    from autolog.genai import compare_evaluations

    stored = compare_evaluations(pg_seeded.runs["pg v2"], pg_seeded.runs["pg v1"], client=reader)
    assert stored["exact_match"].verdict == "improved" and stored["polite"].verdict == "regressed"
    page = ui.open("evaluations")
    expect(page.get_by_test_id("run-row")).to_have_count(len(pg_seeded.runs))
    page.locator(f"[data-run-id='{pg_seeded.runs['pg v2']}'] [data-testid=candidate-radio]").check()
    page.locator(f"[data-run-id='{pg_seeded.runs['pg v1']}'] [data-testid=baseline-radio]").check()
    page.get_by_test_id("evaluation-compare-button").click()
    verdicts = page.get_by_test_id("evaluation-summary").get_by_test_id("verdict-row")
    expect(verdicts).to_have_count(len(stored.comparisons))
    shown = verdicts.evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    # each metric's row: the stored comparison's verdict and number of pairs
    assert {(r[0], r[-1], r[-2]) for r in shown} == {
        (c.name, c.verdict, str(c.n_pairs)) for c in stored.comparisons}
    expect(verdicts.filter(has_text="exact_match")).to_have_class("improved")
    expect(verdicts.filter(has_text="polite")).to_have_class("regressed")
    rows = page.get_by_test_id("evaluation-rows").locator("tbody tr")
    expect(rows).to_have_count(stored.n_pairs)
    for question, _ in QA:
        expect(rows.filter(has_text=question)).to_have_count(1)
    expect(page.get_by_test_id("evaluation-rows")).to_contain_text("Please ask support.")


def test_label_a_queue_item_is_stored_in_postgres(ui: Page, pg_seeded: PgSeeded, reader: autolog.Client) -> None:
    from autolog.genai import labeling

    page = ui.open("labeling")
    page.get_by_role("link", name="pg review").click()
    items = page.get_by_test_id("labeling-item")
    expect(items).to_have_count(2)
    first = page.locator(f"[data-testid=labeling-item][data-trace-id='{pg_seeded.ids['chat']}']")
    expect(first).to_have_attribute("data-state", "PENDING")
    expect(page.locator(".label-work")).to_contain_text(QUESTION)
    page.get_by_test_id("reviewer-input").fill("lena")
    page.locator("[data-testid=label-passfail][data-value=true]").click()
    page.get_by_test_id("label-comment").fill("right, over PostgreSQL")
    page.get_by_test_id("label-submit").click()
    expect(first).to_have_attribute("data-state", "COMPLETED")
    expect(page.get_by_test_id("progress")).to_contain_text("1 / 2")
    assert autolog.flush() is True
    session = labeling.get_labeling_session(pg_seeded.labeling_session_id, client=reader)
    assert {(i.trace_id, i.state, i.reviewer) for i in session.items} == {
        (pg_seeded.ids["chat"], "COMPLETED", "lena"), (pg_seeded.ids["error"], "PENDING", None)}
    assert session.progress == {"total": 2, "completed": 1, "skipped": 0, "pending": 1}
    found = {(a.name, a.value, a.source.source_type, a.source.source_id, a.rationale)
             for a in reader.get_trace(pg_seeded.ids["chat"]).info.assessments}
    assert ("correct", True, "HUMAN", "lena", "right, over PostgreSQL") in found


def test_sort_pages_tags_and_live_rows(ui: Page, pg_seeded: PgSeeded, reader: autolog.Client) -> None:
    page = ui.open("traces")
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    page.locator("th[data-sort=tokens]").click()  # PostgreSQL sorts NULLs first in DESC: the page wants them last
    expect(page.locator("th.sorted")).to_contain_text("Tokens")
    tokens = [reader.get_trace(i).info.token_usage for i in _row_ids(page)]
    totals = [t["total_tokens"] for t in tokens if t]
    assert totals == sorted(totals, reverse=True) and len(totals) == 3 and tokens[:3] == [t for t in tokens if t]
    page = ui.open("traces?max_results=5")
    expect(page.get_by_test_id("trace-row")).to_have_count(5)
    seen = _row_ids(page)
    while page.get_by_test_id("next-page").count():
        page.get_by_test_id("next-page").click()
        expect(page.get_by_test_id("trace-row").first).not_to_have_attribute("data-trace-id", seen[-5])
        seen += _row_ids(page)
    assert len(seen) == len(set(seen)) and set(seen) == _stored_ids(reader)  # keyset pages: none repeated or lost
    # A NUL in a tag or a filter: PostgreSQL's text cannot hold it, so it is stored as U+FFFD (as a traced value
    # is), and a filter typed with it matches; both were a 500 (psycopg refuses NUL) before PgConnection resent them.
    page = ui.open(f"trace/{pg_seeded.ids['staging']}")
    page.get_by_test_id("tag-key").fill("reviewed")
    page.get_by_test_id("tag-value").fill("on\x00postgres")
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_test_id("tags")).to_contain_text("reviewed=on")
    assert reader.get_trace(pg_seeded.ids["staging"]).info.tags.get("reviewed") == "on\ufffdpostgres"
    page = ui.open("traces")
    _filter(page, "tags.reviewed = 'on\x00postgres'")
    expect(page.get_by_test_id("trace-row")).to_have_count(1)
    assert _row_ids(page) == [pg_seeded.ids["staging"]]
    page = ui.open(f"trace/{pg_seeded.ids['staging']}")
    page.locator("[data-tag=reviewed] [data-testid=remove-tag]").click()
    expect(page.get_by_test_id("tags")).not_to_contain_text("reviewed")
    assert "reviewed" not in reader.get_trace(pg_seeded.ids["staging"]).info.tags
    page = ui.open("traces")
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    before = page.get_by_test_id("trace-row").count()

    @autolog.trace(name="live_on_postgres")
    def arrive(text: str) -> str:
        return text

    arrive("recorded while the page was open")
    assert autolog.flush() is True
    expect(page.get_by_test_id("trace-row").first).to_contain_text("live_on_postgres")
    assert page.get_by_test_id("trace-row").count() == before + 1 == len(_stored_ids(reader))
