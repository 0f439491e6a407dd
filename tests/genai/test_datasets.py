"""Evaluation datasets: CRUD, de-duplicated merges, immutable versions, records from traces and DataFrames."""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd
import pytest

import autolog
from autolog import InvalidArgumentError, InvalidFilterError, ResourceDoesNotExist
from autolog.entities import DatasetRecord
from autolog.genai import datasets


def test_create_get_search_delete() -> None:
    created = datasets.create_dataset("qa", tags={"team": "search"})
    assert created.dataset_id.startswith("d-") and len(created.dataset_id) == 34
    assert (created.version, created.record_count, created.records) == (0, 0, [])
    assert created.experiment_ids == ["0"]  # the active experiment
    assert created.tags == {"team": "search"}
    assert datasets.get_dataset("qa") == created
    assert datasets.get_dataset(dataset_id=created.dataset_id) == created

    other = datasets.create_dataset("qa_hard", experiment_id=["7", "8"])
    datasets.create_dataset("chat", experiment_id="8")
    assert {d.name for d in datasets.search_datasets()} == {"qa", "qa_hard", "chat"}
    assert {d.name for d in datasets.search_datasets(filter_string="name LIKE 'qa%'")} == {"qa", "qa_hard"}
    assert [d.name for d in datasets.search_datasets(filter_string="name = 'chat'")] == ["chat"]
    assert datasets.search_datasets(filter_string="name LIKE 'QA%'") == []  # LIKE is case-sensitive
    assert len(datasets.search_datasets(filter_string="name ILIKE 'QA%'")) == 2
    assert [d.name for d in datasets.search_datasets(filter_string="tags.team = 'search'")] == ["qa"]
    assert {d.name for d in datasets.search_datasets(experiment_ids=["8"])} == {"qa_hard", "chat"}
    assert [d.name for d in datasets.search_datasets(order_by=["name ASC"], max_results=2)] == ["chat", "qa"]

    datasets.delete_dataset(dataset_id=other.dataset_id)
    datasets.delete_dataset(name="chat")
    assert [d.name for d in datasets.search_datasets()] == ["qa"]
    with pytest.raises(ResourceDoesNotExist, match="qa_hard"):
        datasets.get_dataset("qa_hard")
    with pytest.raises(ResourceDoesNotExist, match=other.dataset_id):
        datasets.delete_dataset(dataset_id=other.dataset_id)


def test_a_taken_name_and_bad_filters_are_clear_errors() -> None:
    datasets.create_dataset("qa")
    with pytest.raises(InvalidArgumentError, match="'qa' already exists"):
        datasets.create_dataset("qa")
    with pytest.raises(InvalidFilterError, match="a dataset field"):
        datasets.search_datasets(filter_string="params.x = '1'")
    with pytest.raises(InvalidFilterError, match="operator"):
        datasets.search_datasets(filter_string="name > 'a'")
    with pytest.raises(InvalidFilterError):
        datasets.search_datasets(order_by=["size DESC"])


def test_tags_change_in_place_without_a_version() -> None:
    ds = datasets.create_dataset("qa", tags={"a": "1"})
    datasets.set_dataset_tags(ds.dataset_id, {"b": "2"})
    datasets.delete_dataset_tag(ds.dataset_id, "a")
    got = datasets.get_dataset("qa")
    assert (got.tags, got.version) == ({"b": "2"}, 0)
    with pytest.raises(ResourceDoesNotExist, match="no tag 'a'"):
        datasets.delete_dataset_tag(ds.dataset_id, "a")


def test_records_with_the_same_inputs_merge() -> None:
    ds = datasets.create_dataset("qa")
    ds.merge_records([{"inputs": {"q": "2+2?", "lang": "en"}, "expectations": {"answer": "4"}, "tags": {"t": "1"},
                       "source": {"source_type": "HUMAN", "source_data": {"user": "ann"}}}])
    first = ds.records[0]
    # the same inputs with the keys in another order
    same = ds.merge_records([{"inputs": {"lang": "en", "q": "2+2?"}, "expectations": {"style": "short"},
                              "outputs": "4", "tags": {"u": "2"}}])
    assert same is ds and ds.version == 2
    [merged] = ds.records
    assert merged.dataset_record_id == first.dataset_record_id
    assert merged.expectations == {"answer": "4", "style": "short"}
    assert merged.tags == {"t": "1", "u": "2"}
    assert merged.outputs == "4"
    assert merged.source == {"source_type": "HUMAN", "source_data": {"user": "ann"}}  # kept: the new one is None
    assert merged.created_time == first.created_time
    # within one batch too
    ds.merge_records([{"inputs": {"q": "x"}, "expectations": {"a": 1}},
                      {"inputs": {"q": "x"}, "expectations": {"b": 2}}])
    assert ds.version == 3 and ds.record_count == 2
    assert next(r for r in ds.records if r.inputs == {"q": "x"}).expectations == {"a": 1, "b": 2}


