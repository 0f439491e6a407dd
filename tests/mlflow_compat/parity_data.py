"""The traces of the MLflow parity check, built through a module-like ``lib`` (``mlflow`` or ``autolog``).

``build_traces(lib)`` writes the same ~200 traces into the active experiment of either library,
using only the fluent API both share: ``start_span``, ``start_span_no_context`` (explicit start
and end times, so durations and timestamps are deterministic), ``update_current_trace``,
``set_trace_tag``, ``log_feedback``, ``log_expectation``, ``set_active_model`` and ``start_run``.
Every trace carries the tag ``idx=<n>``. bench/mlflow_parity.py (against both libraries) and
tests/mlflow_compat/test_mlflow_parity.py (against autolog only) both import this file.

Timing: the traces with ``idx % 4 == 0`` are timed explicitly, starting at BASE_MS + idx seconds
(2020) and lasting 1000 + 37 * idx ms; the others start now and last well under 1000 ms.
"""

from __future__ import annotations

import random
import time
from typing import Any

N_TRACES = 200
BASE_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
TRACE_NAMES = ["agent", "chat", "rag_pipeline", "summarize", "classify"]
CHILD_SPANS = [("search_web", "TOOL"), ("llm_call", "LLM"), ("llm_call", "CHAT_MODEL"), ("retrieve", "RETRIEVER"),
               ("tool_x", "TOOL"), ("plan", "AGENT"), ("format", "CHAIN"), ("misc", "UNKNOWN")]
ROOT_TYPES = ["AGENT", "CHAIN", "UNKNOWN", "CHAT_MODEL"]
ENVS = ["prod", "staging", "dev"]
TIERS = ["free", "pro", "enterprise"]
TOPICS = ["weather in Paris", "stock prices", "python decorators", "Weather in Tokyo", "recipe for pancakes"]
USERS = ["alice", "bob", "carol"]


class Boom(Exception):
    """Raised inside some traces, so they end in ERROR state."""


def explicit_duration_ms(idx: int) -> int:
    return 1000 + 37 * idx


def _plan(idx: int) -> dict[str, Any]:
    rnd = random.Random(1000 + idx)
    children = [rnd.choice(CHILD_SPANS) for _ in range(rnd.randint(0, 3))]
    return {
        "name": TRACE_NAMES[idx % len(TRACE_NAMES)],
        "root_type": ROOT_TYPES[idx % len(ROOT_TYPES)],
        "topic": rnd.choice(TOPICS),
        "children": [(name, kind, rnd.random() < 0.2, rnd.randint(1, 500)) for name, kind in children],
        "env": ENVS[idx % 3] if idx % 7 else None,
        "tier": rnd.choice(TIERS) if idx % 2 else None,
        "team": rnd.choice(["search", "Search", "ml-infra"]) if idx % 5 == 1 else None,
        "user": USERS[idx % 3] if idx % 3 else None,
        "session": f"s{idx % 10}" if idx % 2 == 0 else None,
        "custom": f"v{idx % 4}" if idx % 6 == 0 else None,
        "crid": f"req-{idx:03d}" if idx % 5 == 0 else None,
        "error": idx % 9 == 4,
        "feedback": idx % 3 == 0,
        "expectation": idx % 8 == 1,
        "model": idx % 10 in (2, 3),
        "run": idx % 25 == 7,
    }


def _child(lib: Any, parent: Any, name: str, kind: str, failed: bool, number: int, start_ns: int | None,
           topic: str) -> None:
    span = lib.start_span_no_context(name, span_type=kind, parent_span=parent, inputs={"query": f"{name} {topic}"},
                                     attributes={"score": number, "label": f"L{number % 3}"},
                                     start_time_ns=start_ns)
    end_ns = None if start_ns is None else start_ns + 10_000_000
    span.end(outputs={"result": f"{name} said {number}"}, status="ERROR" if failed else "OK", end_time_ns=end_ns)


