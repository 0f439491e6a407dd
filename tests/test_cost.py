"""Cost: ``mlflow.llm.cost`` on priced spans and ``mlflow.trace.cost`` on traces, over the real openai SDK.

Expected figures come from genai-prices itself (``calc_price`` on the same usage), so the tests
check that autolog prices each call once, with the right token counts and model, rather than
re-stating the price table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from genai_prices import Usage, calc_price

import autolog

REPO = Path(__file__).resolve().parents[1]


def _usage(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning}}


class Api:
    """A fake OpenAI API answering chat completions and embeddings with the usage it is given."""

    def __init__(self) -> None:
        self.usage: dict[str, Any] = _usage(1000, 500, cached=200)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path.endswith("/embeddings"):
            return httpx.Response(200, json={"object": "list", "model": body["model"],
                                             "data": [{"object": "embedding", "index": 0, "embedding": [0.5] * 4}],
                                             "usage": {"prompt_tokens": 3000, "total_tokens": 3000}})
        return httpx.Response(200, json={
            "id": "chatcmpl-c", "object": "chat.completion", "created": 1, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
            "usage": self.usage})


@pytest.fixture
def api() -> Iterator[tuple[Api, openai.OpenAI]]:
    server = Api()
    autolog.openai()
    yield server, openai.OpenAI(api_key="k", max_retries=0, http_client=httpx.Client(
        transport=httpx.MockTransport(server)))
    autolog.openai(disable=True)
    autolog.configure(autolog.get_tracking_uri(), prices=None)


def _reference(model: str, input_tokens: int, output_tokens: int, cached: int = 0) -> dict[str, float]:
    price = calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached or None),
                       model_ref=model, provider_id="openai")
    return {"input_cost": float(price.input_price), "output_cost": float(price.output_price),
            "total_cost": float(price.total_price)}


def _close(actual: dict[str, float], expected: dict[str, float]) -> None:
    assert set(actual) == {"input_cost", "output_cost", "total_cost"}
    assert actual == pytest.approx(expected, rel=1e-9, abs=1e-15)


def _only_trace() -> autolog.Trace:
    assert autolog.flush()
    [trace] = autolog.search_traces(return_type="list")
    return trace


def _trace_cost(trace: autolog.Trace) -> dict[str, float] | None:
    raw = trace.info.trace_metadata.get("mlflow.trace.cost")
    return None if raw is None else json.loads(raw)


@pytest.mark.parametrize(("model", "usage", "tokens"), [
    ("gpt-4o-mini", _usage(1000, 500, cached=200), (1000, 500, 200)),
    ("gpt-4.1-2025-04-14", _usage(2000, 100), (2000, 100, 0)),
    # Reasoning tokens are part of completion_tokens: priced as output once, never added again.
    ("o3-mini", _usage(400, 900, reasoning=700), (400, 900, 0)),
])
def test_a_chat_call_is_priced_from_its_usage_and_model(api: tuple[Api, openai.OpenAI], model: str,
                                                        usage: dict[str, Any], tokens: tuple[int, int, int]) -> None:
    server, client = api
    server.usage = usage
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    trace = _only_trace()
    [span] = trace.data.spans
    expected = _reference(model, *tokens)
    _close(span.attributes["mlflow.llm.cost"], expected)
    _close(_trace_cost(trace) or {}, expected)
    assert expected["total_cost"] > 0


def test_an_embedding_call_is_priced(api: tuple[Api, openai.OpenAI]) -> None:
    _, client = api
    client.embeddings.create(model="text-embedding-3-small", input="some text")
    trace = _only_trace()
    [span] = trace.data.spans
    assert span.span_type == "EMBEDDING"
    expected = _reference("text-embedding-3-small", 3000, 0)
    _close(span.attributes["mlflow.llm.cost"], expected)
    _close(_trace_cost(trace) or {}, expected)


def test_an_unknown_model_has_no_cost_until_the_user_prices_it(api: tuple[Api, openai.OpenAI]) -> None:
    _, client = api
    client.chat.completions.create(model="acme-private-7b", messages=[{"role": "user", "content": "hi"}])
    trace = _only_trace()
    assert "mlflow.llm.cost" not in trace.data.spans[0].attributes  # never a guessed price
    assert _trace_cost(trace) is None
    assert trace.info.token_usage == {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500,
                                      "cache_read_input_tokens": 200, "reasoning_tokens": 0}
    assert [t.info.trace_id for t in autolog.search_traces(filter_string="cost IS NULL", return_type="list")] == [
        trace.info.trace_id]

    autolog.configure(autolog.get_tracking_uri(), prices={"acme-private-7b": {"input": 0.5, "output": 2.0,
                                                                             "cache_read": 0.1}})
    client.chat.completions.create(model="acme-private-7b", messages=[{"role": "user", "content": "again"}])
    assert autolog.flush()
    [priced] = autolog.search_traces(filter_string="cost > 0", return_type="list")
    # 800 uncached input tokens at 0.5/M, 200 cached at 0.1/M, 500 output at 2.0/M.
    _close(_trace_cost(priced) or {}, {"input_cost": (800 * 0.5 + 200 * 0.1) / 1e6, "output_cost": 500 * 2.0 / 1e6,
                                       "total_cost": (800 * 0.5 + 200 * 0.1 + 500 * 2.0) / 1e6})


def test_an_override_wins_over_the_table_and_a_dated_name_matches_it(api: tuple[Api, openai.OpenAI]) -> None:
    server, client = api
    server.usage = _usage(1_000_000, 1_000_000)
    autolog.configure(autolog.get_tracking_uri(), prices={"gpt-4o-mini": {"input": 1, "output": 10}})
    client.chat.completions.create(model="gpt-4o-mini-2024-07-18", messages=[{"role": "user", "content": "hi"}])
    _close(_trace_cost(_only_trace()) or {}, {"input_cost": 1.0, "output_cost": 10.0, "total_cost": 11.0})


@pytest.mark.parametrize(("prices", "message"), [
    ({"m": {"input": 1}}, r"prices\['m'\] needs 'output'"),
    ({"m": {"input": -1, "output": 1}}, r"prices\['m'\]\['input'\] must be a finite number"),
    ({"m": {"input": 1, "output": 1, "cached": 1}}, r"unknown keys \['cached'\]"),
    ({"m": 0.5}, r"prices\['m'\] must be a dict"),
    (["m"], "prices must be a dict"),
])
def test_a_bad_price_table_is_refused_and_changes_nothing(api: tuple[Api, openai.OpenAI], prices: Any,
                                                          message: str) -> None:
    _, client = api
    before = autolog.get_tracking_uri()
    with pytest.raises(autolog.InvalidArgumentError, match=message):
        autolog.configure("sqlite:///elsewhere.db", prices=prices)
    assert autolog.get_tracking_uri() == before  # the client was not replaced either
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    _close(_trace_cost(_only_trace()) or {}, _reference("gpt-4o-mini", 1000, 500, 200))


def test_cost_filters_and_orders_traces_with_unpriced_ones_last(api: tuple[Api, openai.OpenAI]) -> None:
    server, client = api
    calls = [("gpt-4o-mini", 1000), ("gpt-4.1", 1000), ("acme-private-7b", 1000), ("gpt-4o-mini", 50_000)]
    for model, prompt in calls:
        server.usage = _usage(prompt, 100)
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"{model} {prompt}"}])
    assert autolog.flush()
    costs = {t.info.request_preview: (_trace_cost(t) or {}).get("total_cost")
             for t in autolog.search_traces(return_type="list")}
    ordered = autolog.search_traces(order_by=["cost DESC"], return_type="list")
    priced = sorted((c for c in costs.values() if c is not None), reverse=True)
    assert [(_trace_cost(t) or {}).get("total_cost") for t in ordered] == [*priced, None]
    ascending = autolog.search_traces(order_by=["cost ASC"], return_type="list")
    assert _trace_cost(ascending[-1]) is None  # NULLs last both ways, as MLflow sorts them
    threshold = sorted(c for c in costs.values() if c is not None)[1]
    above = autolog.search_traces(filter_string=f"cost > {threshold}", return_type="list")
    assert sorted((_trace_cost(t) or {})["total_cost"] for t in above) == sorted(
        c for c in costs.values() if c is not None and c > threshold)
    with pytest.raises(autolog.InvalidFilterError, match="a number to compare cost with"):
        autolog.search_traces(filter_string="cost > 'cheap'")


def test_a_users_own_span_with_usage_and_model_is_priced_and_nested_calls_sum_once() -> None:
    with autolog.start_span("agent", span_type="AGENT"):
        for tokens in (100, 300):
            with autolog.start_span("llm", span_type="CHAT_MODEL") as span:
                span.set_attributes({"mlflow.llm.model": "gpt-4o-mini", "mlflow.chat.tokenUsage": {
                    "input_tokens": tokens, "output_tokens": 10, "total_tokens": tokens + 10}})
    trace = _only_trace()
    spans = {s.span_id: s for s in trace.data.spans}
    priced = [s.attributes["mlflow.llm.cost"] for s in spans.values() if "mlflow.llm.cost" in s.attributes]
    assert len(priced) == 2
    for cost, tokens in zip(sorted(priced, key=lambda c: c["total_cost"]), (100, 300), strict=True):
        _close(cost, _reference("gpt-4o-mini", tokens, 10))
    expected = {k: _reference("gpt-4o-mini", 100, 10)[k] + _reference("gpt-4o-mini", 300, 10)[k]
                for k in ("input_cost", "output_cost", "total_cost")}
    _close(_trace_cost(trace) or {}, expected)


def test_autolog_openai_loads_the_price_table_on_the_callers_thread() -> None:
    """The export worker must not import genai-prices while the application imports httpx2 (see cost.py)."""
    code = ("import sys, autolog\nassert 'genai_prices' not in sys.modules\nautolog.openai()\n"
            "assert 'genai_prices' in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
