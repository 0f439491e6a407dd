"""MLflow 3's trace-search grammar and semantics beyond the basics of tests/store/test_filters.py.

RLIKE on every string field, span.content and trace.text, end_time_ms and the execution_time
alias, prompt = 'name/version', span clauses that must hold for one span, session-scoped
feedback, and MLflow's ordering: tag and metadata keys, missing values last, ties newest first.
"""

from __future__ import annotations

import json

import pytest

import autolog
from autolog._store.trace_filter import compile_trace_filter

SESSION = "mlflow.trace.session"


@pytest.fixture
def traces() -> dict[str, str]:
    """Four stored traces, name → trace id.

    a: search_web failed (ERROR) and llm_call worked; session s1; prompt qa/1
    b: search_web worked and llm_call failed; session s1; prompt qa/2
    c: only llm_call; session s2; tag `team` "Search"
    d: nothing but its root; no session, no tags
    """
    ids: dict[str, str] = {}
    specs = {
        "a": ("ERROR", "OK", "s1", [{"name": "qa", "version": "1"}], {}),
        "b": ("OK", "ERROR", "s1", [{"name": "qa", "version": "2"}, {"name": "summary", "version": "7"}], {}),
        "c": (None, "OK", "s2", None, {"team": "Search"}),
        "d": (None, None, None, None, {}),
    }
    for name, (search_status, llm_status, session, prompts, tags) in specs.items():
        with autolog.start_span(f"agent-{name}", span_type="AGENT") as root:
            root.set_inputs({"question": f"What is the weather in Paris for {name}?"})
            metadata = {SESSION: session} if session else {}
            if prompts:
                tags = {**tags, "mlflow.linkedPrompts": json.dumps(prompts)}
            autolog.update_current_trace(tags={"who": name, **tags}, metadata=metadata)
            if search_status:
                with autolog.start_span("search_web", span_type="TOOL") as span:
                    span.set_attributes({"query": f"weather paris {name}", "engine": "Bing"})
                    span.set_status(search_status)
            if llm_status:
                with autolog.start_span("llm_call", span_type="CHAT_MODEL") as span:
                    span.set_attributes({"model": "gpt-4o-mini"})
                    span.set_outputs({"answer": "Sunny and 21 degrees"})
                    span.set_status(llm_status)
            root.set_outputs(f"answer for {name}")
        ids[name] = root.trace_id
    return ids


def found(traces: dict[str, str], filter_string: str) -> set[str]:
    assert autolog.flush() is True
    by_id = {v: k for k, v in traces.items()}
    return {by_id[t.info.trace_id] for t in autolog.search_traces(filter_string=filter_string, return_type="list")}


@pytest.mark.parametrize(("filter_string", "expected"), [
    # span clauses joined by AND hold for the same span: a failed search, not a search and a failure
    ("span.name = 'search_web' AND span.status = 'ERROR'", {"a"}),
    ("span.name = 'llm_call' AND span.status = 'ERROR'", {"b"}),
    ("span.status = 'ERROR'", {"a", "b"}),
    ("span.name = 'search_web' AND span.type = 'TOOL' AND span.attributes.engine = 'Bing'", {"a", "b"}),
    ("span.name = 'llm_call' AND span.attributes.engine = 'Bing'", set()),
    # RLIKE (Python regular expressions, re.search) on strings of every kind
    ("span.name RLIKE '^search'", {"a", "b"}),
    ("span.attributes.query RLIKE 'paris [ab]$'", {"a", "b"}),
    ("name RLIKE 'agent-[cd]'", {"c", "d"}),
    ("tags.who RLIKE '^(a|d)$'", {"a", "d"}),
    ("metadata.`mlflow.trace.session` RLIKE '1$'", {"a", "b"}),
    ("status RLIKE 'OK|ERROR'", {"a", "b", "c", "d"}),
    ("tags.team RLIKE '(?i)^search'", {"c"}),
    # span.content: a span's inputs, outputs and attributes; trace.text: any span's
    ("span.content LIKE '%Sunny%'", {"a", "b", "c"}),
    ("span.content ILIKE '%sunny%'", {"a", "b", "c"}),
    ("span.content LIKE '%sunny%'", set()),  # LIKE is case-sensitive
    ("trace.text LIKE '%Paris for d%'", {"d"}),
    ("trace.text ILIKE '%BING%'", {"a", "b"}),
    ("trace.text RLIKE 'weather paris [bc]'", {"b"}),
    ("trace.text LIKE '%Bing%' AND span.name = 'llm_call'", set()),  # the same span, as MLflow's
    # prompt = 'name/version': the prompt versions linked to the trace
    ("prompt = 'qa/1'", {"a"}),
    ("prompt = 'summary/7'", {"b"}),
    ("prompt = 'qa/3'", set()),
])
def test_filter(traces: dict[str, str], filter_string: str, expected: set[str]) -> None:
    assert found(traces, filter_string) == expected


