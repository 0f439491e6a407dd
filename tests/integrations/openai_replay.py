"""Replaying recorded OpenAI HTTP interactions (vcrpy YAML) through the real SDK, one by one.

vcrpy matches requests by method and path, which cannot tell apart two recorded calls to
``/v1/chat/completions`` with different bodies; replaying interaction *i* to call *i*
through an ``httpx.MockTransport`` keeps every recording's pairing exact.
"""

from __future__ import annotations

import gzip
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml


def load_interactions(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data["interactions"])


def recorded_body(interaction: dict[str, Any]) -> str:
    body = interaction["response"]["body"]["string"]
    if isinstance(body, bytes):
        try:
            body = gzip.decompress(body)
        except OSError:
            pass
        body = body.decode("utf-8")
    return str(body)


def request_json(interaction: dict[str, Any]) -> dict[str, Any]:
    raw = interaction["request"]["body"]
    return json.loads(raw) if raw else {}


def endpoint(interaction: dict[str, Any]) -> str:
    uri = interaction["request"]["uri"]
    for name in ("chat/completions", "embeddings", "responses", "completions"):
        if uri.rstrip("/").endswith("/v1/" + name):
            return name
    raise ValueError(f"no endpoint for {uri}")


def transport_for(interaction: dict[str, Any]) -> httpx.MockTransport:
    body = recorded_body(interaction)
    status = interaction["response"]["status"]["code"]
    is_sse = body.lstrip().startswith(("data:", "event:"))
    headers = {"content-type": "text/event-stream" if is_sse else "application/json"}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body.encode("utf-8"), headers=headers)

    return httpx.MockTransport(handler)


def client_for(interaction: dict[str, Any], use_async: bool) -> Any:
    transport = transport_for(interaction)
    if use_async:
        return openai.AsyncOpenAI(api_key="sk-test", max_retries=0, http_client=httpx.AsyncClient(transport=transport))
    return openai.OpenAI(api_key="sk-test", max_retries=0, http_client=httpx.Client(transport=transport))


def method_for(client: Any, name: str, raw: bool = False) -> Callable[..., Any]:
    resource = {"chat/completions": client.chat.completions, "embeddings": client.embeddings,
                "responses": client.responses, "completions": client.completions}[name]
    return resource.with_raw_response.create if raw else resource.create


def call_kwargs(create: Callable[..., Any], body: dict[str, Any]) -> dict[str, Any]:
    """The recorded body as SDK keyword arguments; fields this SDK version does not name go in extra_body."""
    params = inspect.signature(create).parameters
    kwargs = {k: v for k, v in body.items() if k in params}
    extra = {k: v for k, v in body.items() if k not in params}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def sse_payloads(body: str) -> list[dict[str, Any]]:
    out = []
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            out.append(json.loads(line[5:].strip()))
    return out


def recorded_usage(interaction: dict[str, Any]) -> dict[str, Any] | None:
    """The usage object the API sent (from the JSON body, the usage chunk, or response.completed)."""
    body = recorded_body(interaction)
    if body.lstrip().startswith(("data:", "event:")):
        usage = None
        for payload in sse_payloads(body):
            if payload.get("usage"):
                usage = payload["usage"]
            if payload.get("type") == "response.completed":
                usage = payload["response"].get("usage")
        return usage
    return json.loads(body).get("usage")


def expected_text_and_tools(interaction: dict[str, Any], chunks_consumed: int | None = None
                            ) -> tuple[str | None, list[tuple[str, str]]]:
    """Text of choice 0 and its tool calls (name, arguments), as the API sent them."""
    body = recorded_body(interaction)
    if not body.lstrip().startswith(("data:", "event:")):
        data = json.loads(body)
        if "choices" in data:
            message = data["choices"][0].get("message") or {}
            tools = [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or []]
            return message.get("content"), tools
        return None, []
    payloads = sse_payloads(body)
    if chunks_consumed is not None:
        payloads = payloads[:chunks_consumed]
    text: list[str] = []
    calls: dict[int, list[str]] = {}
    for payload in payloads:
        if payload.get("type") == "response.output_text.delta":
            text.append(payload.get("delta") or "")
        for choice in payload.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call.get("index", 0), ["", ""])
                fn = call.get("function") or {}
                slot[0] += fn.get("name") or ""
                slot[1] += fn.get("arguments") or ""
    joined = "".join(text)
    return (joined or None), [(n, a) for n, a in (calls[i] for i in sorted(calls))]
