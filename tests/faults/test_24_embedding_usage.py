"""Item 24: a trace's token usage counts every span that carries usage, embeddings included.

Only LLM and CHAT_MODEL spans were summed: a trace of embedding calls showed no input tokens
while the API had reported them. The rule is MLflow's: every span with usage counts, except
one below an ancestor that already carries usage (the same call seen by two layers).
"""

from __future__ import annotations

from typing import Any

import autolog

USAGE = "mlflow.chat.tokenUsage"


def _usage_of(trace_id: str) -> dict[str, Any] | None:
    assert autolog.flush(10)
    usage: dict[str, Any] | None = autolog.get_trace(trace_id).info.token_usage
    return usage


def test_a_trace_of_one_embedding_call_has_its_usage() -> None:
    with autolog.start_span("embed", span_type="EMBEDDING") as span:
        span.set_attributes({USAGE: {"input_tokens": 8, "total_tokens": 8}})
    assert _usage_of(span.trace_id) == {"input_tokens": 8, "total_tokens": 8}


def test_embedding_chat_and_other_spans_with_usage_are_summed() -> None:
    with autolog.start_span("rag", span_type="CHAIN") as root:
        for tokens in (1, 3, 8):
            with autolog.start_span("embed", span_type="EMBEDDING") as embed:
                embed.set_attributes({USAGE: {"input_tokens": tokens, "total_tokens": tokens}})
        with autolog.start_span("answer", span_type="CHAT_MODEL") as chat:
            chat.set_attributes({USAGE: {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}})
        with autolog.start_span("rerank", span_type="RERANKER") as rerank:
            rerank.set_attributes({USAGE: {"input_tokens": 5, "total_tokens": 5}})
    assert _usage_of(root.trace_id) == {"input_tokens": 117, "output_tokens": 20, "total_tokens": 137}


def test_a_call_seen_by_two_layers_counts_once() -> None:
    with autolog.start_span("index", span_type="CHAIN") as root:
        with autolog.start_span("OpenAIEmbeddings", span_type="EMBEDDING") as outer:
            outer.set_attributes({USAGE: {"input_tokens": 6, "total_tokens": 6}})
            with autolog.start_span("Embeddings.create", span_type="EMBEDDING") as inner:
                inner.set_attributes({USAGE: {"input_tokens": 6, "total_tokens": 6}})
        with autolog.start_span("tool", span_type="TOOL"), autolog.start_span("llm", span_type="LLM") as llm:
            llm.set_attributes({USAGE: {"input_tokens": 4, "output_tokens": 2, "total_tokens": 6}})
    assert _usage_of(root.trace_id) == {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
