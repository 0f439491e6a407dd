"""autolog.langchain() with real langchain-core runnables, fake models and the in-memory vector store."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.callbacks import CallbackManager
from langchain_core.callbacks.base import BaseCallbackManager
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda, RunnablePassthrough
from langchain_core.runnables.config import get_callback_manager_for_config
from langchain_core.tools import tool
from langchain_core.vectorstores import InMemoryVectorStore

import autolog
from autolog.integrations import langchain as lc_integration
from tests.trees import parallel_branches_sorted, span_tree

USAGE = {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15,
         "input_token_details": {"cache_read": 6}, "output_token_details": {"reasoning": 1}}


@pytest.fixture(autouse=True)
def langchain_on() -> Iterator[None]:
    autolog.langchain()
    yield
    autolog.langchain(disable=True)
    handler = lc_integration.get_handler()
    assert handler.open_runs == 0, "a run stayed in the handler's map"
    assert not handler.core._leaves


class StreamingUsageChat(GenericFakeChatModel):
    """langchain-core's fake chat model, streaming its usage in a last chunk as OpenAI and Anthropic do."""

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        usage = None
        for chunk in super()._stream(*args, **kwargs):
            usage = usage or chunk.message.usage_metadata
            chunk.message.usage_metadata = None
            yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=dict(USAGE)))


def fake_chat(*replies: AIMessage | str) -> GenericFakeChatModel:
    messages = [r if isinstance(r, AIMessage) else AIMessage(r, usage_metadata=dict(USAGE)) for r in replies]
    return StreamingUsageChat(messages=iter(messages), name="GenericFakeChatModel")


def retrieval_chain(model: GenericFakeChatModel) -> Any:
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=16))
    store.add_documents([Document("Cats purr when content.", metadata={"source": "cats.md"}, id="d1"),
                         Document("Dogs bark at strangers.", metadata={"source": "dogs.md"}, id="d2")])
    retriever = store.as_retriever(search_kwargs={"k": 2})
    prompt = ChatPromptTemplate.from_messages([("system", "Answer from: {context}"), ("human", "{question}")])

    def format_docs(docs: list[Document]) -> str:
        return "\n".join(d.page_content for d in docs)

    return ({"context": retriever | RunnableLambda(format_docs), "question": RunnablePassthrough()}
            | prompt | model | StrOutputParser())


RETRIEVAL_TREE = [
    ("RunnableSequence", "CHAIN", [
        ("RunnableParallel<context,question>", "CHAIN", [
            ("RunnableSequence", "CHAIN", [
                ("VectorStoreRetriever", "RETRIEVER", []),
                ("format_docs", "CHAIN", []),
            ]),
            ("RunnablePassthrough", "CHAIN", []),
        ]),
        ("ChatPromptTemplate", "PROMPT", []),
        ("GenericFakeChatModel", "CHAT_MODEL", []),
        ("StrOutputParser", "PARSER", []),
    ]),
]


def only_trace() -> autolog.Trace:
    traces = autolog.search_traces(return_type="list")
    assert len(traces) == 1, f"expected one trace, got {len(traces)}"
    return traces[0]


def by_name(trace: autolog.Trace, name: str) -> autolog.Span:
    matches = [s for s in trace.data.spans if s.name == name]
    assert len(matches) == 1, f"{name}: {len(matches)} spans"
    return matches[0]


