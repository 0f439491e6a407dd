"""Fixtures of the export tests: a loopback OTLP receiver, and a client exporting to the store and to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import autolog
from tests.export.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def otlp_client(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[autolog.Client]:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout-agent")
    client = autolog.configure(f"sqlite:///{tmp_path / 'both.db'}", schedule_delay_millis=20,
                               otlp_endpoint=receiver.url, otlp_headers={"x-api-key": "k1"})
    yield client
    # Back to a store alone, so the OTLP pipeline stops here (its receiver stops with the test).
    autolog.configure(f"sqlite:///{tmp_path / 'after.db'}", schedule_delay_millis=20)
