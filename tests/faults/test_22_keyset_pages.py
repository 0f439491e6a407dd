"""Item 22: paging while traces are written (or deleted) never returns a trace twice or skips one.

Page tokens were OFFSETs: a trace stored between two pages shifted every later row by one,
so the next page repeated the last row of the previous one (28 returned, 25 distinct); a
deleted trace made the next page skip one. Tokens are now keyset cursors: the sort key and
id of the last row of the page.
"""

from __future__ import annotations

import base64
import itertools

import pytest

import autolog

_clock = itertools.count(1_700_000_000_000)


def _write(client: autolog.Client, n: int, *, same_time: bool = False, duration_ms: int | None = None) -> list[str]:
    ids = []
    start_ms = next(_clock)
    for i in range(n):
        ms = start_ms if same_time else next(_clock)
        root = client.start_trace("root", start_time_ns=ms * 1_000_000)
        end_ns = ms * 1_000_000 + (duration_ms if duration_ms is not None else i % 4) * 1_000_000
        client.end_trace(root.trace_id, end_time_ns=end_ns)
        ids.append(root.trace_id)
    assert client.flush(10)
    return ids


@pytest.mark.parametrize("order_by", [
    None,                                   # newest first (the default)
    ["timestamp_ms ASC"],
    ["execution_time_ms DESC", "timestamp_ms ASC"],  # many ties, resolved by the id
    ["run_id DESC"],                        # NULL for every trace: only the id orders them
    ["run_id ASC", "name DESC"],
])
def test_pages_stay_complete_and_distinct_while_traces_are_written(store: autolog.Client,
                                                                   order_by: list[str] | None) -> None:
    original = _write(store, 25)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = store.search_traces(max_results=7, page_token=token, order_by=order_by)
        seen.extend(t.info.trace_id for t in page)
        pages += 1
        token = page.token
        if token is None:
            break
        _write(store, 3)  # between two pages: what shifted an OFFSET
    assert len(seen) == len(set(seen)), "a trace was returned twice"
    assert set(original) <= set(seen), f"{len(set(original) - set(seen))} traces were skipped"
    assert pages >= 4


def test_deleting_seen_traces_between_pages_skips_nothing(store: autolog.Client) -> None:
    original = _write(store, 20)
    first = store.search_traces(max_results=8)
    store.delete_traces([t.info.trace_id for t in first[:4]])
    rest: list[str] = []
    token = first.token
    while token is not None:
        page = store.search_traces(max_results=8, page_token=token)
        rest.extend(t.info.trace_id for t in page)
        token = page.token
    assert [t.info.trace_id for t in first] + rest == original[::-1]


def test_traces_with_the_same_timestamp_page_in_id_order(store: autolog.Client) -> None:
    tied = _write(store, 12, same_time=True)
    seen: list[str] = []
    token = None
    while True:
        page = store.search_traces(max_results=5, page_token=token)
        seen.extend(t.info.trace_id for t in page)
        if (token := page.token) is None:
            break
    assert seen == sorted(tied, reverse=True)


def test_page_tokens_are_opaque_cursors_bound_to_their_order(store: autolog.Client) -> None:
    _write(store, 5)
    page = store.search_traces(max_results=2)
    assert page.token is not None
    assert b"offset" not in base64.urlsafe_b64decode(page.token)
    with pytest.raises(autolog.InvalidArgumentError, match="another order_by"):
        store.search_traces(max_results=2, page_token=page.token, order_by=["timestamp_ms ASC"])
    for bad in ("not-a-token", base64.urlsafe_b64encode(b'{"offset": 2}').decode(), "e30="):
        with pytest.raises(autolog.InvalidArgumentError, match="page_token"):
            store.search_traces(max_results=2, page_token=bad)
