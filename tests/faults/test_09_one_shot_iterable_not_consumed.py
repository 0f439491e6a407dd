"""Item 9: exporting a span never iterates a user's object that iteration may consume.

An object with ``__iter__`` and ``__len__`` (a stream that knows its length) was turned
into a list by the serializer on the export worker: the user's object was empty afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import autolog


class Stream:
    """Yields its items once, like a network stream or a file that knows its size."""

    def __init__(self, items: list[int]) -> None:
        self._items = list(items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[int]:
        while self._items:
            yield self._items.pop(0)

    def __repr__(self) -> str:
        return f"Stream(len={len(self._items)})"


def test_a_one_shot_iterable_is_left_intact_and_stored_readably() -> None:
    @autolog.trace
    def take(stream: Stream) -> Stream:
        return stream

    stream = Stream([1, 2, 3])
    assert take(stream) is stream
    assert autolog.flush(5) is True
    assert list(stream) == [1, 2, 3]  # still all there after the export
    span = autolog.get_trace(autolog.get_last_active_trace_id()).data.spans[0]  # type: ignore[arg-type]
    assert span.inputs == {"stream": "Stream(len=3)"} and span.outputs == "Stream(len=3)"


def test_real_containers_are_still_stored_as_lists() -> None:
    with autolog.start_span("s") as span:
        span.set_inputs({"keys": {"a": 1}.keys(), "range": range(3), "frozen": frozenset({2, 1})})
    assert autolog.flush(5) is True
    assert autolog.get_trace(span.trace_id).data.spans[0].inputs == {"keys": ["a"], "range": [0, 1, 2],
                                                                      "frozen": [1, 2]}
