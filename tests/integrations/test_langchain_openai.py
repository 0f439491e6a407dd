"""LangChain's ChatOpenAI / OpenAIEmbeddings (langchain-openai) over the real SDK, replaying cassettes/langchain/.

With ``autolog.openai()`` on as well, each LangChain span holds the OpenAI SDK span of the
same call, and the trace counts that call's tokens once. Expected values come from the
cassettes, so a re-recording against the live API keeps the tests meaningful.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

import autolog
from tests.integrations import cassette_replay
from tests.integrations.cassette_replay import events, span_usage
from tests.trees import parallel_branches_sorted, span_tree

CASSETTES = cassette_replay.CASSETTES / "langchain"


@pytest.fixture(autouse=True)
def patched(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cassette_replay.use_replay_key(monkeypatch)
    autolog.openai()
    autolog.langchain()
    yield
    autolog.langchain(disable=True)
    autolog.openai(disable=True)


def interactions(name: str) -> list[dict[str, Any]]:
    return cassette_replay.interactions(CASSETTES, name)


@pytest.mark.vcr
def test_rag_chain_with_openai_nests_sdk_spans_and_counts_usage_once() -> None:
    recorded = interactions("test_rag_chain_with_openai_nests_sdk_spans_and_counts_usage_once")
    docs = json.loads(recorded[0]["request"]["body"])["input"]
    question = json.loads(recorded[1]["request"]["body"])["input"][0]
    chat_response = json.loads(recorded[2]["response"]["body"]["string"])

    embeddings = OpenAIEmbeddings(model="text-embedding-3-small", check_embedding_ctx_length=False, max_retries=0)
    store = InMemoryVectorStore.from_texts(docs, embeddings)  # its own trace: one OpenAI embeddings span
    retriever = store.as_retriever(search_kwargs={"k": 1})
    prompt = ChatPromptTemplate.from_messages([("system", "Answer from: {context}"), ("human", "{question}")])
    chain = ({"context": retriever | RunnableLambda(lambda d: d[0].page_content, name="first_doc"),
              "question": RunnablePassthrough()}
             | prompt | ChatOpenAI(model="gpt-4o-mini", max_retries=0) | StrOutputParser())

    answer = chain.invoke(question)

    assert answer == chat_response["choices"][0]["message"]["content"]
    traces = autolog.search_traces(return_type="list", order_by=["timestamp_ms ASC"])
    assert [parallel_branches_sorted(span_tree(t)) for t in traces] == [parallel_branches_sorted(tree) for tree in [
        [("Embeddings", "EMBEDDING", [])],
        [("RunnableSequence", "CHAIN", [
            ("RunnableParallel<context,question>", "CHAIN", [
                ("RunnableSequence", "CHAIN", [
                    ("VectorStoreRetriever", "RETRIEVER", [("Embeddings", "EMBEDDING", [])]),
                    ("first_doc", "CHAIN", []),
                ]),
                ("RunnablePassthrough", "CHAIN", []),
            ]),
            ("ChatPromptTemplate", "PROMPT", []),
            ("ChatOpenAI", "CHAT_MODEL", [("Completions", "CHAT_MODEL", [])]),
            ("StrOutputParser", "PARSER", []),
        ])],
    ]]
    trace = traces[1]
    expected = span_usage(chat_response["usage"])
    chat_spans = {s.name: s for s in trace.data.spans if s.span_type == "CHAT_MODEL"}
    assert chat_spans["ChatOpenAI"].attributes["mlflow.chat.tokenUsage"] == expected
    assert chat_spans["Completions"].attributes["mlflow.chat.tokenUsage"] == expected
    # Every call counted once (MLflow's rule): the chat call, seen by two layers, and the retriever's embedding call.
    embedding = next(s for s in trace.data.spans if s.span_type == "EMBEDDING").attributes["mlflow.chat.tokenUsage"]
    assert embedding["input_tokens"] > 0
    assert trace.info.token_usage == {k: expected.get(k, 0) + embedding.get(k, 0) for k in expected | embedding}
    # Cost follows the same rule: both layers of the chat call carry its price, the trace sums it once.
    chat_cost = chat_spans["Completions"].attributes["mlflow.llm.cost"]
    assert chat_spans["ChatOpenAI"].attributes["mlflow.llm.cost"] == pytest.approx(chat_cost)
    embedding_cost = next(s for s in trace.data.spans if s.name == "Embeddings").attributes["mlflow.llm.cost"]
    assert chat_cost["total_cost"] > 0 and embedding_cost["total_cost"] > 0
    assert json.loads(trace.info.trace_metadata["mlflow.trace.cost"]) == pytest.approx(
        {k: chat_cost[k] + embedding_cost[k] for k in chat_cost})
    assert chat_spans["ChatOpenAI"].attributes["mlflow.llm.model"] == chat_response["model"]
    assert chat_spans["ChatOpenAI"].inputs["messages"] == [
        {"role": "system", "content": f"Answer from: {docs[0]}"}, {"role": "user", "content": question}]
    assert chat_spans["ChatOpenAI"].outputs == {"role": "assistant", "content": answer}


@pytest.mark.vcr
def test_streamed_chat_openai_counts_the_usage_chunk_once() -> None:
    [interaction] = interactions("test_streamed_chat_openai_counts_the_usage_chunk_once")
    request = json.loads(interaction["request"]["body"])
    body_events = events(interaction["response"]["body"]["string"])
    model = ChatOpenAI(model="gpt-4o-mini", max_retries=0, stream_usage=True)

    chunks = [c.content for c in model.stream(request["messages"][0]["content"])]

    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in body_events if e["choices"])
    assert "".join(chunks) == text
    [trace] = autolog.search_traces(return_type="list")
    assert span_tree(trace) == [("ChatOpenAI", "CHAT_MODEL", [("Completions", "CHAT_MODEL", [])])]
    expected = span_usage(body_events[-1]["usage"])
    outer, inner = sorted(trace.data.spans, key=lambda s: s.start_time_ns)
    assert outer.attributes["mlflow.chat.tokenUsage"] == expected
    assert inner.attributes["mlflow.chat.tokenUsage"] == expected
    assert trace.info.token_usage == expected
    assert outer.outputs == {"role": "assistant", "content": text}
    assert [e.attributes["token"] for e in outer.events if e.name == "new_token"] == chunks
