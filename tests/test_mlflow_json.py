"""MLflow trace JSON interoperability: ``Trace.to_json`` / ``Trace.from_json`` against MLflow's own JSON.

The files in ``tests/data/mlflow_traces/`` were written by MLflow 3.17.2 (``mlflow.get_trace(...).to_json()``)
with ``make.py`` beside them, which also checks, with mlflow installed, that autolog's JSON loads in
``mlflow.entities.Trace.from_json`` with every field equal. These tests need no mlflow.

Documented differences (everything else must be equal after ``json.loads``):

- autolog writes non-ASCII characters as they are (``ensure_ascii=False``); MLflow escapes them
  (``\\u2713``). Same text once parsed.
- Older forms are read but written in MLflow 3.17's form: MLflow 3.0's ``"execution_duration": "0.078s"``
  becomes ``"execution_duration_ms": 78``; MLflow 3.5's hex span ids become base64; MLflow 2 traces
  (``request_id``, span ``context``) become v3 traces.
- An attribute whose value is changed after loading is written with MLflow's encoding
  (``json.dumps(value, ensure_ascii=False)``), not in the text it was read from.
- Going the other way (autolog JSON → MLflow → JSON), MLflow itself fills a missing assessment
  ``source_id`` with ``"default"`` and drops ``valid`` from expectations (checked in make.py).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import autolog
from autolog import SpanType
from autolog.entities._mlflow_json import _duration_to_ms
from autolog.entities._rfc3339 import ms_to_rfc3339 as _ms_to_rfc3339
from autolog.entities._rfc3339 import rfc3339_to_ms as _rfc3339_to_ms
from tests.data.mlflow_traces.sample_app import record_sample_traces
from tests.trees import span_tree

DATA = Path(__file__).parent / "data" / "mlflow_traces"
FILES = sorted(p.name for p in DATA.glob("*.json"))


def _load(name: str) -> tuple[autolog.Trace, dict[str, Any]]:
    text = (DATA / name).read_text(encoding="utf-8")
    return autolog.Trace.from_json(text), json.loads(text)


def _by_name(trace: autolog.Trace) -> dict[str, autolog.Span]:
    return {s.name: s for s in trace.data.spans}


def _span_record(s: autolog.Span) -> tuple[Any, ...]:
    return (s.trace_id, s.span_id, s.parent_id, s.name, s.span_type, s.start_time_ns, s.end_time_ns,
            s.status.status_code, s.status.description, s.inputs, s.outputs, s.attributes,
            [(e.name, e.timestamp_ns, e.attributes) for e in s.events])


def _snapshot(trace: autolog.Trace) -> dict[str, Any]:
    """Every field of a trace, for whole-structure equality (Span has no __eq__)."""
    return {"info": trace.info, "spans": [_span_record(s) for s in trace.data.spans]}


def _check_common(trace: autolog.Trace, raw: dict[str, Any]) -> None:
    """What holds for every MLflow trace: ids, parents, timing, the root."""
    info = trace.info
    assert info.trace_id == raw["info"]["trace_id"] and info.trace_id.startswith("tr-")
    assert info.experiment_id == raw["info"]["trace_location"]["mlflow_experiment"]["experiment_id"]
    root = trace.data._root
    assert root is not None and [s.parent_id for s in trace.data.spans].count(None) == 1
    ids = {s.span_id for s in trace.data.spans}
    for span, raw_span in zip(trace.data.spans, raw["data"]["spans"], strict=True):
        assert span.trace_id == info.trace_id
        assert len(span.span_id) == 16 and base64.b64decode(raw_span["span_id"]).hex() == span.span_id
        assert span.parent_id is None or span.parent_id in ids
        assert root.start_time_ns <= span.start_time_ns <= span.end_time_ns <= root.end_time_ns
    assert info.request_time == root.start_time_ns // 1_000_000 == _rfc3339_to_ms(raw["info"]["request_time"])
    assert info.execution_duration == (root.end_time_ns - root.start_time_ns) // 1_000_000
    assert info.execution_duration == raw["info"]["execution_duration_ms"]
    assert info.tags["mlflow.traceName"] == root.name
    assert info.trace_metadata["mlflow.trace_schema.version"] == "3"
    assert trace.data.inputs == root.inputs and trace.data.outputs == root.outputs


# -- MLflow's JSON → autolog ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FILES)
def test_mlflow_json_is_written_back_unchanged(name: str) -> None:
    trace, raw = _load(name)
    _check_common(trace, raw)
    out = json.loads(trace.to_json())
    assert out == raw  # the whole document: info, assessments, every span, attribute texts and links
    again = autolog.Trace.from_json(trace.to_json(pretty=True))
    assert json.loads(again.to_json()) == raw
    assert _snapshot(again) == _snapshot(trace)


def test_agent_trace_structure() -> None:
    trace, _ = _load("agent_nested.json")
    assert span_tree(trace, ("name", "span_type", "status")) == [
        ("support_agent", SpanType.AGENT, "OK", [
            ("retrieve", SpanType.RETRIEVER, "OK", []),
            ("postprocess", SpanType.PARSER, "OK", []),
            ("lookup_order", SpanType.TOOL, "ERROR", []),
            ("chat", SpanType.CHAT_MODEL, "OK", []),
        ])]
    spans = _by_name(trace)
    question = "Where is my order?"
    answer = "Your order ships today. ✓"
    assert spans["support_agent"].inputs == {"question": question}
    assert spans["support_agent"].outputs == answer
    assert spans["retrieve"].inputs == {"query": question, "k": 2}
    assert spans["retrieve"].outputs == [{"page_content": f"doc 0 about {question}", "metadata": {"score": 1.0}},
                                         {"page_content": f"doc 1 about {question}", "metadata": {"score": 0.5}}]
    post = spans["postprocess"]
    assert (post.inputs, post.outputs) == ({"docs": 2}, "cleaned")
    assert {k: post.attributes[k] for k in ("unicode", "ratio", "flag", "nested")} == {
        "unicode": "héllo wörld ✓", "ratio": 0.25, "flag": True, "nested": {"a": [1, 2]}}
    assert [(e.name, e.attributes) for e in post.events] == [
        ("checkpoint", {"step": 1, "note": "ok", "scores": [0.5, 0.25]})]
    tool = spans["lookup_order"]
    assert tool.inputs == {"order_id": "A-1"} and tool.outputs is None
    assert tool.status.description == "LookupError: order A-1 not found"
    [event] = tool.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "LookupError"
    assert event.attributes["exception.message"] == "order A-1 not found"
    assert "Traceback" in event.attributes["exception.stacktrace"]
    chat = spans["chat"]
    assert chat.inputs == {"messages": [{"role": "user", "content": question}], "temperature": 0.2}
    assert chat.outputs == {"choices": [{"message": {"role": "assistant", "content": answer}}]}
    assert chat.attributes["mlflow.llm.model"] == "gpt-4o-mini"
    assert chat.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17}
    assert chat.attributes["mlflow.spanType"] == SpanType.CHAT_MODEL

    info = trace.info
    assert info.state == "OK"
    assert info.client_request_id == "req-42"
    assert info.token_usage == {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17}
    assert {k: info.tags[k] for k in ("environment", "team", "mlflow.traceName")} == {
        "environment": "test", "team": "interop", "mlflow.traceName": "support_agent"}
    meta = info.trace_metadata
    assert (meta["app_version"], meta["mlflow.trace.session"], meta["mlflow.trace.user"]) == ("1.2.3", "session-7",
                                                                                            "user-3")
    assert meta["mlflow.modelId"].startswith("m-")
    assert info.request_preview == json.dumps({"question": question})
    assert info.assessments == []


def test_error_trace_structure() -> None:
    trace, _ = _load("root_error.json")
    assert span_tree(trace, ("name", "span_type", "status")) == [
        ("pipeline", SpanType.CHAIN, "ERROR", [("validate", SpanType.CHAIN, "OK", [])])]
    root, child = _by_name(trace)["pipeline"], _by_name(trace)["validate"]
    assert trace.info.state == "ERROR"
    assert root.inputs == {"payload": {"name": "x"}} and root.outputs is None
    assert root.status.description == "ValueError: payload rejected: missing 'id'"
    assert [(e.name, e.attributes["exception.type"], e.attributes["exception.message"]) for e in root.events] == [
        ("exception", "ValueError", "payload rejected: missing 'id'")]
    assert (child.inputs, child.outputs, child.events) == ({"payload": {"name": "x"}}, False, [])
    assert trace.info.response_preview is None


def test_assessments_structure() -> None:
    trace, raw = _load("assessments.json")
    got = [(a.kind, a.name, a.value, a.source.source_type, a.source.source_id, a.rationale, a.metadata, a.error)
           for a in trace.info.assessments]
    assert got == [
        ("feedback", "correctness", True, "LLM_JUDGE", "judge-v2", "matches the expectation", None, None),
        ("feedback", "rating", 4.0, "HUMAN", "alice", None, {"tier": "gold"}, None),
        ("feedback", "toxicity", None, "CODE", "default", None, None, "judge rate limited"),
        ("expectation", "expected_answer", "42", "HUMAN", "default", None, None, None),
        ("expectation", "expected_facts", {"facts": ["6*7", "42"], "count": 2}, "HUMAN", "default", None, None, None),
    ]
    for a, raw_a in zip(trace.info.assessments, raw["info"]["assessments"], strict=True):
        assert a.assessment_id == raw_a["assessment_id"] and a.trace_id == trace.info.trace_id
        assert a.create_time_ms == _rfc3339_to_ms(raw_a["create_time"]) > 0
        assert a.last_update_time_ms >= a.create_time_ms
    assert span_tree(trace) == [("answer", SpanType.UNKNOWN, [])]
    assert trace.data.spans[0].inputs == {"question": "What is six times seven?"}


def test_generator_and_manual_spans_structure() -> None:
    trace, raw = _load("generator_manual_spans.json")
    assert span_tree(trace, ("name", "span_type", "status")) == [
        ("manual", SpanType.UNKNOWN, "OK", [
            ("stream", SpanType.LLM, "OK", []),
            ("noop", SpanType.UNKNOWN, "OK", []),
            ("flagged", SpanType.GUARDRAIL, "ERROR", []),
        ])]
    spans = _by_name(trace)
    assert spans["manual"].inputs == {"prompt": "hi", "options": None, "n": 3, "pi": 3.14159}
    assert spans["manual"].outputs == "Hello!"
    assert spans["stream"].outputs == ["Hel", "lo", "!"]
    assert [(e.name, json.loads(e.attributes["mlflow.chunk.value"])) for e in spans["stream"].events] == [
        ("mlflow.chunk.item.0", "Hel"), ("mlflow.chunk.item.1", "lo"), ("mlflow.chunk.item.2", "!")]
    assert spans["noop"].outputs is None and spans["flagged"].status.description == ""
    # MLflow wrote an explicit null output for "noop" and none for "flagged": both stay as they were.
    written = {s["name"]: s["attributes"] for s in json.loads(trace.to_json())["data"]["spans"]}
    assert written["noop"]["mlflow.spanOutputs"] == "null"
    assert "mlflow.spanOutputs" not in written["flagged"] and "mlflow.spanInputs" not in written["flagged"]
    assert written == {s["name"]: s["attributes"] for s in raw["data"]["spans"]}


# -- autolog → JSON → autolog ---------------------------------------------------------------------------

def test_autolog_traces_round_trip() -> None:
    ok, error = record_sample_traces()
    assert len(ok.data.spans) == 4 and len(ok.info.assessments) == 4 and error.info.state == "ERROR"
    for trace in (ok, error):
        text = trace.to_json()
        back = autolog.Trace.from_json(text)
        assert _snapshot(back) == _snapshot(trace)
        assert back.to_json() == text
        assert back.info.token_usage == trace.info.token_usage


def test_autolog_json_has_mlflow_shape() -> None:
    """The form mlflow.entities.Trace.from_json needs (make.py checks the real thing with mlflow installed)."""
    ok, _ = record_sample_traces()
    doc = json.loads(ok.to_json())
    info = doc["info"]
    assert set(info) == {"trace_id", "trace_location", "request_time", "state", "trace_metadata", "tags",
                         "assessments", "request_preview", "response_preview", "client_request_id",
                         "execution_duration_ms"}
    assert info["trace_location"] == {"type": "MLFLOW_EXPERIMENT",
                                      "mlflow_experiment": {"experiment_id": ok.info.experiment_id}}
    assert _rfc3339_to_ms(info["request_time"]) == ok.info.request_time
    assert info["execution_duration_ms"] == ok.info.execution_duration and info["state"] == "OK"
    assert json.loads(info["trace_metadata"]["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    feedback, expectation = info["assessments"][0], info["assessments"][2]
    assert feedback["feedback"] == {"value": 0.5} and feedback["valid"] is True
    assert feedback["source"] == {"source_type": "LLM_JUDGE", "source_id": "judge-1"}
    assert expectation["expectation"] == {"serialized_value": {"serialization_format": "JSON_FORMAT",
                                                               "value": json.dumps({"answer": 6, "l": [1, 2]})}}
    otel_trace_id = base64.b64encode(bytes.fromhex(ok.info.trace_id[3:])).decode()
    for span, raw in zip(ok.data.spans, doc["data"]["spans"], strict=True):
        assert set(raw) == {"trace_id", "span_id", "parent_span_id", "name", "start_time_unix_nano",
                            "end_time_unix_nano", "events", "status", "attributes", "links"}
        assert raw["trace_id"] == otel_trace_id and raw["links"] == []
        assert base64.b64decode(raw["span_id"]).hex() == span.span_id
        assert raw["parent_span_id"] is None if span.parent_id is None else (
            base64.b64decode(raw["parent_span_id"]).hex() == span.parent_id)
        assert raw["status"] == {"code": f"STATUS_CODE_{span.status.status_code}", "message": span.status.description}
        assert all(isinstance(v, str) for v in raw["attributes"].values())
        decoded = {k: json.loads(v) for k, v in raw["attributes"].items()}
        assert decoded["mlflow.traceRequestId"] == ok.info.trace_id
        assert decoded == span.attributes
        assert raw["events"] == [{"name": e.name, "time_unix_nano": e.timestamp_ns, "attributes": e.attributes}
                                 for e in span.events]


def test_user_built_trace_with_arbitrary_objects_serializes() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    span = autolog.Span("tr-" + "ab" * 16, "cd" * 8, None, "root", SpanType.CHAIN, 1_000_000, 3_000_000,
                        autolog.SpanStatus("OK"), inputs={"obj": Opaque(), "n": 1}, attributes={"when": Opaque()},
                        events=[autolog.SpanEvent("e", 2_000_000, {"what": Opaque()})])
    info = autolog.TraceInfo("tr-" + "ab" * 16, "0", 1, "OK", execution_duration=2)
    doc = json.loads(autolog.Trace(info, autolog.TraceData([span])).to_json())
    attrs = doc["data"]["spans"][0]["attributes"]
    assert json.loads(attrs["mlflow.spanInputs"]) == {"obj": "<Opaque>", "n": 1}
    assert json.loads(attrs["when"]) == "<Opaque>"
    assert doc["data"]["spans"][0]["events"] == [{"name": "e", "time_unix_nano": 2_000_000,
                                                  "attributes": {"what": "<Opaque>"}}]
    assert doc["info"]["request_time"] == "1970-01-01T00:00:00.001Z"
    assert "trace_metadata" not in doc["info"] and "tags" not in doc["info"]  # empty maps are left out, as MLflow


# -- older and other forms ------------------------------------------------------------------------------

def test_mlflow_3_0_duration_and_3_5_hex_ids_are_read() -> None:
    trace, raw = _load("agent_nested.json")
    old = copy.deepcopy(raw)
    old["info"]["execution_duration"] = f"{old['info'].pop('execution_duration_ms') / 1000:.3f}s"
    for span in old["data"]["spans"]:  # MLflow 3.5 wrote ids in their object form
        span["trace_id"] = raw["info"]["trace_id"]
        span["span_id"] = base64.b64decode(span["span_id"]).hex()
        span["parent_span_id"] = base64.b64decode(span["parent_span_id"]).hex() if span["parent_span_id"] else ""
        span["status"]["code"] = span["status"]["code"].removeprefix("STATUS_CODE_")
    loaded = autolog.Trace.from_dict(old)
    assert _snapshot(loaded) == _snapshot(trace)
    assert json.loads(loaded.to_json()) == raw  # written in the current form


def test_mlflow_2_trace_is_read() -> None:
    trace, raw = _load("root_error.json")
    info = raw["info"]
    v2 = {  # MLflow 2's TraceInfo and Span dict forms
        "info": {"request_id": info["trace_id"], "experiment_id": "1", "timestamp_ms": trace.info.request_time,
                 "execution_time_ms": info["execution_duration_ms"], "status": "ERROR",
                 "request_metadata": info["trace_metadata"], "tags": info["tags"], "assessments": []},
        "data": {"spans": [{
            "name": s["name"],
            "context": {"span_id": "0x" + base64.b64decode(s["span_id"]).hex(),
                        "trace_id": "0x" + info["trace_id"][3:]},
            "parent_id": "0x" + base64.b64decode(s["parent_span_id"]).hex() if s["parent_span_id"] else None,
            "start_time": s["start_time_unix_nano"], "end_time": s["end_time_unix_nano"],
            "status_code": s["status"]["code"].removeprefix("STATUS_CODE_"), "status_message": s["status"]["message"],
            "attributes": s["attributes"],
            "events": [{"name": e["name"], "timestamp": e["time_unix_nano"], "attributes": e["attributes"]}
                       for e in s["events"]],
        } for s in raw["data"]["spans"]]},
    }
    loaded = autolog.Trace.from_dict(v2)
    # MLflow 2 JSON has no previews, and mlflow's Trace.from_json leaves them unset too
    assert loaded.info == dataclasses.replace(trace.info, request_preview=None, response_preview=None)
    assert [_span_record(s) for s in loaded.data.spans] == [_span_record(s) for s in trace.data.spans]


def test_unknown_keys_links_and_locations_are_kept() -> None:
    _, raw = _load("generator_manual_spans.json")
    doc = copy.deepcopy(raw)
    doc["info"]["future_field"] = {"x": 1}
    doc["info"]["trace_location"] = {"type": "INFERENCE_TABLE", "inference_table": {"full_table_name": "c.s.t"}}
    first = doc["data"]["spans"][0]
    first["links"] = [{"trace_id": "tr-" + "0" * 32, "span_id": "1" * 16, "attributes": {"why": "retry"}}]
    first["kind"] = "SPAN_KIND_INTERNAL"
    first["attributes"]["raw_otel"] = 7  # set on the OTel span without JSON encoding
    first["attributes"]["not_json"] = "plain text"
    first["attributes"]["spaced"] = '{"a":1}'  # JSON text in another layout
    del doc["data"]["spans"][1]["attributes"]["mlflow.spanType"]
    loaded = autolog.Trace.from_dict(doc)
    assert loaded.info.experiment_id == ""
    span = loaded.data.spans[0]
    assert (span.attributes["raw_otel"], span.attributes["not_json"], span.attributes["spaced"]) == (
        7, "plain text", {"a": 1})
    assert loaded.data.spans[1].span_type == SpanType.UNKNOWN
    assert json.loads(loaded.to_json()) == doc


def test_changed_attribute_is_encoded_again() -> None:
    trace, raw = _load("agent_nested.json")
    root = trace.data.spans[0]
    root._outputs = {"edited": True}  # as if the loaded span were modified
    written = json.loads(trace.to_json())["data"]["spans"][0]["attributes"]
    assert written["mlflow.spanOutputs"] == '{"edited": true}'
    assert written["mlflow.spanInputs"] == raw["data"]["spans"][0]["attributes"]["mlflow.spanInputs"]


@pytest.mark.parametrize(("text", "ms"), [
    ("2026-11-24T14:58:18.813Z", 1795532298813),
    ("2026-11-24T14:58:18Z", 1795532298000),
    ("2026-11-24T14:58:18.813999999Z", 1795532298813),  # protobuf truncates to the millisecond
    ("2026-11-24T16:58:18.5+02:00", 1795532298500),
    ("1970-01-01T00:00:00Z", 0),
])
def test_rfc3339_timestamps(text: str, ms: int) -> None:
    assert _rfc3339_to_ms(text) == ms


def test_timestamps_are_written_like_protobuf() -> None:
    assert _ms_to_rfc3339(1795532298813) == "2026-11-24T14:58:18.813Z"
    assert _ms_to_rfc3339(1795532298000) == "2026-11-24T14:58:18Z"
    assert _ms_to_rfc3339(5) == "1970-01-01T00:00:00.005Z"
    assert [_duration_to_ms(d) for d in ("0.078s", "1.5s", "2s", "0.000999s")] == [78, 1500, 2000, 0]
