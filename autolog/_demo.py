"""``autolog demo``: a small support-bot app, instrumented end to end, on the embedded store.

No network and no API key: when the openai SDK is installed, the app calls it through
an in-process ``httpx.MockTransport`` that answers like the real API (with token usage),
and ``autolog.openai()`` traces those calls; otherwise a local fake model stands in.
Two application versions answer the same questions; some calls fail on purpose. Then each
version is evaluated on a small dataset (``autolog.genai.evaluate``) with a code scorer and
an LLM judge whose model is the same kind of local mock (deterministic), and the quality
figures are printed beside latency, tokens and errors.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from typing import Any

import autolog
from autolog import SpanType
from autolog.genai.comparison.versions import compare_versions

QUESTIONS = [
    "How do I reset my password?", "Where is my invoice?", "Can I change my plan?", "How do I export my data?",
    "Why was my card declined?", "How do I add a teammate?", "Is there an API?", "How do I delete my account?",
    "Do you support SSO?", "What are your support hours?", "How do I cancel?", "Can I get a refund?",
]
DOCS = {
    "password": "Use 'Forgot password' on the sign-in page.", "invoice": "Invoices are under Billing > History.",
    "plan": "Change plans under Billing > Plan.", "export": "Settings > Data > Export creates a ZIP.",
    "card": "Declines come from your bank; try another card.", "teammate": "Invite teammates under Team.",
    "api": "Yes: see the API keys page.", "delete": "Settings > Account > Delete.", "sso": "SSO is on Enterprise.",
    "hours": "We answer 24/7.", "cancel": "Cancel under Billing > Plan.", "refund": "Refunds within 30 days.",
}


def _fake_openai_client() -> Any:
    """An OpenAI client whose HTTP transport answers locally, like the real API would."""
    import httpx
    import openai

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
        if "card" in prompt.lower() and body["model"] == "gpt-4o-mini" and random.random() < 0.5:
            return httpx.Response(503, json={"error": {"message": "The server is overloaded", "type": "server_error"}})
        time.sleep(random.uniform(0.002, 0.012 if body["model"] == "gpt-4o-mini" else 0.025))
        words = prompt.split()
        # The small model keeps less of the notes in its answer than the large one.
        content = "Here is what I found: " + " ".join(words[-(6 if body["model"] == "gpt-4o-mini" else 16):])
        prompt_tokens, completion_tokens = len(words) * 2, len(content.split()) * 2
        return httpx.Response(200, json={
            "id": "chatcmpl-demo", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}})

    return openai.OpenAI(api_key="demo-key-not-used", max_retries=0,
                         http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def _local_llm(model: str) -> Callable[[list[dict[str, str]]], str]:
    @autolog.trace(name="chat", span_type=SpanType.CHAT_MODEL)
    def chat(messages: list[dict[str, str]]) -> str:
        prompt = " ".join(m["content"] for m in messages)
        if "card" in prompt.lower() and model == "gpt-4o-mini" and random.random() < 0.5:
            raise RuntimeError("The server is overloaded")
        time.sleep(random.uniform(0.002, 0.012 if model == "gpt-4o-mini" else 0.025))
        words = prompt.split()
        span = autolog.get_current_active_span()
        if span is not None:
            span.set_attributes({"mlflow.llm.model": model, "mlflow.chat.tokenUsage": {
                "input_tokens": len(words) * 2, "output_tokens": 24, "total_tokens": len(words) * 2 + 24}})
        return "Here is what I found: " + " ".join(words[-12:])

    return chat


def _build_app(model: str, top_k: int) -> Callable[[str, str], str]:
    llm: Callable[[list[dict[str, str]]], str]
    try:
        client = _fake_openai_client()
        autolog.openai()

        def call_openai(messages: list[dict[str, str]]) -> str:
            reply = client.chat.completions.create(model=model, messages=messages, temperature=0.2)
            return reply.choices[0].message.content or ""

        llm = call_openai
    except ImportError:
        llm = _local_llm(model)

    @autolog.trace(span_type=SpanType.RETRIEVER)
    def retrieve(question: str) -> list[dict[str, str]]:
        words = question.lower().replace("?", "").split()
        return [{"id": key, "text": text} for key, text in DOCS.items() if key in words][:top_k]

    @autolog.trace(name="support_bot", span_type=SpanType.AGENT)
    def answer(question: str, user: str) -> str:
        autolog.update_current_trace(tags={"channel": random.choice(["web", "mobile"])}, user=user,
                                     session_id=f"session-{hash(user) % 5}")
        docs = retrieve(question)
        context = "\n".join(d["text"] for d in docs)
        return llm([{"role": "system", "content": f"Answer from these notes:\n{context}"},
                    {"role": "user", "content": question}])

    return answer


def _judge_http_client() -> Any:
    """A local stand-in for the judge's model: says "yes" when the answer exists and quotes the question's topic."""
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        prompt = " ".join(m["content"] for m in json.loads(request.content)["messages"])
        _, _, answer = prompt.partition("Answer:")
        asked = re.search(r'"question": "([^"]*)"', prompt)
        words = set((asked.group(1) if asked else "").lower().replace("?", "").split())
        topic = next((key for key in DOCS if key in words), None)
        # Words of the topic's notes that the question does not already contain.
        notes = {w.strip(".'>:;").lower() for w in DOCS.get(topic or "", "").split() if len(w) > 3} - words
        used = sorted(w for w in notes if w in answer.lower())
        good = bool(used)
        verdict = {"result": "yes" if good else "no",
                   "rationale": f"uses the notes ({', '.join(used)})" if good else "does not use the notes"}
        return httpx.Response(200, json={
            "id": "chatcmpl-judge", "object": "chat.completion", "created": int(time.time()), "model": "demo-judge",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps(verdict)}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62}})

    return httpx.Client(transport=httpx.MockTransport(handler))


def _evaluate(apps: dict[str, tuple[str, Callable[[str, str], str]]], tracking_uri: str) -> None:
    """Evaluate each version on the questions: a code scorer and an LLM judge, then the figures side by side."""
    try:
        from autolog.genai import compare_evaluations, evaluate, judges, scorer
        from autolog.genai.scorers import Latency
    except ImportError as exc:  # the genai extra (pandas) is missing
        print(f"\n(evaluation skipped: {exc}; install autolog-genai[genai])")
        return
    helpful = judges.make_judge(
        "helpful", "Is this answer helpful for the user's question? Question: {{ inputs }}. Answer: {{ outputs }}. "
        "Reply yes or no.", model="openai:/demo-judge", feedback_value_type=bool,
        base_url="http://judge.demo.local/v1", http_client=_judge_http_client())  # a compatible server, no key

    @scorer
    def is_concise(outputs: str | None) -> bool:
        return outputs is not None and len(outputs.split()) <= 16

    data = [{"inputs": {"question": q, "user": "evaluator"}} for q in QUESTIONS]
    print(f"\nEvaluation on {len(data)} questions (autolog.genai.evaluate, judge: a local mock model):")
    print(f"{'version':<16} {'helpful':>8} {'concise':>8} {'latency p90 s':>14} {'tokens/row':>11} {'errors':>7}")
    runs = {}
    for name, (model_id, app) in apps.items():
        result = evaluate(data, [helpful, is_concise, Latency()], predict_fn=app, model_id=model_id,
                          progress=False, max_workers=4)
        runs[name] = result.run_id
        m = result.metrics
        errors = (result.result_df["state"] == "ERROR").mean()
        traces = autolog.search_traces(filter_string=f"run_id = '{result.run_id}'", return_type="list")
        tokens = sum((t.info.token_usage or {}).get("total_tokens", 0) for t in traces) / max(len(traces), 1)
        print(f"{name:<16} {m.get('helpful/mean', 0):>8.0%} {m.get('is_concise/mean', 0):>8.0%} "
              f"{m.get('latency/p90', 0):>14.3f} {tokens:>11.0f} {errors:>7.0%}")
    print("  each evaluation is a run: autolog.search_runs(), its feedback on the traces: "
          "filter_string=\"feedback.helpful = 'true'\"")
    (v1, baseline), (v2, candidate) = runs.items()
    print(f"\nIs {v2} better than {v1}? Row by row, paired tests (autolog.genai.compare_evaluations):")
    compare_evaluations(candidate, baseline).summary()
    uri_arg = f"--tracking-uri {tracking_uri}"
    print(f"  autolog versions compare {apps[v1][0]} {apps[v2][0]} {uri_arg} --plot compare.png")
    print(f"  autolog runs compare {candidate} {baseline} {uri_arg} --fail-on-regression")


def run_demo(tracking_uri: str = "sqlite:///autolog-demo.db", traces_per_version: int = 24) -> int:
    random.seed(7)
    autolog.configure(tracking_uri)
    autolog.set_experiment("support-bot demo")
    versions = [("support-bot v1", "gpt-4o-mini", 1), ("support-bot v2", "gpt-4o", 3)]
    model_ids = {}
    apps = {}
    for name, model, top_k in versions:
        logged = autolog.create_external_model(name=name, params={"llm": model, "top_k": str(top_k)},
                                               tags={"demo": "true"})
        model_ids[name] = logged.model_id
        app = _build_app(model, top_k)
        apps[name] = (logged.model_id, app)
        with autolog.set_active_model(model_id=logged.model_id):
            for i in range(traces_per_version):
                try:
                    app(QUESTIONS[i % len(QUESTIONS)], f"user-{i % 7}")
                except Exception:  # noqa: BLE001 - failures are part of the demo; they are traced as errors
                    pass
    autolog.flush()
    print(f"Recorded into {tracking_uri}\n")
    print(f"{'version':<16} {'model_id':<36} {'traces':>6} {'errors':>7} {'p50 ms':>7} {'p95 ms':>7} {'cost $':>9}"
          f" {'tokens':>7}")
    for row in compare_versions(list(model_ids.values()), return_type="list"):  # counted by the store, in SQL
        print(f"{row['name']:<16} {row['model_id']:<36} {row['traces']:>6} {row['error_rate'] or 0:>7.0%} "
              f"{row['latency_p50_ms'] or 0:>7.0f} {row['latency_p95_ms'] or 0:>7.0f} {row['cost_total']:>9.5f}"
              f" {row['total_tokens_sum']:>7}")
    errors = autolog.search_traces(filter_string="status = 'ERROR'", return_type="list", max_results=1)
    print("\nSearch them (same filter strings as MLflow):")
    uri_arg = f"--tracking-uri {tracking_uri}"
    print(f"  autolog traces list {uri_arg} --filter \"status = 'ERROR'\"")
    print(f"  autolog traces list {uri_arg} --filter \"tags.channel = 'mobile' AND execution_time_ms > 10\"")
    if errors:
        print(f"  autolog traces show {errors[0].info.trace_id} {uri_arg}")
    print("  python: autolog.search_traces(filter_string=\"metadata.`mlflow.trace.user` = 'user-3'\")")
    _evaluate(apps, tracking_uri)
    print(f"\nSee it all in a browser (traces, versions, evaluations, review):\n  autolog ui {uri_arg}"
          "   # then open http://127.0.0.1:5000/")
    return 0