def test_retrieval_chain_invoke_records_the_whole_tree_with_readable_values() -> None:
    model_id = autolog.create_external_model(name="rag-v1").model_id
    with autolog.set_active_model(model_id=model_id):
        answer = retrieval_chain(fake_chat("Cats purr.")).invoke(
            "What do cats do?", config={"metadata": {"thread_id": "conv-7", "user_id": "u-42"}})
    assert answer == "Cats purr."
    trace = only_trace()
    assert parallel_branches_sorted(span_tree(trace)) == parallel_branches_sorted(RETRIEVAL_TREE)
    assert trace.info.state == "OK"
    assert trace.info.trace_metadata["mlflow.modelId"] == model_id
    assert trace.info.trace_metadata["mlflow.trace.session"] == "conv-7"
    assert trace.info.trace_metadata["mlflow.trace.user"] == "u-42"
    assert trace.info.token_usage == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15,
                                      "cache_read_input_tokens": 6, "reasoning_tokens": 1}

    retriever = by_name(trace, "VectorStoreRetriever")
    assert retriever.inputs == {"query": "What do cats do?"}
    assert sorted(retriever.outputs, key=lambda d: d["id"]) == [
        {"page_content": "Cats purr when content.", "metadata": {"source": "cats.md"}, "id": "d1"},
        {"page_content": "Dogs bark at strangers.", "metadata": {"source": "dogs.md"}, "id": "d2"}]
    chat = by_name(trace, "GenericFakeChatModel")
    context = chat.inputs["messages"][0]["content"]
    assert chat.inputs == {"messages": [{"role": "system", "content": context},
                                        {"role": "user", "content": "What do cats do?"}]}
    assert chat.outputs == {"role": "assistant", "content": "Cats purr."}
    assert chat.attributes["mlflow.chat.tokenUsage"] == trace.info.token_usage
    assert by_name(trace, "StrOutputParser").outputs == "Cats purr."
    root = trace.data.spans[0]
    assert (root.inputs, root.outputs) == ("What do cats do?", "Cats purr.")


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream", "astream_events", "batch", "abatch"])
def test_every_entry_point_produces_complete_traces(mode: str) -> None:
    chain = retrieval_chain(fake_chat("Cats purr.", "Dogs bark."))
    questions = ["cats?", "dogs?"] if mode in ("batch", "abatch") else ["cats?"]

    async def run_async() -> Any:
        if mode == "ainvoke":
            return [await chain.ainvoke(questions[0])]
        if mode == "astream":
            return ["".join([c async for c in chain.astream(questions[0])])]
        if mode == "astream_events":
            events = [e async for e in chain.astream_events(questions[0], version="v2")]
            return [events[-1]["data"]["output"]]
        return await chain.abatch(questions)

    if mode == "invoke":
        results = [chain.invoke(questions[0])]
    elif mode == "stream":
        results = ["".join(chain.stream(questions[0]))]
    elif mode == "batch":
        results = chain.batch(questions)
    else:
        results = asyncio.run(run_async())

    traces = sorted(autolog.search_traces(return_type="list"), key=lambda t: t.data.spans[0].inputs)
    assert sorted(results) == sorted(["Cats purr.", "Dogs bark."][:len(questions)])
    assert len(traces) == len(questions)
    for trace in traces:
        assert parallel_branches_sorted(span_tree(trace)) == parallel_branches_sorted(RETRIEVAL_TREE)
        root = trace.data.spans[0]
        assert root.inputs in questions and root.outputs in results  # streamed input and output are assembled
        assert all(s.status.status_code == "OK" for s in trace.data.spans)
        assert trace.info.token_usage["total_tokens"] == 15


def test_streamed_tokens_are_events_on_the_model_span_and_the_message_is_assembled() -> None:
    model = fake_chat(AIMessage("Hello there friend", usage_metadata=dict(USAGE)))
    chunks = [c.content for c in model.stream("hi")]
    trace = only_trace()
    span = trace.data.spans[0]
    assert span_tree(trace) == [("GenericFakeChatModel", "CHAT_MODEL", [])]
    assert [e.attributes["token"] for e in span.events if e.name == "new_token"] == chunks
    assert span.outputs == {"role": "assistant", "content": "Hello there friend"}
    assert trace.info.token_usage["total_tokens"] == 15  # the merged chunk's usage, counted once


def test_an_llm_is_an_llm_span_with_its_prompt() -> None:
    llm = FakeListLLM(responses=["forty-two"])
    assert (PromptTemplateChain := (ChatPromptTemplate.from_template("Q: {q}") | llm)).invoke({"q": "answer?"}) \
        == "forty-two"
    trace = only_trace()
    assert span_tree(trace) == [("RunnableSequence", "CHAIN", [("ChatPromptTemplate", "PROMPT", []),
                                                                ("FakeListLLM", "LLM", [])])]
    span = by_name(trace, "FakeListLLM")
    assert span.inputs == {"prompt": "Human: Q: answer?"}
    assert span.outputs == "forty-two"
    assert PromptTemplateChain is not None


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    with autolog.start_span("weather_api", span_type=autolog.SpanType.TOOL) as span:
        span.set_inputs({"city": city})
    return f"Sunny in {city}"


