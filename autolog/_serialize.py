"""Safe JSON of arbitrary Python objects.

Runs on the export worker, never on the application thread. ``to_jsonable`` never
raises: anything it cannot represent becomes a readable string. The fast path is the
standard library encoder with a ``default`` hook; only objects the encoder refuses
(cycles, non-str dict keys, NaN-free requirement aside) take the slower walk.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import json
import math
import pathlib
import uuid
from collections.abc import Callable, Iterator, Mapping, MappingView, Sequence, Set
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

__all__ = ["TRUNCATION_MARKER", "dumps", "safe_str", "to_jsonable", "truncate"]

TRUNCATION_MARKER = "...[truncated by autolog: {omitted} of {total} characters omitted]"
_MAX_DEPTH = 32
_MAX_ITEMS = 10_000
_BYTES_INLINE = 1024


def _default(obj: Any) -> Any:
    """Hook for ``json.dumps``: one level of conversion; the encoder recurses. Never raises."""
    try:
        return _convert(obj)
    except Exception:  # noqa: BLE001 - a user's __getattr__, model_dump, to_dict... that raises
        return _readable(obj)


def _convert(obj: Any) -> Any:
    # pydantic v2, then v1
    dump = getattr(obj, "model_dump", None)
    if callable(dump) and not isinstance(obj, type):
        try:
            # warnings=False: SDK models sometimes hold values their schema does not declare
            # (base64 embeddings in a list[float] field); serializing them must stay silent.
            return dump(mode="json", warnings=False)
        except TypeError:
            return dump()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    if isinstance(obj, (set, frozenset)):
        items = list(obj)
        try:
            items.sort()
        except TypeError:
            pass
        return items
    if isinstance(obj, tuple):
        return list(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raw = bytes(obj)
        if len(raw) <= _BYTES_INLINE:
            return {"type": "bytes", "base64": base64.b64encode(raw).decode("ascii")}
        return f"<{len(raw)} bytes>"
    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (decimal.Decimal,)):
        return float(obj)
    if isinstance(obj, (uuid.UUID, pathlib.PurePath)):
        return str(obj)
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars, torch tensors
    if callable(tolist) and type(obj).__module__.split(".")[0] in ("numpy", "torch", "pandas", "jax"):
        size = getattr(obj, "size", None)
        if isinstance(size, int) and size > _MAX_ITEMS:
            return f"<{type(obj).__name__} shape={getattr(obj, 'shape', '?')} dtype={getattr(obj, 'dtype', '?')}>"
        return tolist()
    to_dict = getattr(obj, "to_dict", None) or getattr(obj, "dict", None)
    if callable(to_dict) and not isinstance(obj, type):
        try:
            result = to_dict()
            if isinstance(result, Mapping):
                return dict(result)
        except Exception:  # noqa: BLE001 - any failure falls back to repr
            pass
    if isinstance(obj, Mapping):
        return dict(obj)
    # Only containers that can be iterated again: an object with __iter__ and __len__ may
    # still be a one-shot stream, and exporting it must not empty it under the user.
    if isinstance(obj, (Sequence, Set, MappingView)) and not isinstance(obj, (str, type, Iterator)):
        try:
            return list(obj)  # type: ignore[arg-type]  # MappingView is iterable; typeshed's union is not
        except Exception:  # noqa: BLE001
            pass
    return _readable(obj)


def _readable(obj: Any) -> str:
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break tracing
        return _unprintable(obj, "repr")
    return text if type(text) is str else _unprintable(obj, "repr")


def _unprintable(obj: Any, how: str) -> str:
    return f"<{type(obj).__module__}.{type(obj).__qualname__} object ({how} failed)>"


def safe_str(value: Any) -> str:
    """``str(value)`` as an exact str; a readable stand-in if the user's ``__str__`` raises. Never raises."""
    if type(value) is str:
        return value
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a user's __str__ must not break tracing
        return _unprintable(value, "str")
    return text if type(text) is str else str.__str__(text)


class JsonText(str):
    """Text that already is the JSON of a value, stored as is.

    Integrations turn an SDK response into its JSON on the application thread (pydantic's
    compiled encoder: a few µs) instead of keeping the response object alive until the
    export worker runs: a kept object graph survives into the garbage collector's oldest
    generation and makes the whole process pay for full collections.
    """

    __slots__ = ()


