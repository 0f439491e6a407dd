"""The filter grammar end to end: every field and operator against a real store, errors, injection, fuzzing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autolog
from autolog._store.trace_filter import compile_trace_filter, compile_trace_order_by, parse_filter


@pytest.fixture
def traces() -> dict[str, str]:
    """Five stored traces with known tags, metadata, spans, durations and feedback; name → trace id."""
    ids: dict[str, str] = {}
    specs = [
        ("alpha", {"env": "prod", "team": "Search"}, {"tenant": "acme"}, "OK", "gpt-4o", 0.2),
        ("beta", {"env": "prod", "team": "search"}, {"tenant": "globex"}, "ERROR", "gpt-4o-mini", 0.9),
        ("gamma", {"env": "dev", "mlflow.custom": "x'y"}, {}, "OK", "gpt-4o", 1.5),
        ("delta", {"env": "staging", "team": "100%_done"}, {"tenant": "acme"}, "OK", None, 0.0),
        ("epsilon", {}, {}, "OK", None, 0.0),
    ]
    for name, tags, meta, state, model, temperature in specs:
        with autolog.start_span(name, span_type="CHAIN") as root:
            autolog.update_current_trace(tags=tags, metadata=meta, client_request_id=f"req-{name}")
            if model:
                with autolog.start_span("llm", span_type="CHAT_MODEL") as llm:
                    llm.set_attributes({"mlflow.llm.model": model, "temperature": temperature})
            with autolog.start_span(f"step-{name}", span_type="TOOL"):
                pass
            if state == "ERROR":
                root.set_status("ERROR")
        ids[name] = root.trace_id
    autolog.log_feedback(ids["alpha"], "correct", True)
    autolog.log_feedback(ids["beta"], "correct", False)
    autolog.log_feedback(ids["gamma"], "score", 0.8)
    autolog.log_feedback(ids["delta"], "label", "great")
    autolog.log_expectation(ids["alpha"], "answer", "42")
    return ids


def names(traces: dict[str, str], filter_string: str, order_by: list[str] | None = None) -> set[str]:
    by_id = {v: k for k, v in traces.items()}
    found = autolog.search_traces(filter_string=filter_string, order_by=order_by, return_type="list")
    return {by_id[t.info.trace_id] for t in found}


def stored_names(backend_store: Any, traces: dict[str, str], filter_string: str,
                 order_by: list[str] | None = None) -> list[str]:
    """The names of the traces a store's search finds, in its order."""
    by_id = {v: k for k, v in traces.items()}
    found, _ = backend_store.search_traces(None, filter_string, order_by, 100)
    return [by_id[t.info.trace_id] for t in found]


@pytest.mark.parametrize(("filter_string", "expected"), [
    ("tags.env = 'prod'", {"alpha", "beta"}),
    ("tags.env != 'prod'", {"gamma", "delta"}),  # only traces that have the tag
    ("tags.env = 'prod' AND tags.team = 'search'", {"beta"}),
    ("tags.team LIKE 'S%'", {"alpha"}),  # LIKE is case-sensitive
    ("tags.team ILIKE 's%'", {"alpha", "beta"}),
    ("tags.team LIKE '100!%%'", set()),
    ("tags.team LIKE '100%\\_done'", set()),
    ("tags.team LIKE '100_\\_done'", set()),
    ("tags.team LIKE '100%_done'", {"delta"}),
    ("tags.team LIKE '%[_]%'", set()),  # GLOB metacharacters in a LIKE pattern are literal
    ("tags.env IN ('dev', 'staging')", {"gamma", "delta"}),
    ("tags.env NOT IN ('dev', 'staging')", {"alpha", "beta"}),
    ("tags.team IS NULL", {"gamma", "epsilon"}),
    ("tags.team IS NOT NULL", {"alpha", "beta", "delta"}),
    ("tags.`mlflow.custom` = 'x''y'", {"gamma"}),
    ('tags.mlflow.custom = "x\'y"', {"gamma"}),
    ("tags.`mlflow.traceName` = 'alpha'", {"alpha"}),
    ("metadata.tenant = 'acme'", {"alpha", "delta"}),
    ("request_metadata.tenant = 'globex'", {"beta"}),
    ("metadata.`mlflow.trace_schema.version` = '3' AND metadata.tenant IS NULL", {"gamma", "epsilon"}),
    ("status = 'ERROR'", {"beta"}),
    ("attributes.status = 'OK' AND tags.env = 'prod'", {"alpha"}),
    ("state != 'ERROR' AND name IN ('alpha', 'beta', 'gamma')", {"alpha", "gamma"}),
    ("trace.name LIKE '%lta'", {"delta"}),
    ("client_request_id = 'req-gamma'", {"gamma"}),
    ("span.name = 'llm'", {"alpha", "beta", "gamma"}),
    ("span.type = 'CHAT_MODEL' AND tags.env = 'dev'", {"gamma"}),
    ("span.name LIKE 'step-%a'", {"alpha", "beta", "gamma", "delta"}),
    ("span.attributes.`mlflow.llm.model` = 'gpt-4o'", {"alpha", "gamma"}),
    ("span.attributes.temperature > 0.5", {"beta", "gamma"}),
    ("span.attributes.temperature = 0.2", {"alpha"}),
    ("feedback.correct = 'true'", {"alpha"}),
    ("feedback.correct = 'false'", {"beta"}),
    ("feedback.score >= 0.5", {"gamma"}),
    ("feedback.label = 'great'", {"delta"}),
    ("expectation.answer = '42'", {"alpha"}),
    ("feedback.correct IS NOT NULL", {"alpha", "beta"}),
    ("execution_time_ms >= 0 AND timestamp_ms > 0", {"alpha", "beta", "gamma", "delta", "epsilon"}),
    ("execution_time_ms < 0", set()),
    ("timestamp_ms < 1000", set()),
])
def test_fields_and_operators(traces: dict[str, str], store: autolog.Client, copy_to_backend: Callable[..., Any],
                              filter_string: str, expected: set[str]) -> None:
    assert names(traces, filter_string) == expected  # through the client
    assert set(stored_names(copy_to_backend(store), traces, filter_string)) == expected  # each backend's SQL


