"""autolog.llama_index() with real llama-index-core: VectorStoreIndex on MockEmbedding/MockLLM, agents, workflows."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms import ChatMessage, MockFunctionCallingLLM, MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import Event, StartEvent, StopEvent, Workflow, step

import autolog
from autolog.integrations import llama_index as li_integration
from tests.trees import span_tree

# llama-index's workflows call inspect.getmembers on pydantic models, which warns; not ours.
pytestmark = [pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
              pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211")]

DOCS = [Document(text="Cats purr when content.", metadata={"source": "cats.md"}),
        Document(text="Dogs bark at strangers.", metadata={"source": "dogs.md"})]

QUERY_TREE = [
    ("RetrieverQueryEngine.query", "CHAIN", [
        ("RetrieverQueryEngine._query", "CHAIN", [
            ("VectorIndexRetriever.retrieve", "RETRIEVER", [
                ("VectorIndexRetriever._retrieve", "RETRIEVER", [
                    ("MockEmbedding.get_query_embedding", "EMBEDDING", [
                        ("MockEmbedding._get_query_embedding", "EMBEDDING", [])])])]),
            ("CompactAndRefine.synthesize", "CHAIN", [
                ("CompactAndRefine.get_response", "CHAIN", [
                    ("TokenTextSplitter.split_text", "CHAIN", []),
                    ("CompactAndRefine.get_response", "CHAIN", [
                        ("TokenTextSplitter.split_text", "CHAIN", []),
                        ("DefaultRefineProgram.__call__", "CHAIN", [
                            ("MockLLM.predict", "LLM", [("MockLLM.complete", "LLM", [])])])])])])])])]


@pytest.fixture(autouse=True)
def llama_index_on() -> Iterator[None]:
    Settings.embed_model = MockEmbedding(embed_dim=8)
    Settings.llm = MockLLM(max_tokens=4)
    index = VectorStoreIndex.from_documents(DOCS)  # built before tracing: the tests see queries only
    autolog.llama_index()
    globals()["INDEX"] = index
    yield
    autolog.llama_index(disable=True)
    gc.collect()
    assert li_integration.open_spans() == 0, f"LlamaIndex spans stayed open: {li_integration._spans.open}"


def traces() -> list[autolog.Trace]:
    return autolog.search_traces(return_type="list", order_by=["timestamp_ms ASC"], max_results=1000)


def only_trace() -> autolog.Trace:
    found = traces()
    assert len(found) == 1, f"expected one trace, got {len(found)}"
    return found[0]


def by_name(trace: autolog.Trace, name: str) -> list[autolog.Span]:
    return [s for s in trace.data.spans if s.name == name]


def test_query_engine_records_the_whole_tree_with_nodes_and_response() -> None:
    model_id = autolog.create_external_model(name="rag-li").model_id
    with autolog.set_active_model(model_id=model_id):
        response = INDEX.as_query_engine(similarity_top_k=1).query("What do cats do?")  # noqa: F821
    trace = only_trace()
    assert span_tree(trace) == QUERY_TREE
    assert trace.info.state == "OK"
    assert trace.info.trace_metadata["mlflow.modelId"] == model_id
    root = trace.data.spans[0]
    assert root.inputs == {"str_or_query_bundle": "What do cats do?"}
    [node] = response.source_nodes
    assert root.outputs == {"response": str(response), "source_nodes": [
        {"id": node.node_id, "text": node.text, "score": node.score, "metadata": node.metadata}]}
    [retrieve] = by_name(trace, "VectorIndexRetriever.retrieve")
    assert retrieve.outputs == [{"id": node.node_id, "text": node.text, "score": node.score,
                                 "metadata": node.metadata}]
    [embedding] = by_name(trace, "MockEmbedding._get_query_embedding")
    assert embedding.outputs == {"dimensions": 8}  # vectors summarised
    [complete] = by_name(trace, "MockLLM.complete")
    assert complete.outputs == str(response)
    assert set(complete.inputs) == {"prompt", "formatted"} and "Query: What do cats do?" in complete.inputs["prompt"]


def test_async_queries_on_concurrent_tasks_never_mix() -> None:
    engine = INDEX.as_query_engine(similarity_top_k=1)  # noqa: F821

    async def run() -> list[Any]:
        return await asyncio.gather(*(engine.aquery(f"question {i}") for i in range(20)))

    asyncio.run(run())
    found = traces()
    assert len(found) == 20
    questions = set()
    for trace in found:
        root = trace.data.spans[0]
        assert root.name == "RetrieverQueryEngine.aquery"
        assert {s.trace_id for s in trace.data.spans} == {trace.info.trace_id}
        assert len(by_name(trace, "MockEmbedding.aget_query_embedding")) == 1
        assert len([s for s in trace.data.spans if s.span_type == "LLM"]) >= 1
        questions.add(root.inputs["str_or_query_bundle"])
    assert questions == {f"question {i}" for i in range(20)}


def test_streaming_query_keeps_spans_open_until_the_stream_is_consumed() -> None:
    with autolog.suppress_tracing():
        plain = list(MockLLM(max_tokens=4).stream_complete("x"))  # what the LLM streams, untraced
    response = INDEX.as_query_engine(streaming=True, similarity_top_k=1).query("stream please")  # noqa: F821
    assert traces() == []  # nothing stored while the stream is still open
    tokens = list(response.response_gen)
    assert tokens == [r.delta for r in plain]
    trace = only_trace()
    tree = span_tree(trace)
    assert tree[0][:2] == ("RetrieverQueryEngine.query", "CHAIN")
    [synth] = by_name(trace, "CompactAndRefine.synthesize")
    assert synth.outputs["response"] == "".join(tokens)
    [stream] = by_name(trace, "MockLLM.stream")
    assert stream.parent_id == synth.span_id  # the LLM streamed while the caller read: nested under synthesize
    [stream_complete] = by_name(trace, "MockLLM.stream_complete")
    assert stream_complete.outputs == plain[-1].text  # the last streamed response, as LlamaIndex reports it
    assert [e.attributes["token"] for e in stream_complete.events if e.name == "new_token"] == tokens
    assert all(s.end_time_ns is not None for s in trace.data.spans)
    assert trace.data.spans[0].end_time_ns >= stream_complete.end_time_ns


def test_a_stream_closed_halfway_or_never_read_still_ends_its_spans() -> None:
    llm = MockLLM(max_tokens=6)
    stream = llm.stream_chat([ChatMessage(role="user", content="hi")])
    first = next(stream)
    stream.close()
    untouched = llm.stream_chat([ChatMessage(role="user", content="never read")])
    del untouched
    gc.collect()
    closed, dropped = traces()
    assert span_tree(closed) == [("MockLLM.stream_chat", "CHAT_MODEL", [("MockLLM.stream_complete", "LLM", [])])]
    assert closed.data.spans[0].attributes["autolog.stream.ended_by"] == "closed"
    assert all(s.end_time_ns is not None for s in closed.data.spans)
    assert closed.info.state == "OK"
    assert [e.attributes["token"] for e in closed.data.spans[0].events if e.name == "new_token"] == [first.delta]
    assert dropped.data.spans[0].attributes["autolog.stream.ended_by"] == "garbage_collected"


def test_chat_is_a_chat_model_span_with_messages() -> None:
    reply = MockLLM().chat([ChatMessage(role="system", content="terse"), ChatMessage(role="user", content="hi")])
    trace = only_trace()
    assert span_tree(trace) == [("MockLLM.chat", "CHAT_MODEL", [("MockLLM.complete", "LLM", [])])]
    chat = trace.data.spans[0]
    assert chat.inputs == {"messages": [{"role": "system", "content": "terse"}, {"role": "user", "content": "hi"}]}
    assert chat.outputs == {"role": "assistant", "content": reply.message.content}


class Failing(BaseRetriever):
    def _retrieve(self, query_bundle: Any) -> list[Any]:
        raise LookupError("index offline")


def test_errors_drop_spans_as_error_and_propagate_unchanged() -> None:
    engine = RetrieverQueryEngine.from_args(Failing())
    with pytest.raises(LookupError, match="index offline"):
        engine.query("q")
    trace = only_trace()
    assert trace.info.state == "ERROR"
    assert span_tree(trace, ("name", "status")) == [
        ("RetrieverQueryEngine.query", "ERROR", [("RetrieverQueryEngine._query", "ERROR", [
            ("Failing.retrieve", "ERROR", [("Failing._retrieve", "ERROR", [])])])])]
    [failing] = by_name(trace, "Failing._retrieve")
    assert failing.span_type == "RETRIEVER"
    assert failing.events[0].attributes["exception.type"].endswith("LookupError")


def test_trace_function_around_a_query_contains_it() -> None:
    @autolog.trace(name="handle")
    def handle(question: str) -> str:
        return str(INDEX.as_query_engine(similarity_top_k=1).query(question))  # noqa: F821

    handle("cats?")
    trace = only_trace()
    assert span_tree(trace)[0][:2] == ("handle", "UNKNOWN")
    assert span_tree(trace)[0][2] == QUERY_TREE


class Middle(Event):
    text: str


class Shout(Workflow):
    @step
    async def upper(self, ev: StartEvent) -> Middle:
        return Middle(text=ev.topic.upper())

    @step
    async def exclaim(self, ev: Middle) -> StopEvent:
        return StopEvent(result=ev.text + "!")


def test_workflow_and_its_steps() -> None:
    async def run() -> Any:
        return await Shout(timeout=10).run(topic="hi")

    assert asyncio.run(run()) == "HI!"
    trace = only_trace()
    assert span_tree(trace) == [("Shout.run", "WORKFLOW", [("Shout.upper", "TASK", []),
                                                           ("Shout.exclaim", "TASK", [])])]


def test_function_calling_agent_with_a_tool() -> None:
    seen: list[str | None] = []

    def lookup(city: str = "Paris") -> str:
        """Weather for a city."""
        seen.append(autolog.get_current_active_span().name)  # type: ignore[union-attr]
        return f"Sunny in {city}"

    async def run() -> Any:
        agent = FunctionAgent(tools=[FunctionTool.from_defaults(lookup)], llm=MockFunctionCallingLLM())
        return await agent.run("Weather in Paris?")

    asyncio.run(run())
    trace = only_trace()
    root = span_tree(trace)[0]
    assert root[:2] == ("FunctionAgent.run", "AGENT")
    types = {s.span_type for s in trace.data.spans}
    assert {"AGENT", "TASK", "CHAT_MODEL", "TOOL"} <= types
    [tool_span] = [s for s in trace.data.spans if s.span_type == "TOOL"]
    assert tool_span.name == "FunctionTool.acall"
    assert tool_span.status.status_code == "OK"
    assert seen == ["FunctionTool.acall"] or seen == ["FunctionTool.call"]  # the tool body runs inside its span
    assert all(s.status.status_code == "OK" for s in trace.data.spans)


def test_handlers_are_added_once_and_removed_by_disable() -> None:
    dispatcher = get_dispatcher()
    span_handler, event_handler = li_integration.get_handlers()
    autolog.llama_index()
    autolog.llama_index()
    assert dispatcher.span_handlers.count(span_handler) == 1
    assert dispatcher.event_handlers.count(event_handler) == 1
    autolog.llama_index(log_traces=False)
    MockLLM().complete("quiet")
    assert autolog.flush()
    assert traces() == []
    autolog.llama_index(disable=True)
    assert span_handler not in dispatcher.span_handlers and event_handler not in dispatcher.event_handlers
    MockLLM().complete("off")
    assert autolog.flush()
    assert traces() == []
    autolog.llama_index()
    MockLLM().complete("on")
    assert span_tree(only_trace()) == [("MockLLM.complete", "LLM", [])]


def test_a_node_postprocessor_is_a_reranker_span() -> None:
    from llama_index.core.postprocessor import SimilarityPostprocessor

    engine = INDEX.as_query_engine(similarity_top_k=2,  # noqa: F821
                                   node_postprocessors=[SimilarityPostprocessor(similarity_cutoff=0.0)])
    engine.query("cats?")
    trace = only_trace()
    [rerank] = [s for s in trace.data.spans if s.span_type == "RERANKER"]
    assert rerank.name == "SimilarityPostprocessor._postprocess_nodes"
    assert [n["text"] for n in rerank.outputs] == [n["text"] for n in rerank.inputs["nodes"]]


def test_queries_on_threads_never_mix() -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = INDEX.as_query_engine(similarity_top_k=1)  # noqa: F821
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: engine.query(f"thread question {i}"), range(24)))
    found = traces()
    assert len(found) == 24
    assert {t.data.spans[0].inputs["str_or_query_bundle"] for t in found} == {f"thread question {i}" for i in range(24)}
    for trace in found:
        assert span_tree(trace) == QUERY_TREE


def test_async_streaming_query_ends_when_the_caller_has_read_the_stream() -> None:
    engine = INDEX.as_query_engine(streaming=True, similarity_top_k=1)  # noqa: F821

    async def run() -> list[str]:
        response = await engine.aquery("async stream")
        return [token async for token in response.async_response_gen()]

    tokens = asyncio.run(run())
    trace = only_trace()
    root = trace.data.spans[0]
    assert root.name == "RetrieverQueryEngine.aquery"
    assert root.outputs["response"] == "".join(tokens) and tokens
    assert all(s.end_time_ns is not None for s in trace.data.spans)
    assert root.end_time_ns == max(s.end_time_ns for s in trace.data.spans)


# LlamaIndex's chat memory opens an aiosqlite connection it never closes; not ours.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_chat_engine_stream_is_recorded_and_unchanged() -> None:
    from llama_index.core.chat_engine import SimpleChatEngine

    with autolog.suppress_tracing():
        expected = list(SimpleChatEngine.from_defaults(llm=MockLLM(max_tokens=3)).stream_chat("hi").response_gen)
    response = SimpleChatEngine.from_defaults(llm=MockLLM(max_tokens=3)).stream_chat("hi")
    assert list(response.response_gen) == expected
    gc.collect()
    found = traces()
    assert found and all(s.end_time_ns is not None for t in found for s in t.data.spans)
    assert found[0].data.spans[0].name == "SimpleChatEngine.stream_chat"
