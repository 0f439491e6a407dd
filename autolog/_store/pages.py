"""Page tokens of paged searches: keyset cursors, opaque to the caller.

A token holds the sort key of the last row of its page (every ORDER BY value, the id last)
and a checksum of the ORDER BY it was made for. The next page is the rows that sort after
that key: rows written between two pages never shift the pages after them, so paging never
returns a row twice or skips one (an OFFSET would do both).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Sequence
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog._store.filter_sql import SortKey, all_of

__all__ = ["after_clause", "decode_page_token", "encode_page_token"]


def _checksum(keys: Sequence[SortKey]) -> int:
    return zlib.crc32(", ".join(f"{k.expr} {k.descending}" for k in keys).encode())


def encode_page_token(keys: Sequence[SortKey], last_row_key: Sequence[Any]) -> str:
    body = json.dumps({"k": list(last_row_key), "o": _checksum(keys)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode()


def decode_page_token(token: str | None, keys: Sequence[SortKey]) -> list[Any] | None:
    """The sort key a token holds (None for no token); a token of another ORDER BY is refused."""
    if not token:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
        values, checksum = body["k"], body["o"]
        valid = (isinstance(values, list) and len(values) == len(keys)
                 and all(v is None or isinstance(v, (str, int, float)) for v in values))
    except (ValueError, TypeError, KeyError, binascii.Error):
        valid = False
    if not valid:
        raise InvalidArgumentError(f"invalid page_token {token!r}: pass the .token of the previous page as it is")
    if checksum != _checksum(keys):
        raise InvalidArgumentError(f"page_token {token!r} belongs to a search with another order_by: "
                                   "pass the same order_by for every page")
    return list(values)


def _after(key: SortKey, value: Any, params: list[Any]) -> str | None:
    """SQL true for a row whose ``key`` sorts strictly after ``value`` (None: no row does)."""
    if value is None:
        # NULL sorts first: every non-NULL value comes after it ascending, none descending.
        return None if key.descending else f"{key.expr} IS NOT NULL"
    params.append(value)
    if key.descending:
        return f"({key.expr} < ? OR {key.expr} IS NULL)" if key.nullable else f"{key.expr} < ?"
    return f"{key.expr} > ?"


def after_clause(keys: Sequence[SortKey], values: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQL true for the rows that sort after the row whose sort key is ``values``, and its bound parameters."""
    params: list[Any] = []
    if len({k.descending for k in keys}) == 1 and not any(k.nullable for k in keys):
        # One direction, no NULLs: a row value comparison, which SQLite answers with an index range.
        op = "<" if keys[0].descending else ">"
        places = ", ".join("?" * len(keys))
        return f"({', '.join(k.expr for k in keys)}) {op} ({places})", list(values)
    terms = []
    for i, key in enumerate(keys):
        term_params: list[Any] = []
        after = _after(key, values[i], term_params)
        if after is None:
            continue
        equal = [f"{k.expr} IS ?" for k in keys[:i]]
        params.extend(values[:i])
        params.extend(term_params)
        terms.append(all_of([*equal, after]))
    return all_of(terms, "OR") if terms else "1=0", params
