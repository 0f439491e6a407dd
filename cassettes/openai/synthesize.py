"""Writes the OpenAI cassettes of this folder (vcrpy YAML) from the API's documented response shapes.

These cassettes were not recorded against the live API (this project's machines have no
key and no network); each body below follows the shape of real recordings (see
../../../shared/acceptance/cassettes) with its own values. Re-record them against the real API
with ``OPENAI_API_KEY=... nox -s record`` (pytest ``--record-mode=rewrite``); the tests'
assertions read expected values from the cassette, so they hold for real recordings too.

Run: ``python cassettes/openai/synthesize.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent


def _interaction(path: str, request: dict[str, Any], body: str, content_type: str) -> dict[str, Any]:
    return {
        "request": {"body": json.dumps(request), "method": "POST", "uri": f"https://api.openai.com/v1/{path}",
                    "headers": {"content-type": ["application/json"], "host": ["api.openai.com"]}},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {"content-type": [content_type]},
                     "body": {"string": body}},
    }


def _sse(events: list[dict[str, Any]], named: bool = False) -> str:
    if named:
        return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def chat_reasoning() -> dict[str, Any]:
    request = {"model": "o3-mini", "messages": [{"role": "user", "content": "Is 1021 prime? Answer yes or no."}],
               "reasoning_effort": "low"}
    body = {"id": "chatcmpl-syn001", "object": "chat.completion", "created": 1760000000,
            "model": "o3-mini-2025-01-31", "system_fingerprint": "fp_syn",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": "Yes.", "refusal": None, "annotations": []}}],
            "usage": {"prompt_tokens": 1545, "completion_tokens": 210, "total_tokens": 1755,
                      "prompt_tokens_details": {"cached_tokens": 1408, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 192, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}},
            "service_tier": "default"}
    return {"interactions": [_interaction("chat/completions", request, json.dumps(body), "application/json")]}


def chat_stream_tools() -> dict[str, Any]:
    request = {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
               "messages": [{"role": "user", "content": "Weather in Paris and Rome?"}],
               "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
                   "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}
    base = {"id": "chatcmpl-syn002", "object": "chat.completion.chunk", "created": 1760000001,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_syn", "usage": None}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def call(index: int, **fields: Any) -> dict[str, Any]:
        return {"tool_calls": [{"index": index, **fields}]}

    events = [
        chunk({"role": "assistant", "content": None, "refusal": None}),
        chunk(call(0, id="call_paris", type="function", function={"name": "get_weather", "arguments": ""})),
        chunk(call(0, function={"arguments": "{\"ci"})), chunk(call(0, function={"arguments": "ty\": \"Paris\"}"})),
        chunk(call(1, id="call_rome", type="function", function={"name": "get_weather", "arguments": ""})),
        chunk(call(1, function={"arguments": "{\"city\": "})), chunk(call(1, function={"arguments": "\"Rome\"}"})),
        chunk({}, "tool_calls"),
        {**base, "choices": [], "usage": {"prompt_tokens": 61, "completion_tokens": 46, "total_tokens": 107,
                                          "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                                          "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                                        "accepted_prediction_tokens": 0,
                                                                        "rejected_prediction_tokens": 0}}},
    ]
    return {"interactions": [_interaction("chat/completions", request, _sse(events), "text/event-stream")]}


def responses_stream() -> dict[str, Any]:
    request = {"model": "gpt-4.1-mini", "input": "Name a prime number.", "stream": True}
    response = {"id": "resp_syn003", "object": "response", "created_at": 1760000002, "model": "gpt-4.1-mini-2025-04-14",
                "status": "in_progress", "output": [], "parallel_tool_calls": True, "tool_choice": "auto",
                "tools": [], "usage": None}
    message = {"type": "message", "id": "msg_syn", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": "Seven.", "annotations": []}]}
    done = {**response, "status": "completed", "output": [message],
            "usage": {"input_tokens": 11, "output_tokens": 3, "total_tokens": 14,
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": response},
        {"type": "response.in_progress", "sequence_number": 1, "response": response},
        {"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_syn", "output_index": 0,
         "content_index": 0, "delta": "Seven"},
        {"type": "response.output_text.delta", "sequence_number": 3, "item_id": "msg_syn", "output_index": 0,
         "content_index": 0, "delta": "."},
        {"type": "response.output_text.done", "sequence_number": 4, "item_id": "msg_syn", "output_index": 0,
         "content_index": 0, "text": "Seven."},
        {"type": "response.completed", "sequence_number": 5, "response": done},
    ]
    return {"interactions": [_interaction("responses", request, _sse(events, named=True), "text/event-stream")]}


def legacy_completion_stream() -> dict[str, Any]:
    request = {"model": "gpt-3.5-turbo-instruct", "prompt": "Count: 1, 2,", "stream": True,
               "stream_options": {"include_usage": True}, "max_tokens": 5}
    base = {"id": "cmpl-syn004", "object": "text_completion", "created": 1760000003,
            "model": "gpt-3.5-turbo-instruct:20230824-v2"}
    events = [{**base, "choices": [{"index": 0, "text": t, "logprobs": None, "finish_reason": f}], "usage": None}
              for t, f in ((" 3", None), (",", None), (" 4", "length"))]
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}})
    return {"interactions": [_interaction("completions", request, _sse(events), "text/event-stream")]}


CASSETTES = {
    "test_chat_reports_cached_and_reasoning_tokens": chat_reasoning,
    "test_chat_stream_merges_parallel_tool_calls": chat_stream_tools,
    "test_responses_stream_keeps_the_final_response": responses_stream,
    "test_legacy_completion_stream": legacy_completion_stream,
}

def write_cassettes(folder: Path, cassettes: dict[str, Callable[[], dict[str, Any]]]) -> None:
    """Write ``<name>.yaml`` in ``folder`` for each builder (used by the other folders' scripts too)."""
    for name, build in cassettes.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(build(), sort_keys=False, width=120), encoding="utf-8")
        print("wrote", name)


if __name__ == "__main__":
    write_cassettes(HERE, CASSETTES)
