"""Trace search answers as MLflow 3.17's, without MLflow: autolog against data/parity_expected.json.

bench/mlflow_parity.py wrote the golden file: MLflow's answer (the sorted ``idx`` tags of the
traces found, or an error) to every filter string of bench/mlflow_parity_filters.txt, over the
traces of parity_data.py. Here autolog searches the same traces, built once for the module, and
must answer each filter as MLflow did: the same traces, or an error where MLflow raised. The
order_by entries compare the traces in order.

KNOWN_DIFFERENCES are autolog's deliberate departures; each asserts autolog's own answer:
ERROR (autolog raises), EMPTY (nothing found), or another golden filter whose MLflow answer is
autolog's (the MLflow way to ask what autolog answers). Regenerate the golden file with
``python bench/mlflow_parity.py --write-golden`` (nox -s mlflow_parity -- --write-golden).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog._client import Client
from tests.mlflow_compat.parity_data import build_traces

GOLDEN = json.loads((Path(__file__).parent / "data" / "parity_expected.json").read_text(encoding="utf-8"))
ERROR = "error"
EMPTY = "empty"

_SPAN_ATTR = ("span.attributes.<k> compares the attribute's value (=, LIKE as over a column); MLflow matches a "
              "pattern over the span's JSON, so its = and LIKE without wildcards find nothing")
_SPAN_ATTR_NE = "span.attributes.<k> != 'v': spans that have the attribute with another value; MLflow: every span"
_SPAN_ATTR_RLIKE = ("span.attributes.<k> RLIKE on a number's text; MLflow's RLIKE assumes a JSON-encoded string "
                    "(^ becomes '\"\\\"'), so '^4' finds no number")
_SPAN_ATTR_JSON = "a pattern over MLflow's span JSON (': \"4'): autolog matches patterns against the value itself"
_ASSESSMENT_TEXT = ("feedback / expectation values compare as their decoded value ('positive'), not their JSON "
                    "text ('\"positive\"') as MLflow's LIKE does and its = also does")
_BOOL_CASE = "'True' / 'TRUE' read as the JSON boolean true, as 'true' (MLflow: only 'true')"
_IN = "autolog takes IN / NOT IN on every string field (MLflow: attributes and spans only)"
_UNQUOTED = "an unquoted number compares with a numeric feedback / expectation value (MLflow wants a quoted string)"
_LENIENT = "accepted and finds nothing, where MLflow raises: a number for a tag, IS NULL on status"
_STRICT = "a malformed filter is an error, where MLflow's parser lets it through"
_NO_ISSUES = "issue.id filters (MLflow 3.17's issue references) are not supported"
_END_TIME_ORDER = "order_by end_time_ms works in autolog; MLflow 3.17 raises (SqlTraceInfo has no end_time_ms)"

KNOWN_DIFFERENCES: dict[str, tuple[str, str]] = {
    # filter: (what autolog answers, why)
    "span.attributes.label = 'L1'": ("span.attributes.label RLIKE '^L1$'", _SPAN_ATTR),
    'span.attributes.label = "L2"': ("span.attributes.label RLIKE '^L2$'", _SPAN_ATTR),
    "span.attributes.`label` = 'L1'": ("span.attributes.label RLIKE '^L1$'", _SPAN_ATTR),
    "span.attributes.label LIKE 'L1'": ("span.attributes.label RLIKE '^L1$'", _SPAN_ATTR),
    "span.attributes.round = '3'": ("span.attributes.round LIKE '%: \"3\"%'", _SPAN_ATTR),
    "span.attributes.label = 'L0' AND span.type = 'TOOL'":
        ("span.attributes.label RLIKE '^L0$' AND span.type = 'TOOL'", _SPAN_ATTR),
    "span.attributes.label != 'L1'": ("span.attributes.label RLIKE '^L[02]$'", _SPAN_ATTR_NE),
    "span.attributes.score RLIKE '^4'": ("span.attributes.score LIKE '%: \"4%'", _SPAN_ATTR_RLIKE),
    "span.attributes.score LIKE '%: \"4%'": (EMPTY, _SPAN_ATTR_JSON),
    "span.attributes.round LIKE '%: \"3\"%'": (EMPTY, _SPAN_ATTR_JSON),
    "feedback.sentiment = '\"positive\"'": (EMPTY, _ASSESSMENT_TEXT),
    "feedback.sentiment LIKE '\"positive\"'": (EMPTY, _ASSESSMENT_TEXT),
    "feedback.sentiment LIKE 'positive'": ("feedback.sentiment = 'positive'", _ASSESSMENT_TEXT),
    "expectation.expected_answer = '\"about stock prices\"'": (EMPTY, _ASSESSMENT_TEXT),
    "feedback.correctness = 'True'": ("feedback.correctness = 'true'", _BOOL_CASE),
    "name IN ('agent', 'chat')": ("name RLIKE '^(agent|chat)$'", _IN),
    "name IN ('nope')": (EMPTY, _IN),
    "name NOT IN ('agent', 'chat')": ("name RLIKE '^(rag_pipeline|summarize|classify)$'", _IN),
    "trace.name IN ('summarize')": ("attributes.name = 'summarize'", _IN),
    "tags.env IN ('prod', 'dev')": ("tags.env RLIKE '^(prod|dev)$'", _IN),
    "metadata.custom_key IN ('v0')": ("metadata.custom_key = 'v0'", _IN),
    "span.attributes.label IN ('L0', 'L1')": ("span.attributes.label RLIKE '^L[01]$'", _IN),
    "feedback.relevance IN ('0.5')": ("feedback.relevance = '0.5'", _IN),
    "expectation.expected_count > 0 AND name IN ('chat', 'agent')":
        ("expectation.expected_count > 0 AND name RLIKE '^(chat|agent)$'", _IN),
    "feedback.relevance = 0.6": ("feedback.relevance = '0.6'", _UNQUOTED),
    "expectation.expected_count = 3": ("expectation.expected_count = '3'", _UNQUOTED),
    "tags.env = 5": (EMPTY, _LENIENT),
    "status IS NULL": (EMPTY, _LENIENT),
    "timestamp_ms = 'abc'": (ERROR, _STRICT),
    "tags.env = 'prod' AND": (ERROR, _STRICT),
    "issue.id = 'issue-1'": (ERROR, _NO_ISSUES),
    # order_by lines: "<terms> | <filter>"
    "end_time_ms DESC | timestamp_ms < 1600000000000": ("timestamp_ms DESC | timestamp_ms < 1600000000000",
                                                        _END_TIME_ORDER),
}


@pytest.fixture(scope="module")
def parity_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """The parity traces in their own store (built once), and a client reading it."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('parity') / 'parity.db'}"
    autolog.configure(uri, schedule_delay_millis=20)
    build_traces(autolog)
    assert autolog.flush(10)
    client = Client(uri)
    yield client
    client.shutdown()


