"""Scenario 6a: added cost of tracing a LangChain invoke (prompt | fake chat model | parser: 4 runs).

Peers (each in its own interpreter): plain langchain-core, autolog (``autolog.langchain()``),
OpenInference's LangChain instrumentor (OpenTelemetry SDK, BatchSpanProcessor, discarding exporter),
MLflow (``mlflow.langchain.autolog()`` with a SQLite tracking store). Reports µs per invoke (median of
repeated runs) and the added µs against plain.
"""

from __future__ import annotations

import itertools
import tempfile
from typing import Any

from _common import HERE, discarding_otel_provider, finish_peer, overhead_main, per_call_us


def make_chain() -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    reply = AIMessage("Paris is the capital of France.",
                      usage_metadata={"input_tokens": 20, "output_tokens": 7, "total_tokens": 27})
    model = GenericFakeChatModel(messages=itertools.repeat(reply))
    prompt = ChatPromptTemplate.from_messages([("system", "You are terse."), ("human", "{question}")])
    return prompt | model | StrOutputParser()


def setup(peer: str, workdir: str) -> None:
    if peer == "autolog":
        import autolog

        autolog.configure(f"sqlite:///{workdir}/autolog.db")
        autolog.langchain()
    elif peer == "openinference":
        from openinference.instrumentation.langchain import LangChainInstrumentor

        LangChainInstrumentor().instrument(tracer_provider=discarding_otel_provider())
    elif peer == "mlflow":
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
        mlflow.set_experiment("bench")
        mlflow.langchain.autolog()


def measure(peer: str, quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        setup(peer, workdir)
        chain = make_chain()
        call = lambda: chain.invoke({"question": "Capital of France?"})
        calls, repeats = (30, 3) if quick or peer == "mlflow" else (300, 7)
        per_call_us(call, 20, 1)  # warm-up
        us = per_call_us(call, calls, repeats)
        return finish_peer(peer, {"peer": peer, "us_per_call": us})


def main() -> None:
    overhead_main(__doc__ or "", HERE / "bench_langchain.py", "langchain_invoke", measure, unit="invoke")


if __name__ == "__main__":
    main()
