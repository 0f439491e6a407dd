"""The Labeling sessions endpoints: a reviewer works through a queue; answers become HUMAN assessments."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

import autolog
from autolog.genai import labeling
from autolog.genai.label_schemas import InputCategorical, InputNumeric, InputPassFail, create_label_schema
from tests.server.conftest import Recorded


def _session(rec: Recorded) -> labeling.LabelingSession:
    create_label_schema("correct", type="feedback", input=InputPassFail(), instruction="Right answer?")
    create_label_schema("tone", type="feedback", input=InputCategorical(["formal", "casual"]), enable_comment=True)
    create_label_schema("stars_expected", type="expectation", input=InputNumeric(min_value=1, max_value=5))
    return labeling.create_labeling_session("triage", traces=rec.trace_ids[:3],
                                            schemas=["correct", "tone", "stars_expected"], assigned_users=["ana"])


def _human(trace_id: str) -> list[tuple[Any, ...]]:
    assert autolog.flush()
    return [(a.name, a.kind, a.value, a.source.source_type, a.source.source_id, a.rationale, a.metadata)
            for a in autolog.get_trace(trace_id).info.assessments if a.source.source_type == "HUMAN"]


def test_list_and_get_sessions(recorded: Recorded, api: TestClient) -> None:
    session = _session(recorded)
    assert autolog.flush()
    listed = api.get("/api/labeling-sessions")
    assert listed.status_code == 200
    assert listed.json() == [{"labeling_session_id": session.labeling_session_id, "name": "triage",
                              "experiment_id": recorded.experiment_id,
                              "schemas": ["correct", "tone", "stars_expected"], "assigned_users": ["ana"],
                              "creation_time": session.creation_time,
                              "progress": {"total": 3, "completed": 0, "skipped": 0, "pending": 3}}]
    assert api.get("/api/labeling-sessions", params={"experiment_id": "0"}).json() == []

    detail = api.get(f"/api/labeling-sessions/{session.labeling_session_id}").json()
    assert detail["schemas"][0] == {"name": "correct", "type": "feedback", "title": "correct",
                                    "instruction": "Right answer?", "enable_comment": False,
                                    "input": {"type": "pass_fail"}}
    assert detail["schemas"][1]["input"] == {"type": "categorical", "options": ["formal", "casual"]}
    assert [(i["trace_id"], i["state"], i["reviewer"]) for i in detail["items"]] == [
        (t, "PENDING", None) for t in recorded.trace_ids[:3]]
    assert detail["next_trace_id"] == recorded.trace_ids[0]
    stored = [autolog.get_trace(t).info for t in recorded.trace_ids[:3]]
    assert [(i["trace_name"], i["request_preview"]) for i in detail["items"]] == [
        (info.tags["mlflow.traceName"], info.request_preview) for info in stored]

    schemas = api.get("/api/label-schemas").json()
    assert [(s["name"], s["experiment_id"]) for s in schemas] == [
        ("correct", recorded.experiment_id), ("stars_expected", recorded.experiment_id),
        ("tone", recorded.experiment_id)]
    assert api.get("/api/label-schemas", params={"experiment_id": "0"}).json() == []

    missing = api.get("/api/labeling-sessions/ls-nope")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST" and "ls-nope" in missing.json()["message"]


def test_submit_writes_human_assessments_and_moves_the_queue(recorded: Recorded, api: TestClient) -> None:
    session = _session(recorded)
    first, second, third = recorded.trace_ids[:3]
    assert autolog.flush()
    url = f"/api/labeling-sessions/{session.labeling_session_id}/items"
    done = api.post(f"{url}/{first}", json={"reviewer": "ana", "answers": {"correct": "yes", "tone": "casual",
                                                                            "stars_expected": 4},
                                             "comment": "fine", "state": "COMPLETED"})
    assert done.status_code == 200
    assert {k: v for k, v in done.json().items() if k != "last_update_time"} == {
        "trace_id": first, "state": "COMPLETED", "reviewer": "ana"}
    meta = {"labeling_session_id": session.labeling_session_id}
    assert _human(first) == [("correct", "feedback", True, "HUMAN", "ana", "fine", meta),
                             ("tone", "feedback", "casual", "HUMAN", "ana", "fine", meta),
                             ("stars_expected", "expectation", 4, "HUMAN", "ana", "fine", meta)]
    # The assessments the recorded fixture logged (CODE feedback) are untouched.
    assert [a.name for a in autolog.get_trace(first).info.assessments if a.source.source_type != "HUMAN"] == [
        "helpful", "helpful"]

    skipped = api.post(f"{url}/{second}", json={"reviewer": "bo", "state": "SKIPPED"})
    assert skipped.json()["state"] == "SKIPPED"
    assert autolog.flush()
    detail = api.get(f"/api/labeling-sessions/{session.labeling_session_id}").json()
    assert detail["next_trace_id"] == third
    assert detail["progress"] == {"total": 3, "completed": 1, "skipped": 1, "pending": 1}
    assert _human(second) == []


def test_bad_answers_are_400_naming_the_schema_and_write_nothing(recorded: Recorded, api: TestClient) -> None:
    session = _session(recorded)
    trace_id = recorded.trace_ids[0]
    assert autolog.flush()
    url = f"/api/labeling-sessions/{session.labeling_session_id}/items/{trace_id}"
    bad = api.post(url, json={"reviewer": "ana", "answers": {"correct": True, "tone": "rude"}})
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert bad.json()["message"] == ("label schema 'tone': 'rude' is not a valid answer; allowed: one of "
                                     "['formal', 'casual']")
    for body, status, words in (
            ({"reviewer": "ana", "answers": {"stars_expected": 9}}, 400, "'stars_expected': 9"),
            ({"reviewer": "ana", "answers": {"nope": 1}}, 400, "no label schema 'nope'"),
            ({"reviewer": "ana", "state": "DONE"}, 400, "'DONE'"),
            ({"reviewer": "", "answers": {"correct": True}}, 400, "reviewer"),
    ):
        answer = api.post(url, json=body)
        assert (answer.status_code, words in answer.json()["message"]) == (status, True), answer.json()
    assert _human(trace_id) == []
    unknown = api.post(f"/api/labeling-sessions/{session.labeling_session_id}/items/{recorded.trace_ids[5]}",
                       json={"reviewer": "ana", "answers": {"correct": True}})
    assert unknown.status_code == 404 and recorded.trace_ids[5] in unknown.json()["message"]
    assert api.get(f"/api/labeling-sessions/{session.labeling_session_id}").json()["progress"]["pending"] == 3


def test_create_a_session_and_add_traces(recorded: Recorded, api: TestClient) -> None:
    create_label_schema("correct", type="feedback", input=InputPassFail())
    assert autolog.flush()
    made = api.post("/api/labeling-sessions", json={"name": "ui", "trace_ids": recorded.trace_ids[3:5],
                                                    "schemas": ["correct"], "experiment_id": recorded.experiment_id})
    assert made.status_code == 200
    session_id = made.json()["labeling_session_id"]
    assert [i["trace_id"] for i in made.json()["items"]] == recorded.trace_ids[3:5]
    added = api.post(f"/api/labeling-sessions/{session_id}/traces", json={"trace_ids": recorded.trace_ids[:4]})
    assert [i["trace_id"] for i in added.json()["items"]] == [*recorded.trace_ids[3:5], *recorded.trace_ids[:3]]
    gone = api.post(f"/api/labeling-sessions/{session_id}/traces", json={"trace_ids": ["tr-gone"]})
    assert gone.status_code == 404 and "tr-gone" in gone.json()["message"]
    no_schema = api.post("/api/labeling-sessions", json={"name": "x", "schemas": ["nope"],
                                                         "experiment_id": recorded.experiment_id})
    assert no_schema.status_code == 404 and "'nope'" in no_schema.json()["message"]
    assert autolog.flush()
    assert [s.name for s in labeling.get_labeling_sessions(recorded.experiment_id)] == ["ui"]