def test_versions_stay_exactly_as_they_were() -> None:
    ds = datasets.create_dataset("qa")
    empty_digest = ds.digest
    ds.merge_records([{"inputs": {"q": "a"}, "expectations": {"e": 1}}])
    v1 = datasets.get_dataset("qa", version=1)
    v1_records = v1.records
    ds.merge_records([{"inputs": {"q": "b"}, "outputs": {"text": "B"}},
                      {"inputs": {"q": "a"}, "expectations": {"e": 2}}])
    v2 = datasets.get_dataset("qa", version=2)
    v2_records = v2.records
    removed = ds.delete_records([r.dataset_record_id for r in v2_records if r.inputs == {"q": "b"}])
    assert removed == 1 and ds.version == 3
    v3 = datasets.get_dataset("qa")
    assert v3 == ds and v3.version == 3

    # a merge that changes nothing makes no version
    ds.merge_records([{"inputs": {"q": "a"}, "expectations": {"e": 2}}])
    assert ds.version == 3 and datasets.get_dataset("qa").version == 3
    assert ds.delete_records(["dr-unknown"]) == 0 and ds.version == 3

    again = [datasets.get_dataset("qa", version=v) for v in (0, 1, 2, 3)]
    assert again[1:] == [v1, v2, v3]
    assert [d.record_count for d in again] == [0, 1, 2, 1]
    assert again[0].digest == empty_digest
    assert again[1].records == v1_records and again[2].records == v2_records
    assert [r.expectations for r in again[1].records] == [{"e": 1}]
    assert sorted(r.inputs["q"] for r in again[2].records) == ["a", "b"]
    assert len({d.digest for d in again}) == 4
    # the digest is of the content: v3 holds exactly what a fresh dataset given the same records holds
    fresh = datasets.create_dataset("copy").merge_records([{"inputs": {"q": "a"}, "expectations": {"e": 2}}])
    assert fresh.digest == v3.digest
    with pytest.raises(ResourceDoesNotExist, match="no version 4"):
        datasets.get_dataset("qa", version=4)


def test_records_from_traces() -> None:
    @autolog.trace
    def answer(question: str) -> str:
        return question.upper()

    answer("what is up?")
    first = autolog.get_last_active_trace_id()
    with autolog.start_span("chat") as span:
        span.set_inputs({"messages": ["hi"]})
        span.set_outputs({"reply": "hello"})
    second = autolog.get_last_active_trace_id()
    assert first and second
    assert autolog.flush()
    autolog.log_expectation(first, "expected_answer", "WHAT IS UP?")
    traces = [autolog.get_trace(first), autolog.get_trace(second)]

    ds = datasets.create_dataset("from_traces").merge_records(traces)
    by_trace = {r.source["source_data"]["trace_id"]: r for r in ds.records if r.source}
    assert by_trace[first].inputs == {"question": "what is up?"}
    assert by_trace[first].outputs == "WHAT IS UP?"
    assert by_trace[first].expectations == {"expected_answer": "WHAT IS UP?"}
    assert by_trace[first].source_type == "TRACE"
    assert by_trace[second].inputs == {"messages": ["hi"]}
    assert by_trace[second].outputs == {"reply": "hello"}

    # search_traces' DataFrame works the same, and merging it again changes nothing
    frame = autolog.search_traces()
    assert ds.merge_records(frame).version == 1
    other = datasets.create_dataset("from_frame").merge_records(frame)
    assert other.digest == ds.digest
    requests_only = frame.drop(columns=["trace"])
    assert datasets.create_dataset("from_requests").merge_records(requests_only).record_count == 2


def test_records_from_a_dataframe_and_back() -> None:
    frame = pd.DataFrame([{"inputs": {"q": "a"}, "expectations": {"e": 1}},
                          {"inputs": {"q": "b"}, "expectations": None, "outputs": "B"}])
    ds = datasets.create_dataset("df").merge_records(frame)
    out = ds.to_df()
    assert list(out.columns[:5]) == ["inputs", "outputs", "expectations", "tags", "source"]
    assert "dataset_record_id" in out.columns
    assert sorted(out["inputs"].map(lambda d: d["q"])) == ["a", "b"]
    assert datasets.create_dataset("round_trip").merge_records(out).digest == ds.digest


@pytest.mark.parametrize(("records", "message"), [
    ([{"inputs": {"q": "ok"}}, {"expectations": {"e": 1}}], "record 1: 'inputs' must be a non-empty dict, got no"),
    ([{"inputs": "a question"}], "record 0: 'inputs' must be a non-empty dict, got inputs of type str"),
    ([{"inputs": {"q": "ok"}}, {"inputs": {"q": "x"}, "expectations": ["a"]}], "record 1: 'expectations'"),
    ([{"inputs": {"q": "ok"}}, 42], "record 1: expected a dict or a Trace"),
    ([{"inputs": {"q": "ok"}, "expectation": {}}], "record 0: unknown fields"),
    ({"inputs": {"q": "ok"}}, "got a single dict"),
])
def test_bad_records_are_refused_and_nothing_is_written(records: Any, message: str) -> None:
    ds = datasets.create_dataset("qa")
    with pytest.raises(InvalidArgumentError, match=message):
        ds.merge_records(records)
    again = datasets.get_dataset("qa")
    assert (again.version, again.records, ds.version) == (0, [], 0)


def test_a_dataset_from_another_client_is_its_own_store(tmp_path: Any) -> None:
    client = autolog.Client(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        ds = client.create_dataset("qa", ["0"]).merge_records([{"inputs": {"q": "a"}}])
        assert client.get_dataset("qa").records == ds.records
        assert datasets.search_datasets() == []  # the default client's store holds none
    finally:
        client.shutdown()


def test_concurrent_merges_lose_nothing() -> None:
    ds = datasets.create_dataset("qa")
    errors: list[BaseException] = []

    def merge(worker: int) -> None:
        try:
            mine = datasets.get_dataset(dataset_id=ds.dataset_id)
            for i in range(15):
                # each record once alone, and one shared record that both workers add expectations to
                mine.merge_records([{"inputs": {"q": f"{worker}-{i}"}},
                                    {"inputs": {"q": "shared"}, "expectations": {f"w{worker}-{i}": i}}])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=merge, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final = datasets.get_dataset("qa")
    assert final.version == 30 and final.record_count == 31
    shared = next(r for r in final.records if r.inputs == {"q": "shared"})
    assert shared.expectations == {f"w{w}-{i}": i for w in range(2) for i in range(15)}
    assert all(isinstance(r, DatasetRecord) for r in final.records)
