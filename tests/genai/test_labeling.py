"""Label schemas and labeling sessions: answers checked against their schema, written as HUMAN assessments."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog._store.schema import MIGRATIONS, SCHEMA_VERSION
from autolog.exceptions import InvalidArgumentError, ResourceDoesNotExist
from autolog.genai import labeling
from autolog.genai.label_schemas import (
    InputCategorical,
    InputCategoricalList,
    InputNumeric,
    InputPassFail,
    InputText,
    InputTextList,
    LabelSchema,
    create_label_schema,
    delete_label_schema,
    get_label_schema,
    list_label_schemas,
)


def _traces(n: int) -> list[str]:
    ids = []
    for i in range(n):
        with autolog.start_span(f"ask-{i}") as span:
            span.set_inputs({"q": i})
            span.set_outputs(f"answer {i}")
        ids.append(span.trace_id)
    return ids


def _assessments(trace_id: str) -> list[tuple[Any, ...]]:
    assert autolog.flush()
    return [(a.name, a.kind, a.value, a.source.source_type, a.source.source_id, a.rationale, a.metadata, a.valid)
            for a in autolog.get_trace(trace_id).info.assessments]


@pytest.mark.parametrize(("schema_input", "good", "bad", "allowed"), [
    (InputPassFail(), [(True, True), (False, False), ("pass", True), ("Fail", False), ("yes", True), ("NO", False)],
     ["maybe", 1, None], "True or False"),
    (InputCategorical(["formal", "casual"]), [("formal", "formal"), ("casual", "casual")],
     ["Formal", "rude", 1, None], "one of ['formal', 'casual']"),
    (InputCategoricalList(["a", "b", "c"]), [(["a"], ["a"]), (("c", "a"), ["c", "a"]), ([], [])],
     ["a", ["d"], ["a", "a"]], "distinct values from ['a', 'b', 'c']"),
    (InputNumeric(min_value=1, max_value=5), [(1, 1), (5, 5), (2.5, 2.5)],
     [0, 5.5, True, math.nan, math.inf, "3", None], "a number from 1 to 5"),
    (InputNumeric(), [(-1e9, -1e9), (0, 0)], [math.nan, -math.inf, False], "a number from -inf to inf"),
    (InputText(max_length=5), [("hello", "hello"), ("", "")], ["too long", 5, None], "a str of at most 5"),
    (InputText(), [("x" * 10_000, "x" * 10_000)], [b"bytes", ["x"]], "a str"),
    (InputTextList(max_length_each=3, max_count=2), [(["ab", "c"], ["ab", "c"]), ([], [])],
     [["abcd"], ["a", "b", "c"], "ab", [1]], "a list of str (at most 2 of them, each at most 3 characters)"),
])
def test_every_input_type_normalises_good_values_and_names_the_schema_for_bad_ones(
        schema_input: Any, good: list[tuple[Any, Any]], bad: list[Any], allowed: str) -> None:
    schema = LabelSchema("quality", type="feedback", input=schema_input)
    for value, normalised in good:
        assert schema.validate(value) == normalised
        assert type(schema.validate(value)) is type(normalised)
    for value in bad:
        with pytest.raises(InvalidArgumentError) as caught:
            schema.validate(value)
        message = str(caught.value)
        assert "'quality'" in message and repr(value) in message and allowed in message


@pytest.mark.parametrize(("make", "message"), [
    (lambda: InputCategorical([]), "non-empty list of distinct str"),
    (lambda: InputCategorical(["a", "a"]), "non-empty list of distinct str"),
    (lambda: InputCategorical("ab"), "non-empty list of distinct str"),
    (lambda: InputNumeric(min_value=3, max_value=1), "min_value 3 is above max_value 1"),
    (lambda: InputNumeric(min_value=math.nan), "finite numbers"),
    (lambda: InputText(max_length=0), "max_length must be a positive int"),
    (lambda: LabelSchema("", input=InputText()), "non-empty str"),
    (lambda: LabelSchema("x", type="score", input=InputText()), "'x': type must be 'feedback' or 'expectation'"),
    (lambda: LabelSchema("x", input="text"), "'x': input must be one of InputPassFail"),
])
def test_bad_schema_definitions_are_refused(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        make()


def test_label_schemas_are_stored_per_experiment() -> None:
    tone = create_label_schema("tone", type="feedback", input=InputCategorical(["formal", "casual"]),
                               instruction="How does it sound?", enable_comment=True)
    assert tone.title == "tone"  # the title defaults to the name
    assert get_label_schema("tone") == tone
    with pytest.raises(InvalidArgumentError, match=r"'tone' already exists in experiment '0'.*overwrite=True"):
        create_label_schema("tone", type="feedback", input=InputPassFail())
    replaced = create_label_schema("tone", type="expectation", input=InputText(), overwrite=True)
    assert get_label_schema("tone") == replaced
    create_label_schema("answer", type="expectation", input=InputText(max_length=100), title="Expected answer")
    assert [s.name for s in list_label_schemas()] == ["answer", "tone"]

    autolog.set_experiment("other")
    with pytest.raises(ResourceDoesNotExist, match="label schema 'tone' does not exist in experiment"):
        get_label_schema("tone")
    assert list_label_schemas() == []
    autolog.set_experiment("Default")
    delete_label_schema("tone")
    with pytest.raises(ResourceDoesNotExist, match="'tone'"):
        delete_label_schema("tone")
    assert [s.name for s in list_label_schemas()] == ["answer"]


def _session(traces: Any) -> labeling.LabelingSession:
    create_label_schema("correct", type="feedback", input=InputPassFail())
    create_label_schema("answer", type="expectation", input=InputText(max_length=20))
    score = LabelSchema("score", type="feedback", input=InputNumeric(min_value=1, max_value=5))  # not stored: fine
    return labeling.create_labeling_session("triage", traces=traces, schemas=["correct", "answer", score],
                                            assigned_users=["ana", "bo"])


def test_submit_writes_one_human_assessment_per_answer() -> None:
    first, second = _traces(2)
    session = _session([first, second])
    assert session.label_schemas == ["correct", "answer", "score"]
    item = session.submit(first, reviewer="ana", answers={"correct": "yes", "answer": "Paris", "score": 4},
                          comment="cites the doc")
    assert (item.trace_id, item.state, item.reviewer) == (first, "COMPLETED", "ana")
    meta = {"labeling_session_id": session.labeling_session_id}
    assert _assessments(first) == [
        ("correct", "feedback", True, "HUMAN", "ana", "cites the doc", meta, True),
        ("answer", "expectation", "Paris", "HUMAN", "ana", "cites the doc", meta, True),
        ("score", "feedback", 4, "HUMAN", "ana", "cites the doc", meta, True),
    ]
    assert _assessments(second) == []

    # Labeling again replaces the reviewer's answer: the old one stays, overridden.
    session.submit(first, reviewer="ana", answers={"correct": False})
    after = _assessments(first)
    assert after[0][-1] is False and after[-1] == ("correct", "feedback", False, "HUMAN", "ana", None, meta, True)
    assert len(after) == 4


def test_a_bad_answer_writes_nothing() -> None:
    (trace_id,) = _traces(1)
    session = _session([trace_id])
    with pytest.raises(InvalidArgumentError, match=r"label schema 'score': 9 is not a valid answer; allowed: a number"
                                                   r" from 1 to 5"):
        session.submit(trace_id, reviewer="ana", answers={"correct": True, "score": 9})
    with pytest.raises(InvalidArgumentError, match=r"has no label schema 'tone'; its schemas: \['correct', 'answer',"):
        session.submit(trace_id, reviewer="ana", answers={"correct": True, "tone": "formal"})
    with pytest.raises(InvalidArgumentError, match="reviewer must be a non-empty str"):
        session.submit(trace_id, reviewer="", answers={"correct": True})
    with pytest.raises(InvalidArgumentError, match="state must be one of COMPLETED, SKIPPED, got 'DONE'"):
        session.submit(trace_id, reviewer="ana", answers={"correct": True}, state="DONE")
    with pytest.raises(ResourceDoesNotExist, match="trace 'tr-nope' is not in labeling session"):
        session.submit("tr-nope", reviewer="ana", answers={"correct": True})
    assert _assessments(trace_id) == []  # flushed
    assert session.items[0].state == "PENDING"


def test_queue_order_next_item_progress_and_skip() -> None:
    ids = _traces(4)
    assert autolog.flush()
    frame = autolog.search_traces(filter_string="name = 'ask-1'")  # a search_traces DataFrame
    session = _session([autolog.get_trace(ids[2]), ids[0]])
    session.add_traces(frame)
    session.add_traces([ids[0], ids[3]])  # ids[0] is queued already: it keeps its place
    assert autolog.flush()
    assert [i.trace_id for i in session.items] == [ids[2], ids[0], ids[1], ids[3]]
    assert session.progress == {"total": 4, "completed": 0, "skipped": 0, "pending": 4}

    assert session.next_item().trace_id == ids[2]  # type: ignore[union-attr]
    session.submit(ids[2], reviewer="ana", answers={"correct": "pass"})
    session.submit(ids[0], reviewer="bo", state="SKIPPED")
    assert autolog.flush()
    assert session.next_item(reviewer="ana").trace_id == ids[1]  # type: ignore[union-attr]
    assert [(i.state, i.reviewer) for i in session.items] == [("COMPLETED", "ana"), ("SKIPPED", "bo"),
                                                              ("PENDING", None), ("PENDING", None)]
    assert session.progress == {"total": 4, "completed": 1, "skipped": 1, "pending": 2}
    assert _assessments(ids[0]) == []  # a skip without answers writes no assessment
    session.submit(ids[1], reviewer="ana", answers={"correct": "no"})
    session.submit(ids[3], reviewer="ana", answers={"correct": "no"})
    assert session.next_item() is None


def test_unknown_traces_and_schemas_are_named_and_create_nothing() -> None:
    (trace_id,) = _traces(1)
    create_label_schema("correct", type="feedback", input=InputPassFail())
    with pytest.raises(ResourceDoesNotExist, match="trace 'tr-missing' does not exist"):
        labeling.create_labeling_session("s", traces=[trace_id, "tr-missing"], schemas=["correct"])
    with pytest.raises(ResourceDoesNotExist, match="label schema 'nope' does not exist"):
        labeling.create_labeling_session("s", traces=[trace_id], schemas=["nope"])
    with pytest.raises(InvalidArgumentError, match="traces: each must be a Trace or a trace id str, got 3"):
        labeling.create_labeling_session("s", traces=[3])
    assert autolog.flush()
    assert labeling.get_labeling_sessions() == []
    session = labeling.create_labeling_session("s", traces=[trace_id], schemas=["correct"])
    with pytest.raises(ResourceDoesNotExist, match="trace 'tr-gone' does not exist"):
        session.add_traces(["tr-gone"])
    assert autolog.flush()
    assert [i.trace_id for i in session.items] == [trace_id]
    with pytest.raises(ResourceDoesNotExist, match="labeling session 'ls-nope' does not exist"):
        labeling.get_labeling_session("ls-nope")


def test_sessions_persist_across_clients_and_are_deleted(tmp_path: Path, store: autolog.Client) -> None:
    ids = _traces(2)
    session = _session(ids)
    session.submit(ids[0], reviewer="ana", answers={"answer": "Paris"})
    autolog.set_experiment("other")
    other = labeling.create_labeling_session("other", traces=ids[1:])
    assert autolog.flush()

    fresh = autolog.Client(f"sqlite:///{tmp_path / 'autolog.db'}")
    again = labeling.get_labeling_session(session.labeling_session_id, client=fresh)
    assert again == session  # the client is not part of the comparison
    assert again.schemas == session.schemas and again.assigned_users == ["ana", "bo"]
    assert [(i.trace_id, i.state) for i in again.items] == [(ids[0], "COMPLETED"), (ids[1], "PENDING")]
    assert [s.name for s in labeling.get_labeling_sessions("0", client=fresh)] == ["triage"]
    assert [s.name for s in labeling.get_labeling_sessions(all_experiments=True, client=fresh)] == ["triage", "other"]
    assert labeling.get_labeling_sessions() == [other]  # the active experiment's

    # Deleting the schema leaves the session's copy; deleting the session leaves the answers.
    autolog.set_experiment("Default")
    delete_label_schema("answer")
    assert autolog.flush()
    assert labeling.get_labeling_session(session.labeling_session_id).label_schemas == ["correct", "answer", "score"]
    labeling.delete_labeling_session(session)
    with pytest.raises(ResourceDoesNotExist, match=session.labeling_session_id):
        labeling.delete_labeling_session(session.labeling_session_id)
    assert [a[0] for a in _assessments(ids[0])] == ["answer"]
    # Deleting a trace takes it out of the queues it was in.
    store.delete_traces([ids[1]])
    assert autolog.flush()
    assert other.items == [] and other.progress["total"] == 0
    fresh.shutdown()


def test_an_older_store_gets_the_labeling_tables(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (4)")
    for version in range(1, 5):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("INSERT INTO experiments VALUES ('0', 'Default', '{}', 1)")
    conn.execute("INSERT INTO traces (trace_id, experiment_id, request_time, state) VALUES ('tr-old', '0', 1, 'OK')")
    conn.close()

    client = autolog.Client(f"sqlite:///{path}")
    assert client.flush()
    assert client.store.schema_version() == SCHEMA_VERSION >= 5
    session = labeling.create_labeling_session("old", traces=["tr-old"], schemas=[LabelSchema("ok")], client=client)
    session.submit("tr-old", reviewer="ana", answers={"ok": "yes"})
    assert autolog.flush() and client.flush()
    assert [(a.name, a.value, a.source.source_id) for a in client.get_trace("tr-old").info.assessments] == [
        ("ok", True, "ana")]
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert {"label_schemas", "labeling_sessions", "labeling_items", "ix_labeling_items_queue",
            "ix_labeling_items_trace", "ix_labeling_sessions_experiment"} <= names
    client.shutdown()
