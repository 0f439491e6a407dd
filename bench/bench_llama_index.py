"""Scenario 6b: added cost of tracing a LlamaIndex query (VectorStoreIndex, MockEmbedding, MockLLM).

Peers (each in its own interpreter): plain llama-index-core, autolog (``autolog.llama_index()``),
OpenInference's LlamaIndex instrumentor (OpenTelemetry SDK, BatchSpanProcessor, discarding exporter),
MLflow (``mlflow.llama_index.autolog()`` with a SQLite tracking store). Reports µs per query (median of
repeated runs) and the added µs against plain. A query here is ~20 LlamaIndex spans.
"""

from __future__ import annotations

import tempfile
from typing import Any

from _common import HERE, discarding_otel_provider, finish_peer, overhead_main, per_call_us


def make_query_engine() -> Any:
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import MockLLM

    Settings.embed_model = MockEmbedding(embed_dim=16)
    Settings.llm = MockLLM(max_tokens=8)
    docs = [Document(text=f"Fact {i}: the capital of country {i} is city {i}.") for i in range(20)]
    return VectorStoreIndex.from_documents(docs).as_query_engine(similarity_top_k=2)


def setup(peer: str, workdir: str) -> None:
    if peer == "autolog":
        import autolog

        autolog.configure(f"sqlite:///{workdir}/autolog.db")
        autolog.llama_index()
    elif peer == "openinference":
        from openinference.instrumentation.llama_index import LlamaIndexInstrumentor

        LlamaIndexInstrumentor().instrument(tracer_provider=discarding_otel_provider())
    elif peer == "mlflow":
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
        mlflow.set_experiment("bench")
        mlflow.llama_index.autolog()


def measure(peer: str, quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        setup(peer, workdir)
        engine = make_query_engine()
        call = lambda: engine.query("What is the capital of country 7?")
        calls, repeats = (20, 3) if quick or peer == "mlflow" else (100, 7)
        per_call_us(call, 10, 1)  # warm-up
        us = per_call_us(call, calls, repeats)
        return finish_peer(peer, {"peer": peer, "us_per_call": us})


def main() -> None:
    overhead_main(__doc__ or "", HERE / "bench_llama_index.py", "llama_index_query", measure, unit="query")


if __name__ == "__main__":
    main()