def test_end_time_and_the_execution_time_alias(traces: dict[str, str]) -> None:
    assert autolog.flush() is True
    every = autolog.search_traces(return_type="list")
    ends = sorted(t.info.request_time + (t.info.execution_duration or 0) for t in every)
    assert found(traces, f"trace.end_time_ms >= {ends[-1]}") == found(traces, f"end_time >= {ends[-1]}") != set()
    assert found(traces, f"end_time_ms < {ends[0]}") == set()
    assert found(traces, "execution_time >= 0") == found(traces, "execution_time_ms >= 0") == set(traces)


def test_session_scoped_feedback_applies_to_every_trace_of_the_session(traces: dict[str, str]) -> None:
    autolog.log_feedback(traces["a"], "session_quality", "good", metadata={SESSION: "s1"})
    autolog.log_feedback(traces["c"], "trace_quality", "bad")  # not session-scoped: its trace only
    assert found(traces, "feedback.session_quality = 'good'") == {"a", "b"}
    assert found(traces, "feedback.session_quality IS NOT NULL") == {"a", "b"}
    assert found(traces, "feedback.session_quality IS NULL") == {"c", "d"}
    assert found(traces, "feedback.session_quality = 'bad'") == set()
    assert found(traces, "feedback.trace_quality = 'bad'") == {"c"}


def test_bad_uses_are_clear_errors() -> None:
    with pytest.raises(autolog.InvalidFilterError, match="regular expression") as err:
        compile_trace_filter("tags.x RLIKE 'a(b'")
    assert err.value.position == 0
    with pytest.raises(autolog.InvalidFilterError, match="LIKE, ILIKE or RLIKE"):
        compile_trace_filter("span.content = 'x'")
    with pytest.raises(autolog.InvalidFilterError, match="name/version"):
        compile_trace_filter("prompt = 'qa'")
    with pytest.raises(autolog.InvalidFilterError, match="name/version"):
        compile_trace_filter("prompt LIKE 'qa/%'")
    with pytest.raises(autolog.InvalidFilterError, match="numeric operator"):
        compile_trace_filter("end_time_ms RLIKE '1'")


def _order(traces: dict[str, str], order_by: list[str]) -> list[str]:
    assert autolog.flush() is True
    by_id = {v: k for k, v in traces.items()}
    return [by_id[t.info.trace_id] for t in autolog.search_traces(order_by=order_by, return_type="list")]


def test_order_by_tags_and_metadata_with_missing_values_last(traces: dict[str, str]) -> None:
    assert _order(traces, ["tag.who DESC"]) == ["d", "c", "b", "a"]
    assert _order(traces, ["tags.`who` ASC"]) == ["a", "b", "c", "d"]
    # d has no session: last in both directions; a and b tie on s1 and come newest first
    assert _order(traces, ["metadata.`mlflow.trace.session` DESC"]) == ["c", "b", "a", "d"]
    assert _order(traces, ["metadata.`mlflow.trace.session` ASC"]) == ["b", "a", "c", "d"]
    assert _order(traces, ["tag.team"]) == ["c", "d", "b", "a"]  # one has the tag, then newest first


def test_order_by_aliases_and_ties(traces: dict[str, str]) -> None:
    newest_first = _order(traces, [])
    assert newest_first == ["d", "c", "b", "a"]
    oldest_first = autolog.search_traces(order_by=["timestamp"], return_type="list")
    # Ascending to the nanosecond: within a millisecond the time-ordered ids follow the asked direction.
    assert [t.info.trace_id for t in oldest_first] == [traces[n] for n in "abcd"]
    assert _order(traces, ["timestamp DESC"]) == newest_first
    by_duration = autolog.search_traces(order_by=["execution_time DESC"], return_type="list")
    durations = [t.info.execution_duration for t in by_duration]
    assert durations == sorted(durations, reverse=True)
    assert _order(traces, ["status"]) == ["d", "c", "b", "a"]  # every root OK: all tie, newest first


def test_pages_of_a_tag_ordering_are_complete(traces: dict[str, str]) -> None:
    assert autolog.flush() is True
    client = autolog._client.get_default_client()
    seen: list[str] = []
    token = None
    while True:
        page = client.search_traces(order_by=["tag.team DESC"], max_results=1, page_token=token)
        seen.extend(t.info.trace_id for t in page)
        token = page.token
        if token is None:
            break
    assert seen == [traces[n] for n in ("c", "d", "b", "a")]


def test_evaluating_existing_traces_links_them_to_the_run(traces: dict[str, str]) -> None:
    from autolog.genai import scorer

    @scorer
    def has_answer(outputs: object) -> bool:
        return "answer" in str(outputs)

    assert autolog.flush() is True
    existing = [autolog.get_trace(traces[n]) for n in ("a", "c")]
    result = autolog.genai.evaluate(data=existing, scorers=[has_answer])
    assert result.metrics == {"has_answer/mean": 1.0}
    assert found(traces, f"run_id = '{result.run_id}'") == {"a", "c"}
    assert found(traces, f"run_id IN ('{result.run_id}', 'r-none')") == {"a", "c"}
    assert found(traces, "run_id = 'r-none'") == set()
