"""Item 15: every bad filter is an ``InvalidFilterError`` with a position, and long AND chains work.

A feedback or span-attribute value compared with ``<``/``>`` to a word raised ``ValueError``;
995 or more AND clauses raised ``sqlite3.OperationalError: Expression tree is too large``
(for traces and for LoggedModels), because a flat chain of N terms nests N deep.
"""

from __future__ import annotations

import random

import pytest

import autolog

MAX_FILTER_VALUES = 20_000  # the limit the README documents (autolog._store.filter_sql.MAX_FILTER_VALUES)

def _trace(env: str, score: float) -> str:
    with autolog.start_span("root") as span:
        autolog.update_current_trace(tags={"env": env, "team": "search"})
        span.set_attributes({"score": score})
    autolog.log_feedback(span.trace_id, "rating", score)
    return span.trace_id


@pytest.mark.parametrize("filter_string", [
    "feedback.x > 'abc'",
    "feedback.rating <= 'high'",
    "expectation.answer < 'b'",
    "span.attributes.score >= 'abc'",
])
def test_ordering_a_json_value_against_a_word_is_an_invalid_filter(filter_string: str) -> None:
    with pytest.raises(autolog.InvalidFilterError) as caught:
        autolog.search_traces(filter_string=filter_string, return_type="list")
    assert caught.value.position == 0
    assert "a number to compare" in str(caught.value)


def test_numeric_comparisons_of_json_values_still_work() -> None:
    low, high = _trace("dev", 0.2), _trace("prod", 0.9)
    assert autolog.flush(10)
    assert [t.info.trace_id for t in autolog.search_traces(filter_string="feedback.rating > 0.5",
                                                           return_type="list")] == [high]
    assert [t.info.trace_id for t in autolog.search_traces(filter_string="span.attributes.score < '0.5'",
                                                           return_type="list")] == [low]


@pytest.mark.parametrize("clauses", [995, 1000, 2000])
def test_long_and_chains_are_searched(clauses: int) -> None:
    wanted = _trace("prod", 1.0)
    _trace("dev", 1.0)
    assert autolog.flush(10)
    filter_string = " AND ".join(["tags.team = 'search'"] * (clauses - 1) + ["tags.env = 'prod'"])
    assert [t.info.trace_id for t in autolog.search_traces(filter_string=filter_string,
                                                           return_type="list")] == [wanted]
    model = autolog.create_external_model(name="agent", params={"k": "v"}, tags={"team": "search"})
    other = autolog.create_external_model(name="other", params={"k": "v"})
    model_filter = " AND ".join(["params.k = 'v'"] * (clauses - 1) + ["tags.team = 'search'"])
    assert [m.model_id for m in autolog.search_logged_models(filter_string=model_filter,
                                                                output_format="list")] == [model.model_id]
    assert other.model_id != model.model_id


def test_a_filter_past_the_documented_limit_is_a_clear_error() -> None:
    filter_string = " AND ".join(["tags.team = 'search'"] * (MAX_FILTER_VALUES // 2 + 1))
    with pytest.raises(autolog.InvalidFilterError, match=f"at most {MAX_FILTER_VALUES:,} values") as caught:
        autolog.search_traces(filter_string=filter_string, return_type="list")
    assert 0 < caught.value.position < len(filter_string)
    with pytest.raises(autolog.InvalidFilterError, match="at most"):
        autolog.search_logged_models(filter_string=filter_string.replace("tags.team", "params.k"))


@pytest.mark.parametrize(("filter_string", "position"), [
    ("tags.x = '\ud800'", 10),                                   # a lone surrogate SQLite cannot bind
    ("tags.x LIKE '" + "%" * 60_000 + "'", 0),                   # past SQLite's LIKE pattern limit
])
def test_inputs_sqlite_would_refuse_are_invalid_filters(filter_string: str, position: int) -> None:
    with pytest.raises(autolog.InvalidFilterError) as caught:
        autolog.search_traces(filter_string=filter_string, return_type="list")
    assert caught.value.position == position


def test_a_number_longer_than_python_parses_is_a_bound_like_any_other() -> None:
    _trace("prod", 0.5)
    assert autolog.flush(10)
    assert autolog.search_traces(filter_string="execution_time_ms > " + "9" * 5000, return_type="list") == []
    assert len(autolog.search_traces(filter_string="execution_time_ms < " + "9" * 5000, return_type="list")) == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"filter_string": 5}, "filter_string must be a str"),
    ({"filter_string": b"tags.env = 'x'"}, "filter_string must be a str"),
    ({"order_by": "timestamp_ms DESC"}, "order_by must be a list of str"),
    ({"order_by": [("timestamp_ms", "DESC")]}, "order_by must be a list of str"),
])
def test_a_filter_or_order_of_the_wrong_type_is_a_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(autolog.InvalidArgumentError, match=message):
        autolog.search_traces(return_type="list", **kwargs)  # type: ignore[arg-type]


_KEYS = ["tags.env", "tags.`a b`", "metadata.m", "span.name", "span.type", "span.attributes.score",
         "span.attributes.`x.y`", "feedback.rating", "expectation.answer", "attributes.status", "status", "name",
         "timestamp_ms", "execution_time_ms", "run_id", "trace.model_id", "labels.x", "`bare`", "colour"]
_OPS = ["=", "!=", "<>", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL", "IS", "=="]
_VALUES = ["'prod'", "'%o%'", "'abc'", "'1.5'", "\"dq\"", "1", "-2", "0.5", "1e309", "9" * 30, "'\ud800'",
           "'\x00'", "'it''s'", "''", "('a', 'b')", "(1, 2)", "('a' 'b')", "()", "NULL", "tags.env"]
_NOISE = ["", "'", "`", "(", ")", " ", ",", ".", "\u00e9", "\U0001f600", "AND", "OR", "\\"]


def _fuzzed(rng: random.Random) -> str:
    """A filter of 1-4 clauses built from real keys, operators and values, then sometimes damaged."""
    clauses = []
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(_OPS)
        value = "" if op.startswith("IS ") else rng.choice(_VALUES)
        clauses.append(f"{rng.choice(_KEYS)} {op} {value}".strip())
    text = rng.choice([" AND ", " AND ", " and ", " OR "]).join(clauses)
    for _ in range(rng.choice([0, 0, 1, 2])):  # a character cut, inserted or replaced
        i = rng.randrange(len(text) + 1)
        text = text[:i] + rng.choice(_NOISE) + text[i + rng.randint(0, 1):]
    return text


def test_fuzzed_filters_run_or_raise_invalid_filter_error() -> None:
    _trace("prod", 0.5)
    assert autolog.flush(10)
    rng = random.Random(16)
    ran = refused = 0
    for _ in range(5000):
        text = _fuzzed(rng)
        try:
            autolog.search_traces(filter_string=text, return_type="list")
            ran += 1
        except autolog.InvalidFilterError as exc:
            assert 0 <= exc.position <= len(text), text
            refused += 1
    assert ran > 100 and refused > 100  # both kinds were exercised
