"""What the modules that replay cassettes/<folder>/ with pytest-recording share.

vcrpy settings that keep secrets out of recordings, the placeholder API key used when
replaying, readers for a cassette's recorded exchange, and the API's usage block written the
way autolog records it. The expected values of the tests come from the cassettes, so a
re-recording against the live API (``OPENAI_API_KEY=... nox -s record``) keeps them meaningful.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"
SECRET_HEADERS = ("authorization", "openai-organization", "openai-project", "cookie", "set-cookie", "x-request-id",
                  "request-id", "cf-ray")


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for key in list(headers):
        if key.lower() in SECRET_HEADERS:
            del headers[key]
    return response


def vcr_settings() -> dict[str, Any]:
    """pytest-recording's ``vcr_config``: secrets filtered both ways, requests matched by endpoint."""
    return {"filter_headers": list(SECRET_HEADERS), "before_record_response": scrub_response,
            "match_on": ["method", "scheme", "host", "port", "path"], "decode_compressed_response": True}


def use_replay_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A placeholder key when replaying; a recording run (AUTOLOG_RECORD=1) keeps the real one."""
    if not os.environ.get("AUTOLOG_RECORD"):
        monkeypatch.setenv("OPENAI_API_KEY", "sk-replay")


def interactions(folder: Path, name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((folder / f"{name}.yaml").read_text())["interactions"]  # type: ignore[no-any-return]


def recorded(folder: Path, name: str) -> tuple[dict[str, Any], str]:
    """The first exchange of a cassette: the request's JSON body and the response's text."""
    interaction = interactions(folder, name)[0]
    return json.loads(interaction["request"]["body"]), interaction["response"]["body"]["string"]


def events(body: str) -> list[dict[str, Any]]:
    """The JSON events of a server-sent-events body."""
    return [json.loads(line[5:]) for line in body.splitlines()
            if line.startswith("data:") and line[5:].strip() != "[DONE]"]


def span_usage(usage: dict[str, Any]) -> dict[str, int]:
    """A Chat Completions ``usage`` block as autolog's ``mlflow.chat.tokenUsage``."""
    return {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"],
            "cache_read_input_tokens": usage["prompt_tokens_details"]["cached_tokens"],
            "reasoning_tokens": usage["completion_tokens_details"]["reasoning_tokens"]}