def test_tool_calling_flow_nests_model_tool_and_inner_spans() -> None:
    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
    model = fake_chat(AIMessage("", tool_calls=[call], usage_metadata=dict(USAGE)),
                      AIMessage("It is sunny in Paris.", usage_metadata=dict(USAGE)))

    def agent(question: str) -> str:
        messages: list[Any] = [("human", question)]
        reply = model.invoke(messages)
        messages.append(reply)
        for tool_call in reply.tool_calls:
            messages.append(ToolMessage(get_weather.invoke(tool_call["args"]), tool_call_id=tool_call["id"]))
        return str(model.invoke(messages).content)

    assert RunnableLambda(agent).invoke("Weather in Paris?") == "It is sunny in Paris."
    trace = only_trace()
    assert span_tree(trace) == [("agent", "CHAIN", [
        ("GenericFakeChatModel", "CHAT_MODEL", []),
        ("get_weather", "TOOL", [("weather_api", "TOOL", [])]),
        ("GenericFakeChatModel", "CHAT_MODEL", []),
    ])]
    first, second = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
    assert first.outputs == {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}
    assert second.inputs["messages"][-1] == {"role": "tool", "content": "Sunny in Paris", "tool_call_id": "call_1"}
    tool_span = by_name(trace, "get_weather")
    assert (tool_span.inputs, tool_span.outputs) == ({"city": "Paris"}, "Sunny in Paris")
    assert trace.info.token_usage["total_tokens"] == 30  # two model calls


def test_agent_actions_and_finish_are_events_and_make_the_span_an_agent() -> None:
    def executor(question: str, config: RunnableConfig) -> str:
        # What AgentExecutor does, through langchain-core's own run manager API.
        run = get_callback_manager_for_config(config).on_chain_start(None, {"input": question}, name="AgentExecutor")
        run.on_agent_action(AgentAction(tool="search", tool_input="cats", log="I should search"))
        run.on_agent_finish(AgentFinish(return_values={"output": "done"}, log="Final answer"))
        run.on_chain_end({"output": "done"})
        return "done"

    RunnableLambda(executor).invoke("go")
    trace = only_trace()
    assert span_tree(trace) == [("executor", "CHAIN", [("AgentExecutor", "AGENT", [])])]
    agent = by_name(trace, "AgentExecutor")
    assert [(e.name, e.attributes) for e in agent.events] == [
        ("agent_action", {"tool": "search", "tool_input": "cats", "log": "I should search"}),
        ("agent_finish", {"return_values": {"output": "done"}, "log": "Final answer"})]


def test_trace_functions_nest_around_and_inside_runnables() -> None:
    @autolog.trace
    def helper(text: str) -> str:
        return text.upper()

    inner = RunnableLambda(lambda x: x + "!", name="inner_chain")

    def step(text: str) -> str:
        return inner.invoke(helper(text))  # a chain called from inside an @trace'd step

    chain = RunnableLambda(step, name="step") | StrOutputParser()

    @autolog.trace(name="handle_request")
    def handle(text: str) -> str:
        return chain.invoke(text)

    assert handle("hi") == "HI!"
    trace = only_trace()
    assert span_tree(trace) == [("handle_request", "UNKNOWN", [
        ("RunnableSequence", "CHAIN", [
            ("step", "CHAIN", [("helper", "UNKNOWN", []), ("inner_chain", "CHAIN", [])]),
            ("StrOutputParser", "PARSER", []),
        ]),
    ])]


