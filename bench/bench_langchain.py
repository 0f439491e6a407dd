"""Scenario 6a: added cost of tracing a LangChain invoke (prompt | fake chat model | parser: 4 runs).

Peers (each in its own interpreter): plain langchain-core, autolog (``autolog.langchain()``),
OpenInference's LangChain instrumentor (OpenTelemetry SDK, BatchSpanProcessor, discarding exporter),
MLflow (``mlflow.langchain.autolog()`` with a SQLite tracking store). Reports the added µs per invoke,
storing included (see ``measure_per_call``), against plain.
"""

from __future__ import annotations

import itertools
from typing import Any

from _common import HERE, measure_per_call, overhead_main


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


def openinference() -> Any:
    from openinference.instrumentation.langchain import LangChainInstrumentor

    return LangChainInstrumentor()


def make_call() -> Any:
    chain = make_chain()
    return lambda: chain.invoke({"question": "Capital of France?"})


def measure(peer: str, quick: bool) -> dict[str, Any]:
    return measure_per_call(peer, quick, "langchain", openinference, make_call, sizes=(200, 40), quick_sizes=(20, 4))


def main() -> None:
    overhead_main(__doc__ or "", HERE / "bench_langchain.py", "langchain_invoke", measure, unit="invoke")


if __name__ == "__main__":
    main()