def test_orders_and_pages_agree_across_backends(traces: dict[str, str], store: autolog.Client,
                                                copy_to_backend: Callable[..., Any]) -> None:
    backend_store = copy_to_backend(store)
    for order_by in (["name DESC"], ["execution_time_ms ASC"], ["execution_time_ms DESC"], ["tags.team ASC"],
                     ["tags.team DESC"], ["metadata.tenant DESC", "name"], ["timestamp_ms ASC"]):
        expected = [t.info.trace_id for t in autolog.search_traces(order_by=order_by, return_type="list")]
        found, token, pages = [], None, 0
        while True:  # two per page: every keyset cursor is crossed
            page, token = backend_store.search_traces(None, None, order_by, 2, token)
            found += [t.info.trace_id for t in page]
            pages += 1
            if token is None:
                break
        assert found == expected, order_by
        assert pages == 3
    assert backend_store.count_traces(None, "tags.env = 'prod'") == 2


def test_keywords_are_case_insensitive_and_whitespace_free(traces: dict[str, str]) -> None:
    assert names(traces, "tags.env='prod'and tags.team  ilike  'SEARCH'") == {"alpha", "beta"}


def test_order_by(traces: dict[str, str]) -> None:
    by_id = {v: k for k, v in traces.items()}
    asc = autolog.search_traces(order_by=["timestamp_ms ASC"], return_type="list")
    # oldest first to the nanosecond: within a millisecond the time-ordered ids follow the asked direction
    keys = [(t.info.request_time, int(t.info.trace_id[3:], 16)) for t in asc]
    assert keys == sorted(keys) and {by_id[t.info.trace_id] for t in asc} == set(traces)
    by_name = autolog.search_traces(order_by=["name DESC"], return_type="list")
    assert [by_id[t.info.trace_id] for t in by_name] == ["gamma", "epsilon", "delta", "beta", "alpha"]
    # MLflow's order: missing values last in both directions, then newest first, then the (time-ordered) id.
    # SQLite's DESC puts NULL last by itself, so only ASC has the (x IS NULL) key (a DESC order is an index's).
    assert compile_trace_order_by(["execution_time_ms DESC", "timestamp_ms"]) == (
        "t.execution_duration DESC, t.request_time ASC, t.trace_id ASC")
    assert compile_trace_order_by(["execution_time"]) == (
        "(t.execution_duration IS NULL) ASC, t.execution_duration ASC, t.request_time DESC, t.trace_id DESC")
    with pytest.raises(autolog.InvalidFilterError, match="ASC or DESC"):
        compile_trace_order_by(["timestamp_ms SIDEWAYS"])
    with pytest.raises(autolog.InvalidFilterError, match="one of"):
        compile_trace_order_by(["colour DESC"])
    with pytest.raises(autolog.InvalidFilterError, match=r"tag\.<key>"):
        compile_trace_order_by(["labels.env DESC"])


