"""Frames between the application and its writer process: 4 bytes of length (little-endian), then ``marshal``.

Kept apart from ``writer_process`` so that importing autolog never imports the module the writer runs as ``__main__``.
"""

from __future__ import annotations

import marshal
import struct
from typing import IO, Any

__all__ = ["read_frame", "write_frame"]

_LENGTH = struct.Struct("<I")


def write_frame(out: IO[bytes], payload: bytes) -> None:
    """Write a whole frame (an unbuffered pipe may take part of it per call)."""
    view = memoryview(_LENGTH.pack(len(payload)) + payload)
    while view:
        written = out.write(view)
        view = view[written or 0:]
    out.flush()


def _read_exactly(source: IO[bytes], n: int) -> bytes | None:
    parts = []
    while n:
        data = source.read(n)
        if not data:  # closed (maybe mid-frame: a frame cut short is not a request)
            return None
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


def read_frame(source: IO[bytes]) -> Any:
    """The next frame's value; None when the stream closed."""
    header = _read_exactly(source, _LENGTH.size)
    if header is None:
        return None
    payload = _read_exactly(source, _LENGTH.unpack(header)[0])
    return None if payload is None else marshal.loads(payload)
