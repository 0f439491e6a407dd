"""The real SDK against vcrpy cassettes in cassettes/openai/ (replayed with record mode "none").

Expected values are read from the cassettes themselves, so re-recording against the live
API (``OPENAI_API_KEY=... nox -s record``) keeps these tests meaningful.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

import autolog
from tests.integrations import cassette_replay
from tests.integrations.cassette_replay import events, span_usage
from tests.trees import span_tree

CASSETTES = cassette_replay.CASSETTES / "openai"


@pytest.fixture(autouse=True)
def patched(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cassette_replay.use_replay_key(monkeypatch)
    autolog.openai()
    yield
    autolog.openai(disable=True)


def recorded(name: str) -> tuple[dict[str, Any], str]:
    return cassette_replay.recorded(CASSETTES, name)


@pytest.mark.vcr
def test_chat_reports_cached_and_reasoning_tokens() -> None:
    request, body = recorded("test_chat_reports_cached_and_reasoning_tokens")
    reply = openai.OpenAI(max_retries=0).chat.completions.create(**request)
    usage = json.loads(body)["usage"]
    (trace,) = autolog.search_traces(return_type="list")
    assert span_tree(trace, ("name", "span_type", "usage", "model")) == [
        ("Completions", "CHAT_MODEL", span_usage(usage), json.loads(body)["model"], []),
    ]
    assert trace.data.spans[0].outputs["choices"][0]["message"]["content"] == reply.choices[0].message.content


@pytest.mark.vcr
def test_chat_stream_merges_parallel_tool_calls() -> None:
    request, body = recorded("test_chat_stream_merges_parallel_tool_calls")
    chunks = list(openai.OpenAI(max_retries=0).chat.completions.create(**request))
    assert chunks[-1].usage is not None  # the caller asked for usage itself: it sees the usage chunk
    calls: dict[int, dict[str, str]] = {}
    for event in events(body):
        for choice in event["choices"]:
            for call in choice["delta"].get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"name": "", "arguments": ""})
                slot["name"] += call.get("function", {}).get("name") or ""
                slot["arguments"] += call.get("function", {}).get("arguments") or ""
    (span,) = autolog.search_traces(return_type="list")[0].data.spans
    message = span.outputs["choices"][0]["message"]
    assert [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in message["tool_calls"]] == [calls[i] for i in sorted(calls)]
    assert [json.loads(c["function"]["arguments"]) for c in message["tool_calls"]] == [{"city": "Paris"},
                                                                                       {"city": "Rome"}]
    assert span.outputs["choices"][0]["finish_reason"] == "tool_calls"
    assert span.attributes["mlflow.chat.tokenUsage"]["total_tokens"] == events(body)[-1]["usage"]["total_tokens"]
    assert span.attributes["mlflow.chat.tools"] == request["tools"]


@pytest.mark.vcr
def test_responses_stream_keeps_the_final_response() -> None:
    request, body = recorded("test_responses_stream_keeps_the_final_response")
    seen = [event.type for event in openai.OpenAI(max_retries=0).responses.create(**request)]
    assert seen == [e["type"] for e in events(body)]
    final = events(body)[-1]["response"]
    (span,) = autolog.search_traces(return_type="list")[0].data.spans
    assert span.outputs["output"][0]["content"][0]["text"] == final["output"][0]["content"][0]["text"]
    assert span.attributes["mlflow.chat.tokenUsage"] == {
        "input_tokens": final["usage"]["input_tokens"], "output_tokens": final["usage"]["output_tokens"],
        "total_tokens": final["usage"]["total_tokens"], "cache_read_input_tokens": 0, "reasoning_tokens": 0}
    assert span.attributes["mlflow.llm.model"] == final["model"]


@pytest.mark.vcr
def test_legacy_completion_stream() -> None:
    request, body = recorded("test_legacy_completion_stream")
    text = "".join(c.choices[0].text for c in openai.OpenAI(max_retries=0).completions.create(**request)
                   if c.choices)
    (trace,) = autolog.search_traces(return_type="list")
    assert span_tree(trace, ("name", "span_type")) == [("Completions", "LLM", [])]
    span = trace.data.spans[0]
    assert span.outputs["choices"][0]["text"] == text == "".join(
        e["choices"][0]["text"] for e in events(body) if e["choices"])
    assert span.attributes["mlflow.chat.tokenUsage"]["total_tokens"] == events(body)[-1]["usage"]["total_tokens"]
