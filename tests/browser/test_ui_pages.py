"""Versions, evaluations and labeling pages in a real browser, and a 30,000-span trace (a virtualized tree)."""

from __future__ import annotations

from playwright.sync_api import expect

import autolog
from tests.browser.conftest import BIG_SPANS, Page, Seeded

expect.set_options(timeout=10_000)


def test_versions_list_and_compare(ui: Page, seeded: Seeded) -> None:
    page = ui.open("versions")
    rows = page.get_by_test_id("version-row")
    expect(rows).to_have_count(2)
    v1 = page.locator(f"[data-testid=version-row][data-model-id='{seeded.models['bot v1']}']")
    expect(v1).to_contain_text("temperature=0.7")
    expect(v1).to_contain_text("team=support")
    expect(v1).to_contain_text("exact_match/mean")
    expect(page.get_by_test_id("compare-button")).to_be_disabled()
    for row in rows.all():
        row.get_by_test_id("version-check").check()
    page.get_by_test_id("compare-button").click()
    table = page.get_by_test_id("compare-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("bot v1")
    expect(table).to_contain_text("bot v2")
    assert "ids=" in page.url
    plots = page.locator("figure.plot")
    expect(plots.filter(has_text="Latency")).to_have_count(1)
    expect(plots.filter(has_text="Cost")).to_have_count(1)
    expect(plots.filter(has_text="exact_match: mean")).to_have_count(1)
    expect(plots.filter(has_text="Latency").locator("g.box")).to_have_count(2)  # a box per version
    ui.shot("versions-compare")
    page.get_by_role("link", name="bot v1 traces").click()  # each version links to its traces
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    assert seeded.models["bot v1"] in page.url


def test_a_versions_trace_count_links_to_its_traces(ui: Page, seeded: Seeded) -> None:
    page = ui.open("versions")
    v2 = page.locator(f"[data-testid=version-row][data-model-id='{seeded.models['bot v2']}']")
    v2.get_by_title("this version's traces").click()
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    rows = page.get_by_test_id("trace-row")
    assert all(seeded.client.get_trace(i).info.trace_metadata.get("mlflow.modelId") == seeded.models["bot v2"]
               for i in rows.evaluate_all("rows => rows.map(r => r.dataset.traceId)"))


def test_evaluations_compare_shows_verdicts(ui: Page, seeded: Seeded) -> None:
    page = ui.open("evaluations")
    expect(page.get_by_test_id("run-row")).to_have_count(2)
    page.locator(f"[data-run-id='{seeded.runs['bot v2']}'] [data-testid=candidate-radio]").check()
    page.locator(f"[data-run-id='{seeded.runs['bot v1']}'] [data-testid=baseline-radio]").check()
    page.get_by_test_id("evaluation-compare-button").click()
    summary = page.get_by_test_id("evaluation-summary")
    expect(summary.locator("tr.improved").filter(has_text="exact_match")).to_have_count(1)
    expect(summary.locator("tr.regressed").filter(has_text="polite")).to_have_count(1)
    expect(summary.get_by_test_id("verdict-row").filter(has_text="exact_match")).to_contain_text("improved")
    rows = page.get_by_test_id("evaluation-rows").locator("tbody tr")
    expect(rows).to_have_count(12)
    expect(rows.first.locator("td.regressed")).to_have_count(1)  # polite got worse on every row
    expect(page.get_by_test_id("evaluation-rows")).to_contain_text("Please contact our support team")
    assert f"candidate={seeded.runs['bot v2']}" in page.url
    ui.shot("evaluation-compare")


def test_label_a_queue_item(ui: Page, seeded: Seeded) -> None:
    page = ui.open("labeling")
    page.get_by_role("link", name="review").click()
    items = page.get_by_test_id("labeling-item")
    expect(items).to_have_count(2)
    first = page.locator(f"[data-testid=labeling-item][data-trace-id='{seeded.ids['chat']}']")
    expect(first).to_have_attribute("data-state", "PENDING")
    expect(page.locator(".label-work")).to_contain_text("How do I reset my password?")
    ui.shot("labeling")
    page.get_by_test_id("reviewer-input").fill("lena")
    page.locator("[data-testid=label-passfail][data-value=true]").click()
    page.get_by_test_id("label-select").select_option("formal")
    page.get_by_test_id("label-comment").fill("right and polite")
    page.get_by_test_id("label-submit").click()
    expect(first).to_have_attribute("data-state", "COMPLETED")
    # the next pending item is the current one now
    expect(page.locator(f"[data-testid=labeling-item][data-trace-id='{seeded.ids['error']}']")).to_have_class(
        "PENDING current")
    expect(page.get_by_test_id("progress")).to_contain_text("1 / 2")
    assert autolog.flush() is True
    found = {(a.name, a.value, a.source.source_type, a.source.source_id)
             for a in seeded.client.get_trace(seeded.ids["chat"]).info.assessments}
    assert ("correct", True, "HUMAN", "lena") in found and ("tone", "formal", "HUMAN", "lena") in found
    page.get_by_test_id("label-skip").click()
    expect(page.get_by_test_id("labeling-done")).to_be_visible()
    expect(page.locator(f"[data-trace-id='{seeded.ids['error']}']")).to_have_attribute("data-state", "SKIPPED")


def test_a_30000_span_trace_is_virtualized(ui: Page, seeded: Seeded) -> None:
    page = ui.open(f"trace/{seeded.ids['big']}")
    nodes = page.get_by_test_id("span-node")
    expect(nodes.first).to_contain_text("big_agent")
    expect(page.locator(".span-tree")).to_contain_text(f"{BIG_SPANS} spans")
    assert 0 < nodes.count() < 200, "the tree draws only the rows in view"
    expect(page.get_by_test_id("span-detail")).to_contain_text("many steps")
    page.locator(".tree-scroll").evaluate("e => { e.scrollTop = e.scrollHeight; }")
    expect(nodes.last).to_contain_text("tool 299.97")  # the end of the tree after a scroll
    assert nodes.count() < 200
    nodes.last.click()
    expect(page.get_by_test_id("span-detail")).to_contain_text("tool 299.97")
    page.locator(".tree-scroll").evaluate("e => { e.scrollTop = 0; }")
    expect(nodes.first).to_contain_text("big_agent")
    nodes.first.get_by_test_id("span-toggle").click()  # collapsing the root leaves one row
    expect(nodes).to_have_count(1)
    nodes.first.get_by_test_id("span-toggle").click()
    nodes.nth(1).get_by_test_id("span-toggle").click()  # collapse "step 0": "step 1" follows it
    expect(nodes.nth(2)).to_contain_text("step 1")
    ui.shot("trace-30000-spans")


def test_api_docs_render_without_the_internet(ui: Page) -> None:
    """/docs is Swagger UI served from the wheel's swagger-ui-bundle (no CDN): it lists the REST API."""
    requested: list[str] = []
    ui.page.on("request", lambda r: requested.append(r.url))
    ui.page.goto(f"{ui.base}/docs")
    expect(ui.page.locator(".swagger-ui .opblock-summary-path").filter(has_text="/api/traces").first).to_be_visible()
    assert requested and all(url.startswith(ui.base) for url in requested), requested