def test_trace_function_calling_a_chain_inside_a_trace_function_in_a_step_nests_under_it() -> None:
    inner = RunnableLambda(lambda x: x * 2, name="inner_chain")

    @autolog.trace
    def helper(value: int) -> int:
        return inner.invoke(value)

    assert RunnableLambda(lambda x: helper(x), name="outer").invoke(2) == 4
    assert span_tree(only_trace()) == [("outer", "CHAIN", [("helper", "UNKNOWN", [("inner_chain", "CHAIN", [])])])]


def test_update_current_trace_inside_a_step_sets_session_and_user() -> None:
    def step(x: str) -> str:
        autolog.update_current_trace(session_id="s-1", user="alice", tags={"route": "faq"})
        return x

    (RunnableLambda(step) | StrOutputParser()).invoke("x")
    trace = only_trace()
    assert trace.info.trace_metadata["mlflow.trace.session"] == "s-1"
    assert trace.info.trace_metadata["mlflow.trace.user"] == "alice"
    assert trace.info.tags["route"] == "faq"


class Boom(ValueError):
    pass


def test_errors_end_the_failing_span_and_the_trace_as_error_and_propagate_unchanged() -> None:
    raised = Boom("retriever down")

    def fail(_: Any) -> str:
        raise raised

    chain = RunnableLambda(lambda x: x, name="ok_step") | RunnableLambda(fail, name="failing_step")
    with pytest.raises(Boom) as info:
        chain.invoke("q")
    assert info.value is raised
    trace = only_trace()
    assert trace.info.state == "ERROR"
    assert span_tree(trace, ("name", "status")) == [("RunnableSequence", "ERROR", [
        ("ok_step", "OK", []), ("failing_step", "ERROR", [])])]
    failing = by_name(trace, "failing_step")
    [event] = failing.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("Boom")
    assert event.attributes["exception.message"] == "retriever down"


def test_a_failing_model_call_is_an_error_span() -> None:
    model = GenericFakeChatModel(messages=iter([]))  # exhausted: raises StopIteration-derived error
    with pytest.raises(Exception) as info:
        model.invoke("hi")
    trace = only_trace()
    assert span_tree(trace, ("name", "status")) == [("GenericFakeChatModel", "ERROR", [])]
    assert trace.data.spans[0].events[0].attributes["exception.type"].endswith(type(info.value).__name__)


def test_an_abandoned_stream_still_ends_its_trace() -> None:
    chain = fake_chat("one two three four") | StrOutputParser()
    stream = chain.stream("hi")
    first = next(stream)
    del stream
    gc.collect()
    trace = only_trace()
    assert first == "one"
    assert span_tree(trace) == [("RunnableSequence", "CHAIN", [("GenericFakeChatModel", "CHAT_MODEL", []),
                                                                ("StrOutputParser", "PARSER", [])])]
    assert trace.info.state == "OK"
    assert all(s.end_time_ns is not None for s in trace.data.spans)


def test_concurrent_invocations_on_threads_and_tasks_never_mix() -> None:
    def echo_chain() -> Any:
        @autolog.trace
        def mark(x: str) -> str:
            return x

        return RunnableLambda(lambda x: mark(x), name="mark_step") | RunnableLambda(lambda x: x + "!", name="bang")

    chain = echo_chain()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(chain.invoke, [f"t{i}" for i in range(80)]))

    async def many() -> list[str]:
        return await asyncio.gather(*(chain.ainvoke(f"a{i}") for i in range(80)))

    results += asyncio.run(many())
    assert sorted(results) == sorted([f"t{i}!" for i in range(80)] + [f"a{i}!" for i in range(80)])
    traces = autolog.search_traces(return_type="list", max_results=500)
    assert len(traces) == 160
    for trace in traces:
        assert span_tree(trace) == [("RunnableSequence", "CHAIN", [("mark_step", "CHAIN", [("mark", "UNKNOWN", [])]),
                                                                    ("bang", "CHAIN", [])])]
        word = trace.data.spans[0].inputs
        assert {s.name: (s.inputs, s.outputs) for s in trace.data.spans}["mark"] == ({"x": word}, word)
        assert trace.data.spans[0].outputs == word + "!"


