"""Regenerate the MLflow-produced trace JSON files here, and check autolog → MLflow the other way.

Not run by the tests (they must pass without mlflow). Run it in a separate environment:

    python3 -m venv /tmp/venv-mlflow
    /tmp/venv-mlflow/bin/pip install mlflow -e .
    /tmp/venv-mlflow/bin/python tests/data/mlflow_traces/make.py          # rewrite the *.json files
    /tmp/venv-mlflow/bin/python tests/data/mlflow_traces/make.py --check  # only the cross-checks

It writes one file per scenario with ``mlflow.get_trace(...).to_json(pretty=True)`` and then
checks, with mlflow installed, that (1) autolog reads each file and writes the same JSON back, and
(2) traces recorded by autolog load with ``mlflow.entities.Trace.from_json`` with every field equal.
Exit status 1 if any check fails.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"  # get_trace right after the call sees the trace
os.environ["AUTOLOG_RAISE_INTERNAL_ERRORS"] = "1"

import mlflow  # noqa: E402
from mlflow.entities import AssessmentError, AssessmentSource, SpanEvent, SpanType  # noqa: E402
from mlflow.entities import Trace as MlflowTrace  # noqa: E402
from sample_app import record_sample_traces  # noqa: E402  (this folder, on sys.path when run as a script)

import autolog  # noqa: E402


def _last_trace() -> Any:
    return mlflow.get_trace(mlflow.get_last_active_trace_id())


def scenario_agent() -> Any:
    """Nested spans of several types, a caught tool error, token usage, tags, metadata, an active model."""
    mlflow.set_active_model(name="support-agent-v1")

    @mlflow.trace(span_type=SpanType.RETRIEVER)
    def retrieve(query: str, k: int = 2) -> list[dict[str, Any]]:
        return [{"page_content": f"doc {i} about {query}", "metadata": {"score": 1 / (i + 1)}} for i in range(k)]

    @mlflow.trace(span_type=SpanType.TOOL)
    def lookup_order(order_id: str) -> dict[str, Any]:
        raise LookupError(f"order {order_id} not found")

    @mlflow.trace(span_type=SpanType.CHAT_MODEL, attributes={"mlflow.llm.model": "gpt-4o-mini"})
    def chat(messages: list[dict[str, str]], temperature: float = 0.2) -> dict[str, Any]:
        mlflow.get_current_active_span().set_attribute(
            "mlflow.chat.tokenUsage", {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17})
        return {"choices": [{"message": {"role": "assistant", "content": "Your order ships today. ✓"}}]}

    @mlflow.trace(name="support_agent", span_type=SpanType.AGENT)
    def agent(question: str) -> str:
        mlflow.update_current_trace(tags={"environment": "test", "team": "interop"},
                                    metadata={"app_version": "1.2.3"}, client_request_id="req-42",
                                    session_id="session-7", user="user-3")
        docs = retrieve(question)
        with mlflow.start_span("postprocess", span_type=SpanType.PARSER) as span:
            span.set_inputs({"docs": len(docs)})
            span.set_attributes({"unicode": "héllo wörld ✓", "ratio": 0.25, "flag": True, "nested": {"a": [1, 2]}})
            span.add_event(SpanEvent("checkpoint", attributes={"step": 1, "note": "ok", "scores": [0.5, 0.25]}))
            span.set_outputs("cleaned")
        try:
            lookup_order("A-1")
        except LookupError:
            pass
        reply = chat([{"role": "user", "content": question}])
        return reply["choices"][0]["message"]["content"]

    agent("Where is my order?")
    mlflow.clear_active_model()
    return _last_trace()


def scenario_error() -> Any:
    """The root span fails: trace state ERROR, an exception event, one OK child."""

    @mlflow.trace(span_type=SpanType.CHAIN)
    def validate(payload: dict[str, Any]) -> bool:
        return "id" in payload

    @mlflow.trace(name="pipeline", span_type=SpanType.CHAIN)
    def pipeline(payload: dict[str, Any]) -> None:
        validate(payload)
        raise ValueError("payload rejected: missing 'id'")

    try:
        pipeline({"name": "x"})
    except ValueError:
        pass
    return _last_trace()


def scenario_assessments() -> Any:
    """Feedback (judge, human, code with an error) and expectations (scalar and structured)."""

    @mlflow.trace
    def answer(question: str) -> str:
        return "42"

    answer("What is six times seven?")
    trace_id = mlflow.get_last_active_trace_id()
    mlflow.log_feedback(trace_id=trace_id, name="correctness", value=True, rationale="matches the expectation",
                        source=AssessmentSource(source_type="LLM_JUDGE", source_id="judge-v2"))
    mlflow.log_feedback(trace_id=trace_id, name="rating", value=4,
                        source=AssessmentSource(source_type="HUMAN", source_id="alice"), metadata={"tier": "gold"})
    mlflow.log_feedback(trace_id=trace_id, name="toxicity",
                        error=AssessmentError(error_code="RATE_LIMIT_EXCEEDED", error_message="judge rate limited"))
    mlflow.log_expectation(trace_id=trace_id, name="expected_answer", value="42")
    mlflow.log_expectation(trace_id=trace_id, name="expected_facts", value={"facts": ["6*7", "42"], "count": 2})
    return mlflow.get_trace(trace_id)


def scenario_generator() -> Any:
    """A traced generator under a manual span of the default type, a None output, a status set by hand."""

    @mlflow.trace(span_type=SpanType.LLM)
    def stream(prompt: str):
        yield from ("Hel", "lo", "!")

    with mlflow.start_span("manual") as root:
        root.set_inputs({"prompt": "hi", "options": None, "n": 3, "pi": 3.14159})
        chunks = list(stream("hi"))
        with mlflow.start_span("noop") as child:
            child.set_outputs(None)
        with mlflow.start_span("flagged", span_type=SpanType.GUARDRAIL) as guard:
            guard.set_status("ERROR")
        root.set_outputs("".join(chunks))
    return _last_trace()


SCENARIOS = {"agent_nested": scenario_agent, "root_error": scenario_error, "assessments": scenario_assessments,
             "generator_manual_spans": scenario_generator}


def generate(workdir: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    mlflow.set_experiment("autolog-interop")
    for name, make in SCENARIOS.items():
        trace = make()
        (HERE / f"{name}.json").write_text(trace.to_json(pretty=True) + "\n", encoding="utf-8")
        print(f"wrote {name}.json ({len(trace.data.spans)} spans)")


def check_mlflow_files() -> list[str]:
    """autolog reads each MLflow file and writes it back unchanged."""
    problems = []
    for path in sorted(HERE.glob("*.json")):
        original = json.loads(path.read_text(encoding="utf-8"))
        if json.loads(autolog.Trace.from_json(path.read_text(encoding="utf-8")).to_json()) != original:
            problems.append(f"{path.name}: autolog's to_json differs from the MLflow JSON it read")
    return problems


def _autolog_traces(workdir: Path) -> list[autolog.Trace]:
    autolog.configure(f"sqlite:///{workdir / 'autolog.db'}", schedule_delay_millis=10)
    return list(record_sample_traces())


def check_autolog_to_mlflow(workdir: Path) -> list[str]:
    """Traces recorded by autolog load in MLflow with every field equal."""
    problems = []
    for trace in _autolog_traces(workdir):
        loaded = MlflowTrace.from_json(trace.to_json())
        a, m = trace.info, loaded.info
        pairs: dict[str, tuple[Any, Any]] = {
            "trace_id": (a.trace_id, m.trace_id), "experiment_id": (a.experiment_id, m.experiment_id),
            "request_time": (a.request_time, m.request_time), "state": (a.state, m.state.value),
            "execution_duration": (a.execution_duration, m.execution_duration),
            "request_preview": (a.request_preview, m.request_preview),
            "response_preview": (a.response_preview, m.response_preview),
            "client_request_id": (a.client_request_id, m.client_request_id),
            "trace_metadata": (a.trace_metadata, m.trace_metadata), "tags": (a.tags, m.tags),
            "token_usage": (a.token_usage, m.token_usage), "assessments": (len(a.assessments), len(m.assessments)),
            "spans": (len(trace.data.spans), len(loaded.data.spans)),
        }
        for x, y in zip(a.assessments, m.assessments, strict=False):
            pairs[f"assessment {x.name}"] = (
                (x.assessment_id, x.name, x.value, x.source.source_type, x.source.source_id or "default", x.rationale,
                 x.trace_id, x.span_id, x.metadata, x.create_time_ms, x.last_update_time_ms, x.kind),
                (y.assessment_id, y.name, y.value, y.source.source_type, y.source.source_id, y.rationale, y.trace_id,
                 y.span_id, y.metadata, y.create_time_ms, y.last_update_time_ms,
                 "expectation" if y.expectation else "feedback"))
        for s, ms in zip(trace.data.spans, loaded.data.spans, strict=False):
            attributes = {k: v for k, v in s.attributes.items()
                          if v is not None or k not in ("mlflow.spanInputs", "mlflow.spanOutputs")}
            attributes["mlflow.traceRequestId"] = s.trace_id
            pairs[f"span {s.name}"] = (
                (s.trace_id, s.span_id, s.parent_id, s.name, s.span_type, s.inputs, s.outputs, s.start_time_ns,
                 s.end_time_ns, s.status.status_code, s.status.description,
                 [(e.name, e.timestamp_ns, e.attributes) for e in s.events], attributes),
                (ms.trace_id, ms.span_id, ms.parent_id, ms.name, ms.span_type, ms.inputs, ms.outputs, ms.start_time_ns,
                 ms.end_time_ns, ms.status.status_code.value, ms.status.description,
                 [(e.name, e.timestamp, e.attributes) for e in ms.events], ms.attributes))
        problems += [f"{a.trace_id} {key}: autolog {x!r} != mlflow {y!r}" for key, (x, y) in pairs.items() if x != y]
        # and back: MLflow's JSON of the loaded trace reads into autolog as the same trace
        back = json.loads(autolog.Trace.from_json(loaded.to_json()).to_json())
        mine = json.loads(trace.to_json())
        for entry in mine["info"].get("assessments", []):
            entry["source"].setdefault("source_id", "default")  # MLflow fills in a missing source id
            if "expectation" in entry:
                entry.pop("valid", None)  # MLflow's Expectation.from_dictionary drops `valid`
        if back != mine:
            problems.append(f"{a.trace_id}: autolog JSON → MLflow → autolog JSON changed")
    return problems


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.chdir(workdir)  # MLflow's artifact location lands in the temp dir
        if "--check" not in sys.argv:
            generate(workdir)
        problems = check_mlflow_files() + check_autolog_to_mlflow(workdir)
    print(f"mlflow {mlflow.__version__}: " + ("all checks passed" if not problems else "\n".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
