"""Writes the LangChain cassettes of this folder: what ``ChatOpenAI``/``OpenAIEmbeddings`` exchange with the API.

Made the same way as ``../openai/synthesize.py`` (see ../README.md: no network or key on this
project's machines; shapes follow real recordings, values are our own). Re-record with
``OPENAI_API_KEY=... nox -s record``; the tests read their expected values from the cassette.

Run: ``python cassettes/langchain/synthesize.py``.
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


def _chat_body(content: str, usage: dict[str, Any]) -> str:
    return json.dumps({
        "id": "chatcmpl-lc001", "object": "chat.completion", "created": 1760000100, "model": MODEL,
        "system_fingerprint": "fp_lc", "service_tier": "default",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []}}],
        "usage": usage})


def _embeddings_body(vectors: list[list[float]]) -> str:
    return json.dumps({"object": "list", "model": "text-embedding-3-small",
                       "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
                       "usage": {"prompt_tokens": 7 * len(vectors), "total_tokens": 7 * len(vectors)}})


def rag_with_openai() -> dict[str, Any]:
    """OpenAIEmbeddings for two documents and a query, then one ChatOpenAI call."""
    docs = ["Cats purr when they are content.", "Dogs bark at strangers."]
    question = "What do cats do when content?"
    usage = {"prompt_tokens": 1180, "completion_tokens": 9, "total_tokens": 1189,
             "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
             "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                           "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
    return {"version": 1, "interactions": [
        _interaction("embeddings", {"model": "text-embedding-3-small", "input": docs, "encoding_format": "base64"},
                     _embeddings_body([[0.8, 0.1, 0.0, 0.59], [0.05, 0.9, 0.42, 0.0]]), "application/json"),
        _interaction("embeddings", {"model": "text-embedding-3-small", "input": [question],
                                    "encoding_format": "base64"},
                     _embeddings_body([[0.75, 0.2, 0.05, 0.62]]), "application/json"),
        _interaction("chat/completions", {"model": "gpt-4o-mini", "stream": False, "messages": [
            {"role": "system", "content": f"Answer from: {docs[0]}"}, {"role": "user", "content": question}]},
            _chat_body("They purr.", usage), "application/json"),
    ]}


def chat_stream() -> dict[str, Any]:
    """A streamed ChatOpenAI call; LangChain asks for the usage chunk itself (``stream_usage``)."""
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-lc002", "object": "chat.completion.chunk", "created": 1760000200, "model": MODEL,
                "system_fingerprint": "fp_lc", "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                                           "logprobs": None}]}

    events = [chunk({"role": "assistant", "content": "", "refusal": None}), chunk({"content": "Blue"}),
              chunk({"content": " sky"}), chunk({"content": "."}), chunk({}, "stop"),
              {**chunk({}), "choices": [], "usage": {
                  "prompt_tokens": 14, "completion_tokens": 3, "total_tokens": 17,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}}]
    return {"version": 1, "interactions": [
        _interaction("chat/completions", {"model": "gpt-4o-mini", "stream": True,
                                          "stream_options": {"include_usage": True},
                                          "messages": [{"role": "user", "content": "Colour of the sky?"}]},
                     _sse(events), "text/event-stream"),
    ]}


CASSETTES = {
    "test_rag_chain_with_openai_nests_sdk_spans_and_counts_usage_once": rag_with_openai,
    "test_streamed_chat_openai_counts_the_usage_chunk_once": chat_stream,
}

if __name__ == "__main__":
    write_cassettes(HERE, CASSETTES)
