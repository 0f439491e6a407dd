"""Item 8: a value autolog cannot serialize is stored as a readable stand-in, never loses the trace.

An input whose ``__getattr__`` raises, ``span.add_event(None)`` and a span named ``object()``
each used to drop their trace, the last one with 20 unrelated traces of its batch.
"""

from __future__ import annotations

from typing import Any

import autolog


class Hostile:
    """Every attribute lookup the class does not define raises (a lazy proxy whose backend is gone)."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"backend gone ({name})")

    def __repr__(self) -> str:
        return "Hostile()"


def test_an_input_whose_getattr_raises_is_stored_readably() -> None:
    @autolog.trace
    def f(x: Any) -> Any:
        return x  # the object itself as the outputs, not inside a container

    value = Hostile()
    assert f(value) is value
    assert autolog.flush(5) is True
    span = autolog.get_trace(autolog.get_last_active_trace_id()).data.spans[0]  # type: ignore[arg-type]
    assert span.inputs == {"x": "Hostile()"} and span.outputs == "Hostile()"


def test_add_event_with_a_non_event_keeps_the_trace() -> None:
    with autolog.start_span("s") as span:
        span.add_event(None)  # type: ignore[arg-type]
        span.add_event("checkpoint")  # type: ignore[arg-type]
        span.add_event(autolog.SpanEvent("real", attributes={"k": 1}))
    assert autolog.flush(5) is True
    events = autolog.get_trace(span.trace_id).data.spans[0].events
    assert [e.name for e in events] == ["invalid_event", "checkpoint", "real"]
    assert events[0].attributes == {"autolog.event": "None", "autolog.event_type": "NoneType"}


def test_one_odd_span_does_not_take_its_batch_down() -> None:
    trace_ids = []
    for i in range(21):
        with autolog.start_span(object() if i == 7 else f"t{i}", span_type=object()) as span:  # type: ignore[arg-type]
            span.set_inputs(Hostile())
        trace_ids.append(span.trace_id)
    assert autolog.flush(5) is True
    assert autolog.stats()["dropped"] == 0
    assert sorted(t.info.trace_id for t in autolog.search_traces(return_type="list", max_results=100)) == sorted(
        trace_ids)
