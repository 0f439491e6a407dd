"""A stand-in for api.openai.com on a loopback port, for running the README's examples offline.

The README's code builds ``openai.OpenAI()`` clients itself (no transport of ours to hand in), so the
test points the real SDK at this server with ``OPENAI_BASE_URL``. It answers the calls the README makes
(chat completions, streamed or not, and embeddings) in the API's own shapes, with token usage, and
answers an LLM judge's prompt (one asking for ``"result"`` and ``"rationale"``) with a verdict.
Every request is kept in ``requests`` so a test can say what the examples sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EMBEDDING_DIMENSIONS = 1536


def _tokens(text: str) -> int:
    return max(1, len(text.split()) * 4 // 3)


def _prompt_text(messages: list[dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append(str(content or ""))
    return "\n".join(parts)


def _answer(prompt: str) -> str:
    if '"result"' in prompt and "rationale" in prompt:  # an LLM judge's instructions
        return json.dumps({"result": "yes", "rationale": "The response agrees with the expected facts."})
    if "purr" in prompt.lower():
        return "They purr."
    return "You can do that from the settings page."


def _vector(text: str) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    return [((seed[i % len(seed)] + i) % 97) / 97.0 for i in range(EMBEDDING_DIMENSIONS)]


class FakeOpenAI:
    """``with FakeOpenAI() as api: ... api.base_url``: a ThreadingHTTPServer on 127.0.0.1, a free port."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                api.requests.append((self.path, body))
                if self.path.endswith("/chat/completions"):
                    if body.get("stream"):
                        self._stream(body)
                    else:
                        self._json(_completion(body))
                elif self.path.endswith("/embeddings"):
                    self._json(_embeddings(body))
                else:
                    self._json({"error": {"message": f"no such route {self.path}", "type": "invalid_request_error"}},
                               status=404)

            def _json(self, payload: dict[str, Any], status: int = 200) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in _chunks(body):
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")

        return Handler


def _usage(prompt: str, answer: str) -> dict[str, int]:
    prompt_tokens, completion_tokens = _tokens(prompt), _tokens(answer)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion_usage(body: dict[str, Any]) -> dict[str, int]:
    """The token usage this server answers a chat-completion request ``body`` with."""
    prompt = _prompt_text(body.get("messages", []))
    return _usage(prompt, _answer(prompt))


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    prompt = _prompt_text(body.get("messages", []))
    answer = _answer(prompt)
    return {"id": "chatcmpl-readme", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "gpt-4o-mini"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer, "refusal": None}}],
            "usage": _usage(prompt, answer)}


def _chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    prompt = _prompt_text(body.get("messages", []))
    answer = _answer(prompt)
    head = {"id": "chatcmpl-readme", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.get("model", "gpt-4o-mini")}
    words = answer.split(" ")
    chunks = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "finish_reason": None}]}]
    chunks += [{**head, "choices": [{"index": 0, "delta": {"content": w if i == 0 else " " + w},
                                     "finish_reason": None}]} for i, w in enumerate(words)]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**head, "choices": [], "usage": _usage(prompt, answer)})
    return chunks


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else list(texts or [])
    # the SDK may send token ids (lists of ints) when a tokenizer ran first
    texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in texts]
    tokens = sum(_tokens(t) for t in texts)
    vectors: list[Any] = [_vector(t) for t in texts]
    if body.get("encoding_format") == "base64":  # what the SDK asks for unless told otherwise
        vectors = [base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() for v in vectors]
    return {"object": "list", "model": body.get("model", "text-embedding-3-small"),
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
