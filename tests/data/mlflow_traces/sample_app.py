"""The small traced app whose traces the MLflow JSON checks use, in both directions.

Shared by ``tests/test_mlflow_json.py`` (autolog → JSON → autolog, no mlflow needed) and
``make.py`` (autolog → JSON → MLflow, with mlflow installed): an agent span with a
retriever, a failing tool and a chat model with token usage, a trace that fails, and four
assessments. Records into whatever store autolog is configured with.
"""

from __future__ import annotations

from typing import Any

import autolog


def record_sample_traces() -> tuple[autolog.Trace, autolog.Trace]:
    """Record the app's two traces and return them as stored: (the agent's, the failing one's)."""
    model = autolog.create_external_model(name="agent-v1", params={"temperature": "0.2"})
    autolog.set_active_model(model_id=model.model_id)

    @autolog.trace(span_type=autolog.SpanType.TOOL)
    def tool(x: int) -> int:
        raise ValueError("boom é")

    @autolog.trace(span_type=autolog.SpanType.CHAT_MODEL, attributes={"mlflow.llm.model": "gpt-4o"})
    def llm(messages: list[dict[str, str]]) -> dict[str, Any]:
        span = autolog.get_current_active_span()
        assert span is not None
        span.set_attribute("mlflow.chat.tokenUsage", {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7})
        return {"choices": [{"message": {"role": "assistant", "content": "hi ✓"}}]}

    @autolog.trace(name="agent", span_type=autolog.SpanType.AGENT)
    def agent(q: str, k: int = 2) -> dict[str, Any]:
        autolog.update_current_trace(tags={"env": "test"}, metadata={"app_version": "1.0"}, session_id="s1",
                                     user="u1", client_request_id="req-1")
        with autolog.start_span("retrieve", span_type=autolog.SpanType.RETRIEVER) as span:
            span.set_inputs({"q": q})
            span.set_outputs([{"page_content": "doc", "metadata": {"score": 0.5}}])
            span.add_event(autolog.SpanEvent("custom", attributes={"a": 1, "b": "x", "l": [1, 2]}))
        try:
            tool(1)
        except ValueError:
            pass
        return llm([{"role": "user", "content": q}])

    @autolog.trace
    def failing() -> None:
        raise KeyError("nope")

    agent("hello")
    ok_id = autolog.get_last_active_trace_id()
    try:
        failing()
    except KeyError:
        pass
    else:
        raise AssertionError("the traced function's KeyError did not reach its caller")
    error_id = autolog.get_last_active_trace_id()
    assert ok_id and error_id and ok_id != error_id
    autolog.log_feedback(ok_id, "quality", 0.5, source=autolog.AssessmentSource("LLM_JUDGE", "judge-1"),
                         rationale="ok")
    autolog.log_feedback(ok_id, "helpful", True, metadata={"k": "v"})
    autolog.log_expectation(ok_id, "expected", {"answer": 6, "l": [1, 2]})
    autolog.log_expectation(ok_id, "expected_text", "six")
    return autolog.get_trace(ok_id), autolog.get_trace(error_id)
