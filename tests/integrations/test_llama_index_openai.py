"""llama-index-llms-openai's OpenAI LLM over the real SDK, replaying cassettes/llama_index/.

With ``autolog.openai()`` on as well, the OpenAI SDK span nests under the LlamaIndex LLM
span and the trace counts the call's tokens once. Expected values come from the cassettes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai import OpenAI

import autolog
from tests.integrations import cassette_replay
from tests.integrations.cassette_replay import events, span_usage
from tests.trees import span_tree

CASSETTES = cassette_replay.CASSETTES / "llama_index"


@pytest.fixture(autouse=True)
def patched(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cassette_replay.use_replay_key(monkeypatch)
    autolog.openai()
    autolog.llama_index()
    yield
    autolog.llama_index(disable=True)
    autolog.openai(disable=True)


def recorded(name: str) -> tuple[dict[str, Any], str]:
    return cassette_replay.recorded(CASSETTES, name)


@pytest.mark.vcr
def test_openai_llm_chat_nests_the_sdk_span_and_counts_usage_once() -> None:
    request, body = recorded("test_openai_llm_chat_nests_the_sdk_span_and_counts_usage_once")
    response = json.loads(body)
    llm = OpenAI(model="gpt-4o-mini", temperature=0.1, max_retries=0)
    reply = llm.chat([ChatMessage(role="user", content=request["messages"][0]["content"])])
    assert reply.message.content == response["choices"][0]["message"]["content"]
    [trace] = autolog.search_traces(return_type="list")
    usage = span_usage(response["usage"])
    assert span_tree(trace, ("name", "span_type", "usage", "model")) == [
        ("OpenAI.chat", "CHAT_MODEL", usage, response["model"], [
            ("Completions", "CHAT_MODEL", usage, response["model"], [])])]
    assert trace.info.token_usage == usage  # the same call, seen by both integrations, counted once
    outer = trace.data.spans[0]
    assert outer.inputs == {"messages": [{"role": "user", "content": request["messages"][0]["content"]}]}
    assert outer.outputs == {"role": "assistant", "content": reply.message.content}


@pytest.mark.vcr
def test_openai_llm_stream_chat_counts_usage_once() -> None:
    request, body = recorded("test_openai_llm_stream_chat_counts_usage_once")
    # LlamaIndex asks for the usage chunk only when told to; then both spans carry the usage.
    llm = OpenAI(model="gpt-4o-mini", temperature=0.1, max_retries=0,
                 additional_kwargs={"stream_options": request["stream_options"]})
    deltas = [r.delta for r in llm.stream_chat([ChatMessage(role="user",
                                                            content=request["messages"][0]["content"])])]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events(body) if e["choices"])
    assert "".join(d or "" for d in deltas) == text
    [trace] = autolog.search_traces(return_type="list")
    assert span_tree(trace) == [("OpenAI.stream_chat", "CHAT_MODEL", [("Completions", "CHAT_MODEL", [])])]
    outer, inner = sorted(trace.data.spans, key=lambda s: s.start_time_ns)
    usage = span_usage(events(body)[-1]["usage"])
    assert outer.attributes["mlflow.chat.tokenUsage"] == usage  # from LlamaIndex's last streamed response
    assert inner.attributes["mlflow.chat.tokenUsage"] == usage
    assert trace.info.token_usage == usage  # seen twice, counted once
    assert outer.outputs == {"role": "assistant", "content": text}
    assert outer.end_time_ns >= inner.end_time_ns  # the LlamaIndex span lasted as long as the stream
