"""Item 1 (tracing side): the public tracing API never makes a record the store rejects.

A span name that is not a str (``start_span(name=("a", "b"))``) or a timestamp past 64
bits (``Client.start_trace(start_time_ns=2**70)``) used to fail the write of the whole
batch it travelled in, which was then spooled and replayed forever. Names and span types
are now stored as their text; an explicit timestamp that cannot be stored is a clear
``InvalidArgumentError`` at the call.
"""

from __future__ import annotations

from typing import Any

import pytest

import autolog


def _stored(trace_id: str | None) -> autolog.Trace:
    assert trace_id is not None
    assert autolog.flush(5) is True
    return autolog.get_trace(trace_id)


def test_a_tuple_span_name_is_stored_as_its_text() -> None:
    with autolog.start_span(name=("a", "b")) as root, \
            autolog.start_span(name=42, span_type=("T",)):  # type: ignore[arg-type]
        pass
    spans = _stored(root.trace_id).data.spans
    assert [(s.name, s.span_type) for s in spans] == [("('a', 'b')", "UNKNOWN"), ("42", "('T',)")]


def test_a_traced_function_with_a_non_str_name_is_stored() -> None:
    @autolog.trace(name=("x", 1))  # type: ignore[call-overload]
    def f() -> int:
        return 1

    assert f() == 1
    assert _stored(autolog.get_last_active_trace_id()).data.spans[0].name == "('x', 1)"


@pytest.mark.parametrize("bad", [2**70, -(2**63) - 1, 1.5, "1700000000000000000", True, None.__class__])
def test_an_explicit_start_time_that_cannot_be_stored_is_a_clear_error(bad: Any, store: autolog.Client) -> None:
    client = store
    with pytest.raises(autolog.InvalidArgumentError, match="start_time_ns"):
        client.start_trace("t", start_time_ns=bad)
    root = client.start_trace("ok")
    with pytest.raises(autolog.InvalidArgumentError, match="start_time_ns"):
        client.start_span("child", root.trace_id, root.span_id, start_time_ns=bad)
    with pytest.raises(autolog.InvalidArgumentError, match="end_time_ns"):
        client.end_trace(root.trace_id, end_time_ns=bad)
    client.end_trace(root.trace_id)  # the trace is still usable after the rejected calls
    stored = _stored(root.trace_id)
    assert [s.name for s in stored.data.spans] == ["ok"] and stored.info.state == "OK"


def test_good_and_coerced_traces_of_one_batch_are_all_stored() -> None:
    ids = []
    for i in range(20):
        with autolog.start_span(f"good-{i}") as span:
            pass
        ids.append(span.trace_id)
        if i == 10:
            with autolog.start_span(name=object()) as odd:  # type: ignore[arg-type]
                pass
            ids.append(odd.trace_id)
    assert autolog.flush(5) is True
    assert autolog.stats()["dropped"] == 0
    assert len(autolog.search_traces(return_type="list", max_results=100)) == 21
    assert autolog.get_trace(ids[11]).data.spans[0].name.startswith("<object object at 0x")
