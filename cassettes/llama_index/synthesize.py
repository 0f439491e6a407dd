"""Writes the LlamaIndex cassettes of this folder: what ``llama_index.llms.openai.OpenAI`` exchanges with the API.

Made the same way as ``../openai/synthesize.py`` (see ../README.md: no network or key on this
project's machines; shapes follow real recordings, values are our own). Re-record with
``OPENAI_API_KEY=... nox -s record``; the tests read their expected values from the cassette.

Run: ``python cassettes/llama_index/synthesize.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "openai"))
from synthesize import _interaction, _sse, write_cassettes  # noqa: E402

MODEL = "gpt-4o-mini-2024-07-18"


def chat() -> dict[str, Any]:
    body = {"id": "chatcmpl-li001", "object": "chat.completion", "created": 1760000300, "model": MODEL,
            "system_fingerprint": "fp_li", "service_tier": "default",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": "Paris.", "refusal": None,
                                     "annotations": []}}],
            "usage": {"prompt_tokens": 1301, "completion_tokens": 3, "total_tokens": 1304,
                      "prompt_tokens_details": {"cached_tokens": 1280, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}}}
    return {"version": 1, "interactions": [
        _interaction("chat/completions", {"model": "gpt-4o-mini", "stream": False, "temperature": 0.1,
                                          "messages": [{"role": "user", "content": "Capital of France?"}]},
                     json.dumps(body), "application/json"),
    ]}


def chat_stream() -> dict[str, Any]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-li002", "object": "chat.completion.chunk", "created": 1760000400, "model": MODEL,
                "system_fingerprint": "fp_li", "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                                           "logprobs": None}]}

    events = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Ro"}), chunk({"content": "me"}),
              chunk({"content": "."}), chunk({}, "stop"),
              {**chunk({}), "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3,
                                                     "total_tokens": 15,
                                                     "prompt_tokens_details": {"cached_tokens": 0},
                                                     "completion_tokens_details": {"reasoning_tokens": 0}}}]
    return {"version": 1, "interactions": [
        _interaction("chat/completions", {"model": "gpt-4o-mini", "stream": True, "temperature": 0.1,
                                          "stream_options": {"include_usage": True},
                                          "messages": [{"role": "user", "content": "Capital of Italy?"}]},
                     _sse(events), "text/event-stream"),
    ]}


CASSETTES = {
    "test_openai_llm_chat_nests_the_sdk_span_and_counts_usage_once": chat,
    "test_openai_llm_stream_chat_counts_usage_once": chat_stream,
}

if __name__ == "__main__":
    write_cassettes(HERE, CASSETTES)
