"""The LLM behind a judge: its ``<provider>:/<model>`` URI, settings from the environment, and the call.

Only OpenAI's chat completions API is spoken, through the ``openai`` SDK; any server that
implements it (vLLM, Ollama, LiteLLM's proxy...) works through ``base_url=`` or the
``OPENAI_BASE_URL`` variable the SDK reads itself.

Tests (and applications with their own proxies or transports) hand the SDK an
``httpx.Client``: per model with ``JudgeModel.http_client``, or for every judge that has none
with ``set_default_http_client``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import tenacity

from autolog._errors import InvalidArgumentError
from autolog._tracing.context import suppress_tracing

__all__ = ["DEFAULT_JUDGE_MODEL", "SUPPORTED_PROVIDERS", "JudgeModel", "default_judge_model", "env_setting",
           "set_default_http_client"]

DEFAULT_JUDGE_MODEL = "openai:/gpt-4.1-mini"
SUPPORTED_PROVIDERS = ("openai",)
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 3
# The first retry waits this long, each next one twice as long (capped at RETRY_MAX_WAIT_SECONDS).
# Module attributes so that tests can make retries instant.
RETRY_BACKOFF_SECONDS = 1.0
RETRY_MAX_WAIT_SECONDS = 30.0

_default_http_client: Any = None


def env_setting(name: str) -> str | None:
    """``AUTOLOG_<name>``, else MLflow's ``MLFLOW_<name>`` (so an MLflow setup keeps working), else None."""
    for prefix in ("AUTOLOG_", "MLFLOW_"):
        value = os.environ.get(prefix + name)
        if value:
            return value
    return None


def default_judge_model() -> str:
    """The model of judges built without ``model=``."""
    return (os.environ.get("AUTOLOG_GENAI_JUDGE_MODEL") or os.environ.get("MLFLOW_GENAI_JUDGE_DEFAULT_MODEL")
            or DEFAULT_JUDGE_MODEL)


def set_default_http_client(http_client: Any) -> Any:
    """Give every judge without its own ``http_client`` this ``httpx.Client`` (None: the SDK's own).

    Returns the previous one, so a test can put it back.
    """
    global _default_http_client
    previous, _default_http_client = _default_http_client, http_client
    return previous


def _number_setting(name: str, default: float) -> float:
    raw = env_setting(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be a number, got {raw!r}") from None


@dataclass
class JudgeModel:
    """A judge's LLM, parsed from its URI; ``complete(messages)`` returns the text of its answer.

    ``inference_params`` go to ``chat.completions.create`` as they are (``temperature``,
    ``response_format={"type": "json_object"}`` for servers that support it, ...).
    """

    uri: str
    base_url: str | None = None
    extra_headers: dict[str, str] | None = None
    inference_params: dict[str, Any] | None = None
    http_client: Any = None  # an httpx.Client for the SDK; None: set_default_http_client's, else the SDK's
    provider: str = field(init=False)
    model_name: str = field(init=False)
    # One SDK client per setting (key, base URL, transport), reused across rows and threads
    # (openai clients are thread-safe): a new client per call would open a new connection pool each time.
    _clients: dict[tuple[Any, ...], Any] = field(init=False, default_factory=dict, repr=False, compare=False)
    _clients_lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.provider, self.model_name = parse_model_uri(self.uri)

    def complete(self, messages: list[dict[str, str]]) -> str:
        """Ask the model, retrying rate limits, server errors and timeouts; the SDK's errors propagate."""
        client = self._client()
        params = dict(self.inference_params or {})
        max_retries = int(_number_setting("GENAI_EVAL_MAX_RETRIES", DEFAULT_MAX_RETRIES))
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_is_transient),
            stop=tenacity.stop_after_attempt(max(0, max_retries) + 1),
            wait=_wait_retry_after_or_exponential,
            reraise=True,
        )
        # A judge's own LLM call is not part of the application: keep it out of its traces
        # (the OpenAI integration, if on, would otherwise record it) unless asked for.
        traced = (env_setting("GENAI_EVAL_ENABLE_SCORER_TRACING") or "").lower() in ("1", "true", "yes")
        for attempt in retrying:
            with attempt:
                if traced:
                    response = client.chat.completions.create(model=self.model_name, messages=messages, **params)
                else:
                    with suppress_tracing():
                        response = client.chat.completions.create(model=self.model_name, messages=messages,
                                                                  **params)
        choices = getattr(response, "choices", None) or []
        content = choices[0].message.content if choices else None
        return content if isinstance(content, str) else ""

    def _client(self) -> Any:
        import openai  # lazily: autolog does not need the SDK unless a judge runs

        api_key = os.environ.get("OPENAI_API_KEY")
        base_url = self.base_url or os.environ.get("OPENAI_BASE_URL")
        if not api_key and base_url:
            api_key = "unused"  # self-hosted compatible servers usually take no key, but the SDK wants one
        http_client = self.http_client if self.http_client is not None else _default_http_client
        timeout = _number_setting("GENAI_EVAL_LLM_TIMEOUT", DEFAULT_TIMEOUT_SECONDS)
        key = (api_key, base_url, http_client, timeout)
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = openai.OpenAI(
                    api_key=api_key, base_url=base_url, default_headers=self.extra_headers, http_client=http_client,
                    max_retries=0, timeout=timeout)  # tenacity retries, not the SDK
            return client


def parse_model_uri(uri: str) -> tuple[str, str]:
    """``"openai:/gpt-4.1-mini"`` -> ``("openai", "gpt-4.1-mini")``; raises on a malformed URI or provider."""
    if not isinstance(uri, str) or ":" not in uri:
        raise InvalidArgumentError(f"a judge model must be '<provider>:/<model>' (e.g. {DEFAULT_JUDGE_MODEL!r}), "
                                   f"got {uri!r}")
    provider, _, rest = uri.partition(":")
    model_name = rest.lstrip("/")
    if provider not in SUPPORTED_PROVIDERS:
        raise InvalidArgumentError(f"judge model {uri!r}: provider {provider!r} is not supported; supported "
                                   f"providers: {', '.join(SUPPORTED_PROVIDERS)} (any OpenAI-compatible server "
                                   "works as 'openai' with base_url=)")
    if not model_name:
        raise InvalidArgumentError(f"judge model {uri!r} names no model after the provider")
    return provider, model_name


def _wait_retry_after_or_exponential(state: tenacity.RetryCallState) -> float:
    """The server's ``Retry-After`` (or ``retry-after-ms``) when it sent one, else exponential backoff.

    A rate-limited provider says when it will take the next request; waiting less only
    earns another 429. Capped at ``RETRY_MAX_WAIT_SECONDS``.
    """
    exc = state.outcome.exception() if state.outcome is not None else None
    asked = retry_after_seconds(getattr(getattr(exc, "response", None), "headers", None))
    if asked is not None:
        return min(asked, RETRY_MAX_WAIT_SECONDS)
    return float(min(RETRY_BACKOFF_SECONDS * 2.0 ** (state.attempt_number - 1), RETRY_MAX_WAIT_SECONDS))


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a response's ``retry-after-ms`` / ``Retry-After`` header (seconds or an HTTP date) asks for."""
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(0.0, float(millis) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, AttributeError):
        return None  # a header we cannot read: fall back to backoff


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: a rate limit (429), a server error (5xx), a timeout or a dropped connection."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError is one
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False
