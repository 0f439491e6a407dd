"""Inputs and outputs of any Python object are captured safely, with an explicit size cap."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from typing import Any

import pydantic
import pytest

import autolog
from autolog._serialize import TRUNCATION_MARKER, dumps, to_jsonable


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Message(pydantic.BaseModel):
    role: str
    content: str


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Plain:
    def __repr__(self) -> str:
        return "Plain()"


def test_common_objects_become_readable_json() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    value = {
        "model": Message(role="user", content="hi"), "point": Point(1, 2), "bytes": b"\x00\x01",
        "big_bytes": b"x" * 5000, "set": {3, 1, 2}, "tuple": (1, "a"), "when": datetime.datetime(2025, 1, 2, 3, 4, 5),
        "color": Color.RED, "id": uuid.UUID(int=1), "plain": Plain(), "cycle": cyclic, "nan": float("nan"),
        "broken": Unprintable(), 3: "int key",
    }
    out = to_jsonable(value)
    json.dumps(out, allow_nan=False)  # strictly valid JSON
    assert out["model"] == {"role": "user", "content": "hi"}
    assert out["point"] == {"x": 1, "y": 2}
    assert out["bytes"] == {"type": "bytes", "base64": "AAE="}
    assert out["big_bytes"] == "<5000 bytes>"
    assert out["set"] == [1, 2, 3] and out["tuple"] == [1, "a"]
    assert out["when"] == "2025-01-02T03:04:05" and out["color"] == "red"
    assert out["id"] == "00000000-0000-0000-0000-000000000001" and out["plain"] == "Plain()"
    assert out["cycle"] == [1, "<cycle: list>"]
    assert out["nan"] == "nan"
    assert "repr failed" in out["broken"]
    assert out["3"] == "int key"


def test_size_cap_truncates_with_an_explicit_marker() -> None:
    text = dumps("x" * 1000, max_chars=100)
    assert text.startswith('"xxxx') and len(text) < 200
    assert text.endswith(TRUNCATION_MARKER.format(omitted=902, total=1002))


def test_span_content_cap_keeps_stored_json_valid(store: autolog.Client) -> None:
    client = autolog.configure(store.tracking_uri, max_content_chars=50)

    @autolog.trace
    def big(data: str) -> dict[str, str]:
        return {"echo": data}

    big("y" * 500)
    assert client.flush()
    (span,) = autolog.search_traces(return_type="list")[0].data.spans
    assert isinstance(span.inputs, str) and span.inputs.startswith('{"data": "yyy')
    assert "truncated by autolog" in span.inputs
    assert "truncated by autolog" in span.outputs


def test_objects_that_defeat_json_never_break_the_call() -> None:
    class Weird:
        def __iter__(self) -> Any:
            raise RuntimeError("not iterable after all")

        def __len__(self) -> int:
            return 1

        def __repr__(self) -> str:
            return "Weird()"

    @autolog.trace
    def f(w: Weird) -> Weird:
        return w

    w = Weird()
    assert f(w) is w
    (span,) = autolog.search_traces(return_type="list")[0].data.spans
    assert span.inputs == {"w": "Weird()"} and span.outputs == "Weird()"


@pytest.mark.parametrize("value", [None, 1, 1.5, "s", True, [1, 2], {"a": [1, {"b": None}]}])
def test_plain_json_values_round_trip(value: Any) -> None:
    assert to_jsonable(value) == value
    assert json.loads(dumps(value)) == value


def test_json_of_a_pydantic_model_is_stored_as_is_and_reads_back_equal() -> None:
    import pydantic

    from autolog._serialize import JsonText, json_of_model, to_jsonable

    class Reply(pydantic.BaseModel):
        text: str
        tokens: list[int]

    frozen = json_of_model(Reply(text="hi", tokens=[1, 2]))
    assert type(frozen) is JsonText
    assert dumps(frozen) == '{"text":"hi","tokens":[1,2]}'
    assert to_jsonable(frozen) == {"text": "hi", "tokens": [1, 2]}
    assert json_of_model({"not": "a model"}) == {"not": "a model"}  # anything else is left alone