def test_handler_state_does_not_grow_over_a_long_loop() -> None:
    handler = lc_integration.get_handler()
    chain = retrieval_chain(fake_chat(*["ok"] * 300))

    def fail(_: Any) -> None:
        raise Boom("x")

    failing = RunnableLambda(lambda x: x) | RunnableLambda(fail)
    for i in range(300):
        if i % 3 == 0:
            chain.invoke(f"q{i}")
        elif i % 3 == 1:
            with pytest.raises(Boom):
                failing.invoke(i)
        else:
            stream = chain.stream(f"s{i}")
            next(stream)
            stream.close()  # abandoned halfway
        assert handler.open_runs == 0
    assert not handler.core._leaves
    assert len(autolog.search_traces(return_type="list", max_results=1000)) == 300


def test_one_handler_per_manager_even_when_merged_copied_or_passed_explicitly() -> None:
    handler = lc_integration.get_handler()
    manager = CallbackManager(handlers=[])
    other = CallbackManager(handlers=[handler])
    for candidate in (manager, other, manager.merge(other), manager.copy(), manager.get_child() if hasattr(
            manager, "get_child") else manager):
        assert candidate.handlers.count(handler) == 1
        assert candidate.inheritable_handlers.count(handler) == 1
    RunnableLambda(lambda x: x, name="explicit").invoke(1, config={"callbacks": [handler]})
    assert span_tree(only_trace()) == [("explicit", "CHAIN", [])]


def test_enable_twice_log_traces_false_and_disable() -> None:
    import wrapt

    autolog.langchain()
    assert isinstance(BaseCallbackManager.__dict__["__init__"], wrapt.BaseObjectProxy)
    assert not isinstance(BaseCallbackManager.__dict__["__init__"].__wrapped__, wrapt.BaseObjectProxy)
    autolog.langchain(log_traces=False)
    RunnableLambda(lambda x: x).invoke(1)
    assert autolog.flush()
    assert autolog.search_traces(return_type="list") == []
    autolog.langchain(disable=True)
    assert not isinstance(BaseCallbackManager.__dict__["__init__"], wrapt.BaseObjectProxy)
    assert lc_integration.get_handler() not in CallbackManager(handlers=[]).handlers
    RunnableLambda(lambda x: x).invoke(1)
    assert autolog.flush()
    assert autolog.search_traces(return_type="list") == []
    autolog.langchain()
    RunnableLambda(lambda x: x, name="again").invoke(1)
    assert span_tree(only_trace()) == [("again", "CHAIN", [])]


def test_callbacks_from_another_thread_parent_by_run_id() -> None:
    """A run whose callbacks arrive on a worker thread still nests by parent_run_id."""
    def on_worker(x: int, config: RunnableConfig) -> int:
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(
            RunnableLambda(lambda y: y + 1, name="worker_step").invoke(x, config=config)))
        thread.start()
        thread.join()
        return result[0]

    assert RunnableLambda(on_worker, name="outer").invoke(1) == 2
    assert span_tree(only_trace()) == [("outer", "CHAIN", [("worker_step", "CHAIN", [])])]


def test_two_chains_running_concurrently_in_one_trace_keep_their_own_spans() -> None:
    async def slow(x: str) -> str:
        await asyncio.sleep(0.05 if x == "slow" else 0)
        return x

    chain = RunnableLambda(slow, name="step") | StrOutputParser()

    @autolog.trace(name="fan_out")
    async def fan_out() -> list[str]:
        return list(await asyncio.gather(chain.ainvoke("slow"), chain.ainvoke("fast")))

    assert asyncio.run(fan_out()) == ["slow", "fast"]
    trace = only_trace()
    branch = ("RunnableSequence", "OK", [("step", "OK", []), ("StrOutputParser", "OK", [])])
    assert span_tree(trace, ("name", "status")) == [("fan_out", "OK", [branch, branch])]
    assert all("autolog.ended_by" not in s.attributes for s in trace.data.spans)  # the fast one ended nothing
    slow_root = next(s for s in trace.data.spans if s.name == "RunnableSequence" and s.inputs == "slow")
    assert slow_root.outputs == "slow" and slow_root.end_time_ns - slow_root.start_time_ns >= 50_000_000