def json_of_model(obj: Any) -> Any:
    """A pydantic model as ``JsonText``; anything else (or a model that fails to encode) unchanged."""
    try:
        serializer = getattr(obj, "__pydantic_serializer__", None)
    except Exception:  # noqa: BLE001 - a user's __getattr__ that raises: not a model
        return obj
    if serializer is not None and not isinstance(obj, type):
        try:
            # What model_dump_json() does, without its Python-level argument handling (0.5 µs).
            return JsonText(serializer.to_json(obj, warnings=False).decode())
        except Exception:  # noqa: BLE001 - the worker's general path will manage
            return obj
    return obj


def to_jsonable(obj: Any) -> Any:
    """Return a structure of dict/list/str/int/float/bool/None equivalent to ``obj``. Never raises."""
    if type(obj) is JsonText:
        return json.loads(obj)
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    try:
        return json.loads(_encode(obj))
    except Exception:  # noqa: BLE001 - cycles, NaN, str-unfriendly keys: take the careful walk
        return _careful(obj)


def _careful(obj: Any) -> Any:
    try:
        return _walk(obj, 0, set())
    except Exception:  # noqa: BLE001 - a user's Mapping whose items() raises...: keep a readable stand-in
        return _readable(obj)


def _walk(obj: Any, depth: int, seen: set[int]) -> Any:
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if depth >= _MAX_DEPTH:
        return f"<max depth {_MAX_DEPTH} reached: {type(obj).__name__}>"
    oid = id(obj)
    if oid in seen:
        return f"<cycle: {type(obj).__name__}>"
    seen.add(oid)
    try:
        if isinstance(obj, Mapping):
            out: dict[str, Any] = {}
            for i, (k, v) in enumerate(obj.items()):
                if i >= _MAX_ITEMS:
                    out["..."] = f"<{len(obj) - i} more items>"
                    break
                out[k if isinstance(k, str) else _readable(k) if not isinstance(k, (int, float, bool)) else str(k)] = (
                    _walk(v, depth + 1, seen))
            return out
        if isinstance(obj, (list, tuple)):
            return [_walk(v, depth + 1, seen) for v in obj[:_MAX_ITEMS]]
        try:
            converted = _default(obj)
        except Exception:  # noqa: BLE001
            return _readable(obj)
        if converted is obj or isinstance(converted, str):
            return converted if isinstance(converted, str) else _readable(obj)
        return _walk(converted, depth + 1, seen)
    finally:
        seen.discard(oid)


def truncate(text: str, max_chars: int | None) -> str:
    """Cut ``text`` to about ``max_chars`` characters, ending with an explicit marker."""
    if max_chars is None or len(text) <= max_chars:
        return text
    keep = max(max_chars, 0)
    return text[:keep] + TRUNCATION_MARKER.format(omitted=len(text) - keep, total=len(text))


def _make_encoder() -> Callable[[Any], str]:
    """JSON with ``_default`` (``json.dumps`` layout), from one C encoder built once.

    ``json.dumps(obj, default=...)`` builds a new encoder on every call (2 µs of its 3 µs on
    a chat request). The encoder is built without the cycle check (``markers=None``): a
    cyclic structure raises RecursionError, and ``dumps`` then takes the careful walk.
    """
    if c_make_encoder is None:  # an interpreter without the C accelerator
        encoder = json.JSONEncoder(default=_default, allow_nan=False, ensure_ascii=False, separators=(", ", ": "))
        return encoder.encode
    chunks = c_make_encoder(None, _default, encode_basestring, None, ": ", ", ", False, False, False)
    return lambda obj: "".join(chunks(obj, 0))


_encode = _make_encoder()
_CONTAINERS = frozenset((dict, list, tuple))


def dumps(obj: Any, max_chars: int | None = None) -> str:
    """JSON text of ``obj`` (see ``to_jsonable``), truncated to ``max_chars`` with a marker. Never raises."""
    # SDK responses are pydantic models: pydantic's own (compiled) JSON encoder is several
    # times faster than dumping to Python objects and encoding those.
    if type(obj) not in _CONTAINERS:
        obj = json_of_model(obj)
        if type(obj) is JsonText:
            return truncate(str(obj), max_chars)
    try:
        text = _encode(obj)
    except Exception:  # noqa: BLE001
        text = json.dumps(_careful(obj), ensure_ascii=False)
    return truncate(text, max_chars)