@pytest.mark.parametrize(("filter_string", "position", "expected"), [
    ("tags.env = ", 11, "a quoted string or number"),
    ("tags.env = 'prod' AND", 21, "a key"),
    ("AND tags.env = 'x'", 0, "a key"),
    ("tags.env = 'prod' AND AND tags.a = 'b'", 22, "a key"),
    ("tags.env = 'prod", 11, "a closing '"),
    ("tags.env = 'a' OR tags.env = 'b'", 15, "OR is not supported"),
    ("tags.env 'prod'", 9, "an operator"),
    ("tags.env", 8, "an operator"),
    ("colour = 'red'", 0, "a trace attribute"),
    ("labels.env = 'x'", 0, "a field"),
    ("execution_time_ms LIKE '5%'", 0, "a numeric operator"),
    ("timestamp_ms > 'yesterday'", 0, "a number"),
    ("tags.env > 'a'", 0, "a string operator"),
    ("tags.env IN 'a'", 12, "'(' after IN"),
    ("tags.env IN ('a' 'b')", 17, "',' or ')'"),
    ("tags.env IS 'x'", 12, "NULL after IS"),
    ("tags.env = 'a' tags.b = 'c'", 15, "AND or the end"),
    ("tags.env = 'a' ; DROP TABLE traces", 15, "a key, an operator"),
    ("span.kind = 'x'", 0, "span.name, span.type"),
    ("tags.env LIKE 5", 14, "a quoted pattern"),
])
def test_invalid_filters_name_position_and_expectation(filter_string: str, position: int, expected: str) -> None:
    with pytest.raises(autolog.InvalidFilterError) as caught:
        autolog.search_traces(filter_string=filter_string, return_type="list")
    assert caught.value.position == position, str(caught.value)
    assert expected in str(caught.value)
    assert str(caught.value).splitlines()[-1] == " " * position + "^"


@pytest.mark.parametrize("filter_string", [
    "tags.env = 'x'' OR 1=1 --'",
    "tags.env = 'prod'' OR ''1''=''1'",
    "tags.`a'; DROP TABLE traces; --` = 'x'",
    "metadata.`x\") OR 1=1 --` IS NOT NULL",
    "span.attributes.`x'] OR 1=1` = 'y'",
    "name = '\\''; DELETE FROM traces; --'",
])
def test_injection_attempts_change_nothing(store: autolog.Client, traces: dict[str, str],
                                           copy_to_backend: Callable[..., Any], filter_string: str) -> None:
    assert names(traces, filter_string) == set()
    backend_store = copy_to_backend(store)
    assert stored_names(backend_store, traces, filter_string) == []
    assert backend_store.count_traces() == 5
    db = store.tracking_uri.removeprefix("sqlite:///")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM traces").fetchone()[0] == 5
    conn.close()


def test_values_and_keys_are_always_bound_parameters() -> None:
    sql, params = compile_trace_filter("tags.`evil'key` = 'v''al' AND span.attributes.k LIKE 'a%' AND "
                                       "feedback.f = 'true' AND timestamp_ms > 5")
    assert "evil" not in sql and "v'al" not in sql and "true" not in sql and " 5" not in sql
    # The span clause comes last: the span clauses of a filter become one EXISTS (one span must match them all).
    session_part = ["mlflow.trace.session", "mlflow.trace.session", "feedback", "f", '%"mlflow.trace.session":%']
    assert params == ["evil'key", "v'al", "feedback", "f", "true", *session_part, "true", 5.0, "k", "a*"]


def test_two_tag_filter_uses_the_key_value_index(store: autolog.Client, traces: dict[str, str]) -> None:
    where, params = compile_trace_filter("tags.env = 'prod' AND tags.team = 'search'")
    conn = sqlite3.connect(store.tracking_uri.removeprefix("sqlite:///"))
    plan = conn.execute(f"EXPLAIN QUERY PLAN SELECT t.trace_id FROM traces t WHERE {where} "
                        "ORDER BY t.request_time DESC LIMIT 100", params).fetchall()
    conn.close()
    details = " | ".join(row[-1] for row in plan)
    assert details.count("ix_trace_tags_key_value") == 2, details


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("tags.env=!<>'\"`() ,%_ANDORINOTISNUL0123456789-x ")), max_size=40))
def test_fuzz_any_input_parses_or_raises_invalid_filter(text: str) -> None:
    try:
        parse_filter(text)
        compile_trace_filter(text)
    except autolog.InvalidFilterError as exc:
        assert 0 <= exc.position <= len(text)
