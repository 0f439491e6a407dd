"""The Traces endpoints, checked against what the store holds (read back through autolog's own API)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

import autolog
from autolog._server.app import create_app
from tests.server.conftest import SCRIPT, Recorded


def _all_rows(api: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/traces", params={"max_results": 500, **params})
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()["traces"]
    return body


def test_experiments_are_listed(api: TestClient, recorded: Recorded) -> None:
    assert {"experiment_id": recorded.experiment_id, "name": "shop"} in api.get("/api/experiments").json()


def test_the_list_is_newest_first_with_each_rows_fields(api: TestClient, recorded: Recorded) -> None:
    rows = _all_rows(api)
    expected = autolog.search_traces(return_type="list", max_results=100)
    assert [r["trace_id"] for r in rows] == [t.info.trace_id for t in expected] == recorded.trace_ids[::-1]
    first = next(r for r in rows if r["trace_id"] == recorded.trace_ids[0])
    stored = autolog.get_trace(recorded.trace_ids[0]).info
    assert first == {
        "trace_id": stored.trace_id, "name": "answer", "request_preview": stored.request_preview,
        "response_preview": stored.response_preview, "state": "OK", "request_time": stored.request_time,
        "execution_time_ms": stored.execution_time_ms, "total_tokens": 15,
        "cost": json.loads(stored.trace_metadata["mlflow.trace.cost"])["total_cost"],
        "model_id": recorded.v1, "model_name": "bot-v1", "session": "session-0", "user": "ann",
        "tags": {"env": "staging", "team": "search"}, "feedback": {"helpful": True}}
    assert first["cost"] > 0
    error = next(r for r in rows if r["trace_id"] == recorded.error_trace_id)
    assert (error["state"], error["model_name"]) == ("ERROR", "bot-v2")
    assert api.get("/api/traces").json()["feedback_names"] == ["helpful", "stars"]


def test_pages_cover_every_trace_once(api: TestClient, recorded: Recorded) -> None:
    first = api.get("/api/traces", params={"max_results": 4}).json()
    assert len(first["traces"]) == 4 and first["next_page_token"]
    second = api.get("/api/traces", params={"max_results": 4, "page_token": first["next_page_token"]}).json()
    assert second["next_page_token"] is None
    ids = [r["trace_id"] for r in first["traces"] + second["traces"]]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(recorded.trace_ids)


@pytest.mark.parametrize("order_by", ["timestamp_ms DESC", "timestamp_ms ASC", "execution_time_ms DESC",
                                      "execution_time_ms ASC", "total_tokens DESC", "total_tokens ASC",
                                      "cost DESC", "cost ASC"])
def test_each_order_is_the_stores(api: TestClient, recorded: Recorded, order_by: str) -> None:
    expected = [t.info.trace_id for t in autolog.search_traces(order_by=[order_by], return_type="list")]
    rows = _all_rows(api, order_by=order_by)
    assert [r["trace_id"] for r in rows] == expected
    field = order_by.split()[0].replace("timestamp_ms", "request_time")
    values = [r[field] for r in rows if r[field] is not None]
    assert values == sorted(values, reverse=order_by.endswith("DESC"))
    if field == "total_tokens":  # every trace called the LLM once: all counted, all different
        assert len(set(values)) == len(recorded.trace_ids)


def test_a_filter_and_a_version_narrow_the_list(api: TestClient, recorded: Recorded) -> None:
    rows = _all_rows(api, filter="tags.env = 'prod' AND total_tokens > 30")
    expected = autolog.search_traces(filter_string="tags.env = 'prod' AND total_tokens > 30", return_type="list")
    assert [r["trace_id"] for r in rows] == [t.info.trace_id for t in expected] and rows
    assert {r["model_id"] for r in _all_rows(api, model_id=recorded.v1)} == {recorded.v1}
    assert _all_rows(api, experiment_id=["0"]) == []
    assert len(_all_rows(api, experiment_id=["0", recorded.experiment_id])) == len(recorded.trace_ids)


def test_a_bad_filter_is_a_400_with_its_position(api: TestClient, recorded: Recorded) -> None:
    response = api.get("/api/traces", params={"filter": "tags.env = 'prod' AND bogus > 1"})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and body["position"] == 22 and "bogus" in body["message"]
    bad_order = api.get("/api/traces", params={"order_by": "cost SIDEWAYS"})
    assert bad_order.status_code == 400 and bad_order.json()["position"] == 5
    too_many = api.get("/api/traces", params={"max_results": 0})
    assert too_many.status_code == 400 and "max_results" in too_many.json()["message"]


def test_an_unknown_trace_or_span_is_a_404(api: TestClient, recorded: Recorded) -> None:
    for path in ("/api/traces/tr-0000", f"/api/traces/tr-0000/spans/{'0' * 16}",
                 f"/api/traces/{recorded.trace_ids[0]}/spans/{'0' * 16}"):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", path
    assert "tr-0000" in api.get("/api/traces/tr-0000").json()["message"]


def _skeleton(span: autolog.Span) -> dict[str, Any]:
    attributes = span.recorded_attributes
    return {"span_id": span.span_id, "parent_id": span.parent_id, "name": span.name, "span_type": span.span_type,
            "start_time_ns": span.start_time_ns, "end_time_ns": span.end_time_ns,
            "status_code": span.status.status_code, "status_message": span.status.description,
            "n_events": len(span.events), "has_exception": any(e.name == "exception" for e in span.events),
            "token_usage": attributes.get("mlflow.chat.tokenUsage"), "cost": attributes.get("mlflow.llm.cost")}


def test_a_trace_is_its_span_tree_without_contents(api: TestClient, recorded: Recorded) -> None:
    stored = autolog.get_trace(recorded.error_trace_id)
    body = api.get(f"/api/traces/{recorded.error_trace_id}").json()
    assert body["spans"] == [_skeleton(s) for s in stored.data.spans]
    assert [s["name"] for s in body["spans"]] == ["answer", "retrieve", "llm"]
    root = body["spans"][0]
    assert root["has_exception"] and root["status_code"] == "ERROR" and "model is down" in root["status_message"]
    assert body["spans"][2]["token_usage"]["total_tokens"] == 81 and body["spans"][2]["cost"]["total_cost"] > 0
    assert not any(k in s for s in body["spans"] for k in ("inputs", "outputs", "attributes", "events"))
    info = body["info"]
    assert info["trace_metadata"] == {k: v for k, v in stored.info.trace_metadata.items()
                                      if k not in ("mlflow.traceInputs", "mlflow.traceOutputs")}
    assert info["tags"] == stored.info.tags and info["token_usage"] == stored.info.token_usage
    assert info["cost"] == json.loads(stored.info.trace_metadata["mlflow.trace.cost"])
    assert (info["state"], info["model_name"], info["session"]) == ("ERROR", "bot-v2", "session-0")
    with_feedback = api.get(f"/api/traces/{recorded.trace_ids[0]}").json()
    assert with_feedback["assessments"] == [a.to_dictionary()
                                            for a in autolog.get_trace(recorded.trace_ids[0]).info.assessments]


def test_a_span_is_the_stored_span(api: TestClient, recorded: Recorded) -> None:
    for span in autolog.get_trace(recorded.error_trace_id).data.spans:
        body = api.get(f"/api/traces/{recorded.error_trace_id}/spans/{span.span_id}").json()
        assert body == {**_skeleton(span), "inputs": span.inputs, "outputs": span.outputs,
                        "attributes": span.recorded_attributes,
                        "events": [{"name": e.name, "timestamp_ns": e.timestamp_ns, "attributes": e.attributes}
                                   for e in span.events]}


def test_markup_comes_back_as_the_exact_json_string(api: TestClient, recorded: Recorded) -> None:
    root = autolog.get_trace(recorded.script_trace_id).data.spans[0]
    response = api.get(f"/api/traces/{recorded.script_trace_id}/spans/{root.span_id}")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["inputs"] == {"question": SCRIPT, "i": 3}
    assert json.loads(response.content)["inputs"]["question"] == SCRIPT


def test_tags_are_added_and_deleted(api: TestClient, recorded: Recorded) -> None:
    trace_id = recorded.trace_ids[2]
    response = api.post(f"/api/traces/{trace_id}/tags", json={"key": "reviewed", "value": "yes"})
    assert response.status_code == 200, response.text
    assert autolog.get_trace(trace_id).info.tags["reviewed"] == "yes"
    assert api.get(f"/api/traces/{trace_id}").json()["info"]["tags"]["reviewed"] == "yes"
    assert api.delete(f"/api/traces/{trace_id}/tags/reviewed").status_code == 200
    assert "reviewed" not in autolog.get_trace(trace_id).info.tags
    assert api.delete(f"/api/traces/{trace_id}/tags/reviewed").status_code == 404
    assert api.post("/api/traces/tr-0000/tags", json={"key": "k", "value": "v"}).status_code == 404
    empty = api.post(f"/api/traces/{trace_id}/tags", json={"key": " ", "value": "v"})
    assert empty.status_code == 400 and "key" in empty.json()["message"]
    missing = api.post(f"/api/traces/{trace_id}/tags", json={"key": "k"})
    assert missing.status_code == 400 and "value" in missing.json()["message"]


def test_an_assessment_is_stored_as_the_reviewers(api: TestClient, recorded: Recorded) -> None:
    trace_id = recorded.trace_ids[1]
    llm = autolog.get_trace(trace_id).data.spans[2]
    response = api.post(f"/api/traces/{trace_id}/assessments", json={
        "kind": "feedback", "name": "helpful", "value": False, "rationale": "wrong colour", "reviewer": "bob",
        "span_id": llm.span_id})
    assert response.status_code == 200, response.text
    stored = [a for a in autolog.get_trace(trace_id).info.assessments if a.name == "helpful"]
    assert len(stored) == 1
    a = stored[0]
    assert (a.kind, a.value, a.rationale, a.source.source_type, a.source.source_id, a.span_id) == (
        "feedback", False, "wrong colour", "HUMAN", "bob", llm.span_id)
    assert response.json() == a.to_dictionary()
    expectation = api.post(f"/api/traces/{trace_id}/assessments", json={
        "kind": "expectation", "name": "expected_response", "value": "GREEN", "reviewer": "bob"})
    assert expectation.status_code == 200
    assert autolog.get_trace(trace_id).info.assessments[-1].expectation_value == "GREEN"
    row = next(r for r in _all_rows(api) if r["trace_id"] == trace_id)
    assert row["feedback"] == {"stars": 4, "helpful": False}


@pytest.mark.parametrize(("change", "field"), [({"reviewer": ""}, "reviewer"), ({"reviewer": "  "}, "reviewer"),
                                               ({"name": ""}, "name"), ({"kind": "opinion"}, "kind"),
                                               ({"span_id": "ffffffffffffffff"}, "span")])
def test_a_bad_assessment_is_refused_naming_the_field(api: TestClient, recorded: Recorded, change: dict[str, Any],
                                                      field: str) -> None:
    body = {"kind": "feedback", "name": "helpful", "value": True, "reviewer": "bob", **change}
    response = api.post(f"/api/traces/{recorded.trace_ids[1]}/assessments", json=body)
    assert response.status_code in (400, 404) and field in response.json()["message"]
    assert not [a for a in autolog.get_trace(recorded.trace_ids[1]).info.assessments if a.name == "helpful"]


def test_the_token_guards_the_api_but_not_the_page(store: autolog.Client, recorded: Recorded) -> None:
    with TestClient(create_app(store.tracking_uri, token="s3cret")) as guarded:
        assert guarded.get("/api/traces").status_code == 401
        wrong = guarded.get("/api/traces", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error_code"] == "UNAUTHENTICATED"
        right = guarded.get("/api/traces", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200 and len(right.json()["traces"]) == len(recorded.trace_ids)
        assert guarded.post(f"/api/traces/{recorded.trace_ids[0]}/tags", json={"key": "k", "value": "v"}
                            ).status_code == 401
        assert "k" not in autolog.get_trace(recorded.trace_ids[0]).info.tags
        assert guarded.get("/openapi.json").status_code == 200
        page = guarded.get("/")
        assert page.status_code in (200, 404) and page.status_code != 401  # the UI page itself holds no data


def test_a_page_of_the_list_reads_no_span(store: autolog.Client, recorded: Recorded) -> None:
    """What the list endpoint calls: the traces' rows, tags, metadata and assessments, and no span row."""
    statements: list[str] = []
    with store.store.connections.session("watching SQL") as conn:  # this thread's connection, used below too
        conn.set_trace_callback(statements.append)
    try:
        traces, _ = store.store.search_traces(None, None, None, 50, include_spans=False)
    finally:
        with store.store.connections.session("watching SQL") as conn:
            conn.set_trace_callback(None)
    assert len(traces) == len(recorded.trace_ids) and all(t.data.spans == [] for t in traces)
    assert traces[-1].info.assessments and statements
    assert not [s for s in statements if "spans" in s]
