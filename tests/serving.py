"""Loopback servers for tests and benchmarks: a free port, and an ASGI app served by uvicorn in a thread
(as ``autolog ui`` serves it: one worker)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the caller binds it next; a race with another process is unlikely)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """``app`` served by uvicorn in a daemon thread until ``stop()`` (or the end of a ``with`` block);
    ``url`` is its loopback address. Raises RuntimeError if uvicorn has not started within ``start_timeout``."""

    def __init__(self, app: Any, start_timeout: float = 20.0) -> None:
        import uvicorn

        self.app = app
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + start_timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