def _explicit_trace(lib: Any, idx: int, plan: dict[str, Any]) -> str:
    start_ns = (BASE_MS + idx * 1000) * 1_000_000
    root = lib.start_span_no_context(plan["name"], span_type=plan["root_type"],
                                     inputs={"question": f"Tell me about {plan['topic']}"},
                                     attributes={"round": idx % 4}, start_time_ns=start_ns)
    for n, (name, kind, failed, number) in enumerate(plan["children"]):
        _child(lib, root, name, kind, failed, number, start_ns + (n + 1) * 20_000_000, plan["topic"])
    end_ns = start_ns + explicit_duration_ms(idx) * 1_000_000
    root.end(outputs={"answer": f"Here is {plan['topic']}"}, status="ERROR" if plan["error"] else "OK",
             end_time_ns=end_ns)
    trace_id: str = root.trace_id
    return trace_id


def _fluent_trace(lib: Any, idx: int, plan: dict[str, Any]) -> str:
    trace_id = ""
    metadata = {"custom_key": plan["custom"]} if plan["custom"] else {}
    if plan["user"]:
        metadata["mlflow.trace.user"] = plan["user"]
    if plan["session"]:
        metadata["mlflow.trace.session"] = plan["session"]
    try:
        with lib.start_span(plan["name"], span_type=plan["root_type"]) as root:
            trace_id = root.trace_id
            root.set_inputs({"question": f"Tell me about {plan['topic']}"})
            root.set_attributes({"round": idx % 4})
            kwargs: dict[str, Any] = {"metadata": metadata} if metadata else {}
            if plan["crid"]:
                kwargs["client_request_id"] = plan["crid"]
            if kwargs:
                lib.update_current_trace(**kwargs)
            for name, kind, failed, number in plan["children"]:
                _child(lib, root, name, kind, failed, number, None, plan["topic"])
            if plan["error"]:
                raise Boom(f"failed on {plan['topic']}")
            root.set_outputs({"answer": f"Here is {plan['topic']}"})
    except Boom:
        pass
    time.sleep(0.003)  # strictly increasing timestamps: timestamp order is idx order in both stores
    return trace_id


def _tags(plan: dict[str, Any], idx: int) -> dict[str, str]:
    tags = {"idx": str(idx)}
    if plan["env"]:
        tags["env"] = plan["env"]
    if plan["tier"]:
        tags["user_tier"] = plan["tier"]
    if plan["team"]:
        tags["team.name"] = plan["team"]
    return tags


def _assess(lib: Any, trace_id: str, idx: int, plan: dict[str, Any]) -> None:
    if plan["feedback"]:
        lib.log_feedback(trace_id=trace_id, name="correctness", value=idx % 2 == 0)
        lib.log_feedback(trace_id=trace_id, name="relevance", value=round((idx % 10) / 10, 1))
        if idx % 4 == 0:
            lib.log_feedback(trace_id=trace_id, name="sentiment", value=["positive", "negative", "neutral"][idx % 3])
    if plan["expectation"]:
        lib.log_expectation(trace_id=trace_id, name="expected_answer", value=f"about {plan['topic']}")
        lib.log_expectation(trace_id=trace_id, name="expected_count", value=idx % 5)


def build_traces(lib: Any, n: int = N_TRACES) -> dict[str, Any]:
    """Write ``n`` traces into ``lib``'s active experiment.

    Returns {"ids": trace id → idx, "models": {"a": id, "b": id}, "runs": [run ids]}.
    """
    ids: dict[str, int] = {}
    models: dict[str, str] = {}
    runs: list[str] = []
    model_a = lib.set_active_model(name="parity-model-a").model_id
    model_b = lib.set_active_model(name="parity-model-b").model_id
    models = {"a": model_a, "b": model_b}
    lib.clear_active_model()
    for idx in range(n):
        plan = _plan(idx)
        if plan["model"]:
            lib.set_active_model(model_id=model_a if idx % 10 == 2 else model_b)
        run = lib.start_run(run_name=f"run-{idx}") if plan["run"] else None
        try:
            trace_id = _explicit_trace(lib, idx, plan) if idx % 4 == 0 else _fluent_trace(lib, idx, plan)
        finally:
            if run is not None:
                runs.append(run.info.run_id)
                lib.end_run()
            if plan["model"]:
                lib.clear_active_model()
        for key, value in _tags(plan, idx).items():
            lib.set_trace_tag(trace_id, key, value)
        _assess(lib, trace_id, idx, plan)
        ids[trace_id] = idx
    return {"ids": ids, "models": models, "runs": runs}
