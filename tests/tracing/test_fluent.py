"""The fluent API: @trace on every kind of callable, start_span, trace updates, errors."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest

import autolog
from autolog import SpanType
from tests.trees import span_tree


def _only_trace() -> autolog.Trace:
    traces = autolog.search_traces(return_type="list")
    assert len(traces) == 1, [t.info.tags for t in traces]
    return traces[0]


def test_nested_sync_spans_form_one_tree_with_inputs_and_outputs() -> None:
    @autolog.trace(span_type=SpanType.TOOL)
    def add(a: int, b: int = 10) -> int:
        return a + b

    @autolog.trace(name="pipeline", span_type=SpanType.CHAIN, attributes={"team": "search"})
    def pipeline(x: int) -> int:
        with autolog.start_span("retrieve", span_type=SpanType.RETRIEVER) as span:
            span.set_inputs({"query": "q"})
            span.set_outputs(["doc1"])
            span.set_attribute("k", 3)
        return add(x) + add(x, b=1)

    assert pipeline(1) == 13
    t = _only_trace()
    assert span_tree(t, ("name", "span_type", "status", "inputs", "outputs")) == [
        ("pipeline", "CHAIN", "OK", {"x": 1}, 13, [
            ("retrieve", "RETRIEVER", "OK", {"query": "q"}, ["doc1"], []),
            ("add", "TOOL", "OK", {"a": 1, "b": 10}, 11, []),
            ("add", "TOOL", "OK", {"a": 1, "b": 1}, 2, []),
        ]),
    ]
    root = t.data.spans[0]
    assert root.attributes["team"] == "search"
    assert t.data.spans[1].attributes["k"] == 3
    assert t.info.state == "OK"
    assert t.info.tags["mlflow.traceName"] == "pipeline"
    assert t.info.request_preview == json.dumps({"x": 1})
    assert t.info.response_preview == "13"
    assert t.data.request == json.dumps({"x": 1}) and t.data.response == "13"
    assert t.data.inputs == {"x": 1} and t.data.outputs == 13
    assert t.info.trace_metadata["mlflow.trace_schema.version"] == "3"
    assert t.info.execution_duration is not None and t.info.execution_duration >= 0
    assert t.info.trace_id == autolog.get_last_active_trace_id()


def test_exception_ends_span_and_trace_as_error_and_propagates_unchanged() -> None:
    class Boom(Exception):
        pass

    original = Boom("bad input")

    @autolog.trace
    def inner() -> None:
        raise original

    @autolog.trace
    def outer() -> None:
        inner()

    with pytest.raises(Boom) as caught:
        outer()
    assert caught.value is original
    t = _only_trace()
    assert t.info.state == "ERROR"
    assert span_tree(t, ("name", "status")) == [("outer", "ERROR", [("inner", "ERROR", [])])]
    event = t.data.spans[1].events[0]
    assert event.name == "exception"
    assert event.attributes["exception.message"] == "bad input"
    assert event.attributes["exception.type"].endswith("Boom")
    assert "raise original" in event.attributes["exception.stacktrace"]
    assert t.data.spans[1].status.description == "Boom: bad input"


async def test_async_function_and_async_generator() -> None:
    @autolog.trace
    async def fetch(i: int) -> int:
        await asyncio.sleep(0)
        return i * 2

    @autolog.trace(output_reducer=sum)
    async def stream(n: int):  # type: ignore[no-untyped-def]
        for i in range(n):
            yield await fetch(i)

    @autolog.trace
    async def main() -> list[int]:
        return [x async for x in stream(3)]

    assert await main() == [0, 2, 4]
    t = _only_trace()
    assert span_tree(t, ("name", "outputs")) == [
        ("main", [0, 2, 4], [("stream", 6, [("fetch", 0, []), ("fetch", 2, []), ("fetch", 4, [])])]),
    ]


def test_generator_span_covers_iteration_and_ends_on_exhaustion() -> None:
    @autolog.trace
    def child() -> str:
        return "c"

    @autolog.trace
    def gen(n: int):  # type: ignore[no-untyped-def]
        for i in range(n):
            child()
            yield i
        return "done"

    assert list(gen(2)) == [0, 1]
    t = _only_trace()
    # The caller's code between items is not inside the generator's span: only child() is.
    assert span_tree(t, ("name", "outputs", "status")) == [
        ("gen", [0, 1], "OK", [("child", "c", "OK", []), ("child", "c", "OK", [])]),
    ]


def test_generator_closed_or_garbage_collected_ends_span() -> None:
    @autolog.trace
    def gen():  # type: ignore[no-untyped-def]
        yield from range(100)

    g = gen()
    assert next(g) == 0 and next(g) == 1
    g.close()
    g2 = gen()
    next(g2)
    del g2
    gc.collect()
    traces = autolog.search_traces(return_type="list", order_by=["timestamp_ms ASC"])
    assert len(traces) == 2
    for t, outputs in zip(traces, ([0, 1], [0]), strict=True):
        (span,) = t.data.spans
        assert span.status.status_code == "OK" and span.end_time_ns is not None
        assert span.outputs == outputs
        assert span.attributes["autolog.generator.closed_early"] is True


def test_generator_error_mid_iteration() -> None:
    @autolog.trace
    def gen():  # type: ignore[no-untyped-def]
        yield 1
        raise ValueError("mid")

    with pytest.raises(ValueError, match="mid"):
        list(gen())
    t = _only_trace()
    assert t.info.state == "ERROR"
    assert t.data.spans[0].outputs == [1]  # what was yielded before the error


def test_methods_classmethods_staticmethods() -> None:
    class Agent:
        def __init__(self, k: int) -> None:
            self.k = k

        @autolog.trace
        def run(self, q: str) -> str:
            return self.helper(q) + self.static(q) + str(self.k)

        @classmethod
        @autolog.trace
        def helper(cls, q: str) -> str:
            return q.upper()

        @autolog.trace
        @staticmethod
        def static(q: str) -> str:
            return q[::-1]

    assert Agent(7).run("ab") == "ABba7"
    t = _only_trace()
    assert span_tree(t, ("name", "inputs", "outputs")) == [
        ("run", {"q": "ab"}, "ABba7", [("helper", {"q": "ab"}, "AB", []), ("static", {"q": "ab"}, "ba", [])]),
    ]


def test_varargs_and_kwargs_are_captured() -> None:
    @autolog.trace
    def f(a, *rest, flag=False, **extra):  # type: ignore[no-untyped-def]
        return len(rest)

    f(1, 2, 3, flag=True, z="z")
    (span,) = _only_trace().data.spans
    assert span.inputs == {"a": 1, "rest": [2, 3], "flag": True, "z": "z"}


def test_update_current_trace_sets_tags_metadata_session_user_previews() -> None:
    @autolog.trace
    def handle() -> str:
        autolog.update_current_trace(tags={"env": "prod", "n": 1}, metadata={"tenant": "acme"}, session_id="s-1",
                                     user="u-9", client_request_id="req-42", request_preview="hi",
                                     response_preview="bye")
        return "x"

    handle()
    t = _only_trace()
    assert t.info.tags == {"env": "prod", "n": "1", "mlflow.traceName": "handle"}
    meta = t.info.trace_metadata
    assert (meta["tenant"], meta["mlflow.trace.session"], meta["mlflow.trace.user"]) == ("acme", "s-1", "u-9")
    assert (t.info.client_request_id, t.info.request_preview, t.info.response_preview) == ("req-42", "hi", "bye")
    assert len(autolog.search_traces(filter_string="client_request_id = 'req-42'", return_type="list")) == 1


def test_update_current_trace_outside_a_trace_warns_and_returns(caplog: pytest.LogCaptureFixture) -> None:
    from autolog._tracing import current_trace

    current_trace._last_outside_warning[0] = 0.0  # the warning is rate-limited per process
    # As MLflow: code that also runs untraced must not fail because of this call.
    autolog.update_current_trace(tags={"a": "b"})
    assert any("outside of a trace" in r.getMessage() for r in caplog.records)
    with pytest.raises(autolog.InvalidArgumentError, match="tag key"):  # bad input is still an error
        autolog.update_current_trace(tags={"": "b"})


def test_set_and_delete_trace_tag_after_the_fact() -> None:
    @autolog.trace
    def f() -> None:
        pass

    f()
    trace_id = autolog.get_last_active_trace_id()
    assert trace_id is not None
    autolog.set_trace_tag(trace_id, "reviewed", "yes")
    assert autolog.get_trace(trace_id).info.tags["reviewed"] == "yes"
    autolog.delete_trace_tag(trace_id, "reviewed")
    assert "reviewed" not in autolog.get_trace(trace_id).info.tags
    with pytest.raises(autolog.ResourceDoesNotExist):
        autolog.delete_trace_tag(trace_id, "reviewed")
    with pytest.raises(autolog.ResourceDoesNotExist):
        autolog.set_trace_tag("tr-" + "0" * 32, "a", "b")


def test_get_current_active_span_and_live_span_api() -> None:
    assert autolog.get_current_active_span() is None
    with autolog.start_span("outer") as outer:
        assert autolog.get_current_active_span() is outer
        outer.add_event(autolog.SpanEvent("checkpoint", attributes={"step": 1}))
        outer.set_status("ERROR")
        outer.record_exception(RuntimeError("handled"))
        outer.set_span_type(SpanType.AGENT)
    assert autolog.get_current_active_span() is None
    (span,) = _only_trace().data.spans
    assert [e.name for e in span.events] == ["checkpoint", "exception"]
    assert span.events[0].attributes == {"step": 1}
    assert span.span_type == "AGENT" and span.status.status_code == "ERROR"


def test_start_span_no_context_for_callback_style_code() -> None:
    root = autolog.start_span_no_context("root", span_type=SpanType.CHAIN, inputs={"q": 1})
    child = autolog.start_span_no_context("child", parent_span=root, inputs="x")
    assert autolog.get_current_active_span() is None
    child.end(outputs="y")
    root.end(outputs={"a": 2})
    t = _only_trace()
    assert span_tree(t, ("name", "inputs", "outputs")) == [("root", {"q": 1}, {"a": 2}, [("child", "x", "y", [])])]


def test_client_explicit_parent_api() -> None:
    client = autolog.Client(autolog._client.get_default_client().tracking_uri)
    root = client.start_trace("request", span_type=SpanType.CHAIN, inputs={"q": "hi"}, tags={"env": "test"})
    child = client.start_span("llm", trace_id=root.trace_id, parent_id=root.span_id, span_type=SpanType.LLM)
    client.end_span(root.trace_id, child.span_id, outputs="answer", attributes={"x": 1})
    client.end_trace(root.trace_id, outputs={"a": "answer"})
    with pytest.raises(autolog.ResourceDoesNotExist):
        client.end_trace(root.trace_id)
    t = client.get_trace(root.trace_id)
    assert span_tree(t, ("name", "span_type", "outputs")) == [("request", "CHAIN", {"a": "answer"},
                                                               [("llm", "LLM", "answer", [])])]
    assert t.info.tags["env"] == "test"
    client.shutdown()


def test_span_ending_after_its_trace_root_is_still_stored() -> None:
    root = autolog.start_span_no_context("root")
    late = autolog.start_span_no_context("late", parent_span=root)
    root.end()
    assert autolog.flush()
    assert [s.name for s in autolog.get_trace(root.trace_id).data.spans] == ["root", "late"]
    assert autolog.get_trace(root.trace_id).data.spans[1].end_time_ns is None
    late.end(outputs=1)
    assert autolog.flush()
    stored = autolog.get_trace(root.trace_id).data.spans[1]
    assert stored.end_time_ns is not None and stored.outputs == 1


def test_suppress_tracing_records_nothing() -> None:
    @autolog.trace
    def f() -> int:
        return 1

    with autolog.suppress_tracing():
        assert f() == 1
        with autolog.start_span("x") as span:
            assert isinstance(span, autolog.NoOpSpan)
            span.set_inputs(1)
    assert autolog.search_traces(return_type="list") == []


def test_internal_error_never_reaches_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOLOG_RAISE_INTERNAL_ERRORS")
    from autolog._tracing import fluent as _fluent

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("autolog bug")

    monkeypatch.setattr(_fluent, "_new_span", broken)

    @autolog.trace
    def f(x: int) -> int:
        return x + 1

    before = autolog.stats()["internal_errors"]
    assert f(1) == 2
    with autolog.start_span("s") as span:
        span.set_outputs(1)
    assert autolog.stats()["internal_errors"] == before + 2

    # The end side: spans start, but handing the finished trace over fails.
    monkeypatch.undo()
    monkeypatch.delenv("AUTOLOG_RAISE_INTERNAL_ERRORS")
    from autolog._tracing.live import LiveTrace

    monkeypatch.setattr(LiveTrace, "span_ended", broken)

    @autolog.trace
    async def g(x: int) -> int:
        return x + 2

    assert f(1) == 2
    assert asyncio.run(g(1)) == 3
    with autolog.start_span("s") as span:
        span.set_outputs(1)
    assert autolog.get_current_active_span() is None
    assert autolog.stats()["internal_errors"] == before + 5
