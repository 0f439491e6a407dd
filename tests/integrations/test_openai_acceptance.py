"""Acceptance: every real OpenAI recording in ../shared/acceptance/cassettes through autolog.openai().

Per recorded call: the caller's result equals the result without autolog, exactly one
trace is stored, the span type is right, token usage equals the recorded usage, and the
span output holds the recorded text and tool calls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import autolog
from tests.conftest import SHARED_CASSETTES
from tests.integrations import openai_replay as replay

pytestmark = pytest.mark.skipif(not SHARED_CASSETTES.is_dir(),
                                reason=f"acceptance recordings not present at {SHARED_CASSETTES}")

CASSETTES = sorted(SHARED_CASSETTES.glob("*.yaml")) if SHARED_CASSETTES.is_dir() else []
PARTIAL_CHUNKS = 3  # the partial-consumption recording is read this far, then closed


@pytest.fixture(autouse=True)
def openai_patched() -> Iterator[None]:
    autolog.openai(disable=True)
    yield
    autolog.openai(disable=True)


def _run(interaction: dict[str, Any], use_async: bool, raw: bool, partial: bool) -> Any:
    """Make the recorded call; return the caller's view of the result as plain data."""
    body = replay.request_json(interaction)
    client = replay.client_for(interaction, use_async)
    create = replay.method_for(client, replay.endpoint(interaction), raw=raw)
    kwargs = replay.call_kwargs(create, body)

    def consume(result: Any) -> Any:
        if raw:
            return result.parse().model_dump(warnings=False)
        if body.get("stream"):
            items = []
            for item in result:
                items.append(item.model_dump(warnings=False))
                if partial and len(items) == PARTIAL_CHUNKS:
                    result.close()
                    break
            return items
        return result.model_dump(warnings=False)

    async def aconsume() -> Any:
        result = await create(**kwargs)
        if body.get("stream"):
            items = []
            async for item in result:
                items.append(item.model_dump(warnings=False))
                if partial and len(items) == PARTIAL_CHUNKS:
                    await result.close()
                    break
            return items
        return result.parse().model_dump(warnings=False) if raw else result.model_dump(warnings=False)

    if use_async:
        return asyncio.run(aconsume())
    return consume(create(**kwargs))


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem)
def test_recording_replays_identically_and_is_traced_exactly(path: Path) -> None:
    use_async = "async" in path.stem
    raw = "raw_response" in path.stem
    partial = "partial_consumption" in path.stem
    for number, interaction in enumerate(replay.load_interactions(path)):
        where = f"{path.name} interaction {number}"
        name = replay.endpoint(interaction)
        body = replay.request_json(interaction)

        autolog.openai(disable=True)
        without = _run(interaction, use_async, raw, partial)
        autolog.openai()
        before = {t.info.trace_id for t in autolog.search_traces(return_type="list")}
        with_autolog = _run(interaction, use_async, raw, partial)
        autolog.openai(disable=True)

        assert with_autolog == without, where
        new = [t for t in autolog.search_traces(return_type="list") if t.info.trace_id not in before]
        assert len(new) == 1, where
        (span,) = new[0].data.spans
        expected_type = {"embeddings": "EMBEDDING", "completions": "LLM"}.get(name, "CHAT_MODEL")
        assert span.span_type == expected_type, where
        assert span.status.status_code == "OK" and span.end_time_ns is not None, where
        assert span.inputs["model"] == body["model"], where
        assert span.attributes["mlflow.message.format"] == "openai"

        usage = replay.recorded_usage(interaction)
        stream = bool(body.get("stream"))
        if partial:
            usage = None  # the usage chunk, if any, comes after the part that was read
        got = span.attributes.get("mlflow.chat.tokenUsage")
        if usage is None:
            assert got is None, where
        else:
            prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
            completion = usage.get("completion_tokens", usage.get("output_tokens"))
            expected = {"input_tokens": prompt, "total_tokens": usage["total_tokens"]}
            if completion is not None:
                expected["output_tokens"] = completion
            details_in = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
            details_out = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
            if details_in.get("cached_tokens") is not None:
                expected["cache_read_input_tokens"] = details_in["cached_tokens"]
            if details_out.get("reasoning_tokens") is not None:
                expected["reasoning_tokens"] = details_out["reasoning_tokens"]
            assert got == expected, where
            if expected_type != "EMBEDDING":
                assert new[0].info.token_usage == {k: v for k, v in expected.items()}, where

        if name == "embeddings":
            vectors = json.loads(replay.recorded_body(interaction))["data"]
            summary = span.outputs["data"]
            assert [d.get("embedding_dimensions") or d.get("embedding") for d in summary] == [
                len(v["embedding"]) if isinstance(v["embedding"], list) else
                f"<base64, {len(v['embedding'])} characters>" for v in vectors], where
            continue
        text, tools = replay.expected_text_and_tools(interaction, PARTIAL_CHUNKS if partial else None)
        if name == "responses":
            output = span.outputs
            got_text = output.get("output_text") if "output_text" in output else "".join(
                c["text"] for item in output["output"] if item["type"] == "message" for c in item["content"])
            assert got_text == text, where
            continue
        message = span.outputs["choices"][0]["message"]
        assert message.get("content") == text, where
        got_tools = [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or []]
        assert got_tools == tools, where
        if stream and not partial:
            assert span.attributes["autolog.stream.chunks"] == len(without), where


def _records_both_ways(traces: list[Any]) -> list[tuple[Any, Any]]:
    """Each trace's record with the integration's previews, and as the encoder finds them without."""
    from autolog._export.encode import shared_metadata_set_id, trace_to_record
    from autolog._tracing.metadata import process_metadata

    metadata, set_id = process_metadata(), shared_metadata_set_id()
    pairs = []
    for trace in traces:
        for span in trace.spans:
            span.resolve_deferred_outputs()
        for max_chars in (100_000, 40):  # 40: the stored JSON is cut, so the shortcut must not be taken
            fast = trace_to_record(trace, metadata, max_chars, set_id)
            given, trace.fast_previews = trace.fast_previews, None
            pairs.append((fast, trace_to_record(trace, metadata, max_chars, set_id)))
            trace.fast_previews = given
    return pairs


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem)
def test_previews_the_integration_gives_are_the_encoders(path: Path, store: autolog.Client) -> None:
    """Request and response previews read off the SDK's objects equal those parsed from the stored JSON."""
    traces: list[Any] = []
    store._enqueue = traces.append  # keep the finished traces to encode them both ways
    autolog.openai()
    for interaction in replay.load_interactions(path):
        _run(interaction, "async" in path.stem, "raw_response" in path.stem, "partial_consumption" in path.stem)
    autolog.openai(disable=True)
    assert traces
    for fast, parsed in _records_both_ways(traces):
        assert fast == parsed, path.name