def _search(client: Client, filter_string: str | None, order_by: list[str] | None, ordered: bool) -> Any:
    try:
        traces = client.search_traces(filter_string=filter_string, order_by=order_by, max_results=1000)
    except (autolog.AutologError, ValueError) as exc:
        return {"error": str(exc)}
    found = [int(t.info.tags["idx"]) for t in traces]
    return found if ordered else sorted(found)


def _split(line: str) -> tuple[list[str], str | None]:
    terms, _, filter_string = line.partition("|")
    return [t.strip() for t in terms.split(",") if t.strip()], filter_string.strip() or None


def _expected(key: str, section: str) -> Any:
    """MLflow's answer, or for a known difference autolog's documented one."""
    if key not in KNOWN_DIFFERENCES:
        return GOLDEN[section][key]
    expect, _reason = KNOWN_DIFFERENCES[key]
    if expect == ERROR:
        return ERROR
    if expect == EMPTY:
        return []
    return GOLDEN[section][expect]


def _check(actual: Any, expected: Any) -> None:
    if expected == ERROR or isinstance(expected, dict):
        assert isinstance(actual, dict), f"MLflow raises {expected}; autolog found {actual}"
    else:
        assert not isinstance(actual, dict), f"autolog raised {actual['error']}"
        assert actual == expected, (f"only MLflow: {sorted(set(expected) - set(actual))}, "
                                    f"only autolog: {sorted(set(actual) - set(expected))}")


def test_known_differences_are_in_the_golden_file() -> None:
    keys = {*GOLDEN["filters"], *GOLDEN["order_by"]}
    assert set(KNOWN_DIFFERENCES) <= keys
    for expect, reason in KNOWN_DIFFERENCES.values():
        assert reason
        assert expect in (ERROR, EMPTY) or expect in keys


@pytest.mark.parametrize("filter_string", list(GOLDEN["filters"]))
def test_filter_as_mlflow(parity_client: Client, filter_string: str) -> None:
    _check(_search(parity_client, filter_string, None, ordered=False), _expected(filter_string, "filters"))


@pytest.mark.parametrize("line", list(GOLDEN["order_by"]))
def test_order_by_as_mlflow(parity_client: Client, line: str) -> None:
    order_by, filter_string = _split(line)
    _check(_search(parity_client, filter_string, order_by, ordered=True), _expected(line, "order_by"))
