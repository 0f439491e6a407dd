"""search_traces over the store: DataFrame shape, pagination, model filter, assessments, order."""

from __future__ import annotations

import base64

import pytest

import autolog


def _make(n: int) -> list[str]:
    ids = []
    for i in range(n):
        with autolog.start_span(f"req-{i % 3}", span_type="CHAIN") as span:
            span.set_inputs({"i": i})
            autolog.update_current_trace(tags={"parity": "even" if i % 2 == 0 else "odd", "i": str(i)})
            with autolog.start_span("llm", span_type="CHAT_MODEL") as llm:
                llm.set_attributes({"mlflow.chat.tokenUsage": {"input_tokens": i, "output_tokens": 1,
                                                               "total_tokens": i + 1}})
            span.set_outputs(i * 10)
        ids.append(span.trace_id)
    return ids


def test_dataframe_has_the_documented_columns() -> None:
    ids = _make(3)
    df = autolog.search_traces()
    # MLflow 3.17's columns in its order, then autolog's (MLflow 2's status / execution_time_ms, token_usage)
    assert list(df.columns) == ["trace_id", "trace", "client_request_id", "state", "request_time",
                                "execution_duration", "request", "response", "trace_metadata", "tags", "spans",
                                "assessments", "status", "execution_time_ms", "token_usage"]
    assert list(df["trace_id"]) == ids[::-1]  # newest first
    row = df.iloc[-1]
    assert row["request"] == {"i": 0} and row["response"] == 0
    assert row["state"] == row["status"] == "OK"
    assert row["execution_time_ms"] == row["execution_duration"]
    assert row["token_usage"] == {"input_tokens": 0, "output_tokens": 1, "total_tokens": 1}
    # MLflow's cells: the trace's JSON text, spans and assessments as MLflow's dicts
    assert autolog.Trace.from_json(row["trace"]).info.trace_id == row["trace_id"]
    assert [s["name"] for s in row["spans"]] == [s.name for s in autolog.get_trace(row["trace_id"]).data.spans]
    autolog.log_feedback(trace_id=ids[0], name="good", value=True, rationale="r")
    (cell,) = autolog.search_traces(filter_string="feedback.good = 'true'")["assessments"]
    assert [(a["assessment_name"], a["feedback"], a["rationale"], a["source"]["source_type"]) for a in cell] == [
        ("good", {"value": True}, "r", "CODE")]
    assert autolog.Assessment.from_dictionary(cell[0]).value is True


def test_filters_ordering_and_max_results() -> None:
    _make(10)
    odd = autolog.search_traces(filter_string="tags.parity = 'odd'", return_type="list",
                                order_by=["timestamp_ms ASC"])
    assert [t.info.tags["i"] for t in odd] == ["1", "3", "5", "7", "9"]
    two = autolog.search_traces(filter_string="tags.parity = 'odd' AND name = 'req-1'", return_type="list")
    assert sorted(t.info.tags["i"] for t in two) == ["1", "7"]
    assert len(autolog.search_traces(max_results=4, return_type="list")) == 4
    assert len(autolog.search_traces(filter_string="span.type = 'CHAT_MODEL'", return_type="list")) == 10
    with pytest.raises(autolog.InvalidFilterError) as err:
        autolog.search_traces(filter_string="tags.parity = 'odd' AND")
    assert err.value.position == 23


def test_client_pagination_is_complete_and_stable() -> None:
    ids = _make(25)
    client = autolog._client.get_default_client()
    seen: list[str] = []
    token = None
    while True:
        page = client.search_traces(max_results=7, page_token=token)
        seen.extend(t.info.trace_id for t in page)
        token = page.token
        if token is None:
            break
        assert isinstance(token, str) and b"offset" not in base64.urlsafe_b64decode(token)  # a keyset cursor
        _make(2)  # newer traces written between pages must not shift the next page (an OFFSET would)
    assert len(seen) == len(set(seen)), "a trace was returned twice"
    assert seen == ids[::-1], "traces were skipped or reordered"  # exactly the 25, newest first


def test_feedback_is_stored_and_searchable() -> None:
    ids = _make(3)
    autolog.log_feedback(ids[0], "correct", True, source=autolog.AssessmentSource("HUMAN", "alice"),
                         rationale="matches the docs")
    autolog.log_feedback(ids[1], "correct", False)
    autolog.log_expectation(ids[1], "answer", "42")
    found = autolog.search_traces(filter_string="feedback.correct = 'true'", return_type="list")
    assert [t.info.trace_id for t in found] == [ids[0]]
    (assessment,) = found[0].info.assessments
    assert (assessment.name, assessment.value, assessment.source.source_type, assessment.rationale) == (
        "correct", True, "HUMAN", "matches the docs")
    assert [t.info.trace_id for t in autolog.search_traces(filter_string="expectation.answer = '42'",
                                                           return_type="list")] == [ids[1]]


def test_get_trace_of_unknown_id_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(autolog.ResourceDoesNotExist, match="tr-nope"):
        autolog.Client().get_trace("tr-nope")
    assert autolog.get_trace("tr-nope") is None  # as mlflow.get_trace: None and a logged warning
    assert "tr-nope" in caplog.text


def test_pandas_missing_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pandas(name: str, *args: object, **kwargs: object) -> object:
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match=r"autolog-genai\[pandas\]"):
        autolog.search_traces(return_type="pandas")
    assert autolog.search_traces(return_type="list") == []
    assert autolog.search_traces() == []  # as MLflow: without pandas the default is a list
