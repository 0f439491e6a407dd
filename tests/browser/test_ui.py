"""The traces and trace pages in a real browser: rows, filters, span detail, XSS, feedback, tags, live rows, token."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

import autolog
from tests.browser.conftest import XSS, Page, Seeded
from tests.serving import Served

expect.set_options(timeout=10_000)


def _row_ids(page: Any) -> list[str]:
    return page.get_by_test_id("trace-row").evaluate_all("rows => rows.map(r => r.dataset.traceId)")


def test_traces_page_lists_rows_newest_first(ui: Page, seeded: Seeded) -> None:
    page = ui.open("traces")
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    ids = _row_ids(page)
    assert seeded.ids["chat"] in ids and seeded.ids["big"] in ids
    times = [(seeded.client.get_trace(i).info.request_time, i) for i in ids]
    assert times == sorted(times, reverse=True), "rows are not newest first"
    row = page.locator(f"[data-trace-id='{seeded.ids['chat']}']")
    expect(row).to_contain_text("support_bot")
    expect(row).to_contain_text("bot v1")
    expect(row).to_contain_text("session-1")
    expect(row).to_contain_text("channel=web")
    expect(page.locator("thead")).to_contain_text("exact_match")  # a column per feedback name
    ui.shot("traces")


def test_filter_narrows_rows_and_a_bad_filter_shows_its_position(ui: Page) -> None:
    page = ui.open("traces")
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    page.get_by_test_id("filter-input").fill("name = 'support_bot'")
    page.get_by_test_id("filter-input").press("Enter")
    expect(page.get_by_test_id("trace-row")).to_have_count(3)
    page.get_by_test_id("filter-input").fill("tags.env = ")
    page.get_by_test_id("filter-input").press("Enter")
    error = page.get_by_test_id("filter-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("expected")
    position = int(re.search(r"at position (\d+)", error.inner_text()).group(1))
    assert position == len("tags.env =")  # the end of the (trimmed) filter: a value is missing there
    text, caret = error.locator("pre").inner_text().splitlines()
    assert text == "tags.env =" and caret == " " * position + "^"
    expect(page.get_by_test_id("trace-row")).to_have_count(0)


def test_quick_filters_compose_with_the_filter(ui: Page, seeded: Seeded) -> None:
    page = ui.open("traces")
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    page.get_by_test_id("state-select").select_option("ERROR")
    expect(page.get_by_test_id("trace-row")).to_have_count(1)
    assert _row_ids(page) == [seeded.ids["error"]]
    page = ui.open("traces?filter=name%20%3D%20'support_bot'")
    expect(page.get_by_test_id("trace-row")).to_have_count(3)
    page.get_by_role("button", name="session-2").click()  # a session cell filters by its session
    expect(page.get_by_test_id("trace-row")).to_have_count(1)
    expect(page.locator(".chip")).to_contain_text("session-2")
    page = ui.open("traces?filter=name%20%3D%20'support_bot'")
    expect(page.get_by_test_id("trace-row")).to_have_count(3)
    page.get_by_test_id("version-select").select_option(seeded.models["bot v2"])
    expect(page.get_by_test_id("trace-row")).to_have_count(1)
    assert "model_id=" in page.url


def test_sorting_by_a_header(ui: Page, seeded: Seeded) -> None:
    page = ui.open("traces")
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    page.locator("th[data-sort=latency]").click()
    expect(page.locator("th.sorted")).to_contain_text("Latency")
    ids = _row_ids(page)
    durations = [seeded.client.get_trace(i).info.execution_time_ms or 0 for i in ids]
    assert durations == sorted(durations, reverse=True)


def test_keyset_pages(ui: Page) -> None:
    page = ui.open("traces?max_results=5")
    expect(page.get_by_test_id("trace-row")).to_have_count(5)
    first = _row_ids(page)
    page.get_by_test_id("next-page").click()
    expect(page.get_by_test_id("first-page")).to_be_visible()
    expect(page.get_by_test_id("trace-row")).to_have_count(5)
    second = _row_ids(page)
    assert not set(first) & set(second)
    page.get_by_test_id("first-page").click()
    expect(page.get_by_test_id("trace-row").first).to_have_attribute("data-trace-id", first[0])
    expect(page.get_by_test_id("first-page")).to_have_count(0)


def test_span_tree_and_detail(ui: Page, seeded: Seeded) -> None:
    page = ui.open(f"trace/{seeded.ids['chat']}")
    nodes = page.get_by_test_id("span-node")
    expect(nodes).to_have_count(4)
    detail = page.get_by_test_id("span-detail")
    expect(detail).to_contain_text("How do I reset my password?")  # the root is selected: its inputs
    nodes.filter(has_text="retrieve").click()
    expect(detail.locator(".documents li")).to_have_count(2)  # RETRIEVER outputs as a document list
    expect(detail).to_contain_text("Forgot password")
    expect(detail).to_contain_text("doc_uri=kb/1")
    nodes.filter(has_text="chat").click()
    # chat messages as a conversation: system and user in, the assistant (OpenAI choices) out
    expect(detail.locator(".conversation .msg")).to_have_count(3)
    expect(detail.locator(".role-user")).to_contain_text("How do I reset my password?")
    expect(detail).to_contain_text("52")  # the span's token usage
    nodes.filter(has_text="format").click()
    expect(detail.get_by_test_id("expand-button")).to_be_visible()  # a long value starts collapsed
    detail.get_by_test_id("expand-button").click()
    expect(detail.get_by_test_id("expand-button")).to_have_text("collapse")
    nodes.first.get_by_test_id("span-toggle").click()  # collapse the root: its children leave the tree
    expect(nodes).to_have_count(1)
    nodes.first.get_by_test_id("span-toggle").click()
    expect(nodes).to_have_count(4)
    ui.shot("trace")


def test_error_trace_shows_the_exception(ui: Page, seeded: Seeded) -> None:
    page = ui.open(f"trace/{seeded.ids['error']}")
    expect(page.locator(".page-head .state")).to_have_text("ERROR")
    expect(page.locator(".events li.exception")).to_contain_text("the model is overloaded")


def test_unknown_trace_is_a_404_page(ui: Page) -> None:
    page = ui.open("trace/tr-00000000000000000000000000000000")
    expect(page.get_by_test_id("not-found")).to_contain_text("Trace not found")


def test_script_in_a_trace_is_text_and_never_runs(ui: Page, seeded: Seeded) -> None:
    page = ui.open("traces")
    row = page.locator(f"[data-trace-id='{seeded.ids['xss']}']")
    expect(row).to_contain_text("<script>window.__xss")
    page = ui.open(f"trace/{seeded.ids['xss']}")
    detail = page.get_by_test_id("span-detail")
    expect(detail).to_contain_text(XSS)
    page.wait_for_timeout(300)  # an onerror handler of an injected <img> would have fired by now
    assert ui.dialogs == []
    assert page.evaluate("window.__xss") is None
    assert page.locator("main script, main img").count() == 0


def test_thumbs_up_records_a_human_assessment(ui: Page, seeded: Seeded) -> None:
    page = ui.open(f"trace/{seeded.ids['chat']}")
    page.get_by_test_id("reviewer-input").fill("rita")
    page.get_by_test_id("feedback-name").fill("helpful")
    page.locator("[data-testid=feedback-button][data-value=true]").click()
    expect(page.get_by_test_id("assessments")).to_contain_text("HUMAN · rita")
    assert page.evaluate("localStorage.getItem('autolog.reviewer')") == "rita"
    page.get_by_test_id("assessment-kind").select_option("expectation")
    page.get_by_test_id("assessment-value").fill("Use 'Forgot password' on the sign-in page.")
    page.get_by_test_id("assessment-submit").click()
    expect(page.get_by_test_id("assessments")).to_contain_text("expected_response")
    assert autolog.flush() is True
    found = {(a.name, a.value, a.source.source_type, a.source.source_id)
             for a in seeded.client.get_trace(seeded.ids["chat"]).info.assessments}
    assert ("helpful", True, "HUMAN", "rita") in found
    assert ("expected_response", "Use 'Forgot password' on the sign-in page.", "HUMAN", "rita") in found
    page = ui.open(f"trace/{seeded.ids['chat']}")
    expect(page.get_by_test_id("reviewer-input")).to_have_value("rita")  # remembered
    page.get_by_test_id("span-node").filter(has_text="retrieve").click()  # a thumbs down on the retriever's span
    page.get_by_test_id("feedback-name").fill("retrieval_ok")
    page.get_by_test_id("feedback-on-span").check()
    page.locator("[data-testid=feedback-button][data-value=false]").click()
    expect(page.get_by_test_id("assessments")).to_contain_text("retrieval_ok")
    assert autolog.flush() is True
    trace = seeded.client.get_trace(seeded.ids["chat"])
    retriever = next(s.span_id for s in trace.data.spans if s.name == "retrieve")
    assert [(a.value, a.span_id) for a in trace.info.assessments if a.name == "retrieval_ok"] == [(False, retriever)]


def test_tags_add_and_remove(ui: Page, seeded: Seeded) -> None:
    page = ui.open(f"trace/{seeded.ids['chat']}")
    page.get_by_test_id("tag-key").fill("reviewed")
    page.get_by_test_id("tag-value").fill("yes")
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_test_id("tags")).to_contain_text("reviewed=yes")
    assert autolog.flush() is True
    assert seeded.client.get_trace(seeded.ids["chat"]).info.tags.get("reviewed") == "yes"
    page.locator("[data-tag=reviewed] [data-testid=remove-tag]").click()
    expect(page.get_by_test_id("tags")).not_to_contain_text("reviewed")
    assert "reviewed" not in seeded.client.get_trace(seeded.ids["chat"]).info.tags


def test_a_new_trace_appears_without_reload(ui: Page) -> None:
    page = ui.open("traces")
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    before = page.get_by_test_id("trace-row").count()

    @autolog.trace(name="live_arrival")
    def arrive(text: str) -> str:
        return text

    arrive("recorded while the page was open")
    assert autolog.flush() is True
    expect(page.get_by_test_id("trace-row").first).to_contain_text("live_arrival")
    expect(page.get_by_test_id("new-traces")).to_contain_text(re.compile(r"1 new trace"))
    assert page.get_by_test_id("trace-row").count() == before + 1


def test_a_token_server_asks_for_the_token(browser: Any, seeded: Seeded) -> None:
    from autolog._server.app import create_app

    served = Served(create_app(client=seeded.client, token="t"))
    try:
        ui = Page(browser, served.url)
        page = ui.open("traces")
        form = page.get_by_test_id("token-form")
        expect(form).to_be_visible()
        page.get_by_test_id("token-input").fill("wrong")
        page.get_by_test_id("token-input").press("Enter")
        expect(page.get_by_test_id("token-form")).to_contain_text("refused")
        page.get_by_test_id("token-input").fill("t")
        page.get_by_test_id("token-input").press("Enter")
        expect(page.get_by_test_id("trace-row").first).to_be_visible()
        expect(page.get_by_test_id("token-form")).to_have_count(0)
        assert not ui.errors
        ui.context.close()
    finally:
        served.stop()
