"""Page tokens of paged searches: opaque to the caller, an offset inside."""

from __future__ import annotations

import base64
import json

from autolog._errors import InvalidArgumentError

__all__ = ["decode_page_token", "encode_page_token"]


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except Exception as exc:
        raise InvalidArgumentError(f"invalid page_token {token!r}") from exc
    if offset < 0:
        raise InvalidArgumentError(f"invalid page_token {token!r}")
    return offset
