"""Scenario 6b: added cost of tracing a LlamaIndex query (VectorStoreIndex, MockEmbedding, MockLLM).

Peers (each in its own interpreter): plain llama-index-core, autolog (``autolog.llama_index()``),
OpenInference's LlamaIndex instrumentor (OpenTelemetry SDK, BatchSpanProcessor, discarding exporter),
MLflow (``mlflow.llama_index.autolog()`` with a SQLite tracking store). Reports the added µs per query,
storing included (see ``measure_per_call``), against plain. A query here is ~20 LlamaIndex spans.
"""

from __future__ import annotations

from typing import Any

from _common import HERE, measure_per_call, overhead_main


def make_query_engine() -> Any:
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import MockLLM

    Settings.embed_model = MockEmbedding(embed_dim=16)
    Settings.llm = MockLLM(max_tokens=8)
    docs = [Document(text=f"Fact {i}: the capital of country {i} is city {i}.") for i in range(20)]
    return VectorStoreIndex.from_documents(docs).as_query_engine(similarity_top_k=2)


def openinference() -> Any:
    from openinference.instrumentation.llama_index import LlamaIndexInstrumentor

    return LlamaIndexInstrumentor()


def make_call() -> Any:
    engine = make_query_engine()
    return lambda: engine.query("What is the capital of country 7?")


def measure(peer: str, quick: bool) -> dict[str, Any]:
    return measure_per_call(peer, quick, "llama_index", openinference, make_call, sizes=(40, 40),
                            quick_sizes=(10, 4), warmup=10)


def main() -> None:
    overhead_main(__doc__ or "", HERE / "bench_llama_index.py", "llama_index_query", measure, unit="query")


if __name__ == "__main__":
    main()
