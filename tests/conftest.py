"""Shared fixtures: every test gets its own store, and autolog's internal errors re-raise."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["AUTOLOG_RAISE_INTERNAL_ERRORS"] = "1"
for _key in ("AUTOLOG_ACTIVE_MODEL_ID", "MLFLOW_ACTIVE_MODEL_ID", "AUTOLOG_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_NAME",
             "AUTOLOG_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_ID", "AUTOLOG_TRACKING_URI", "MLFLOW_TRACKING_URI",
             "OPENAI_API_KEY"):
    os.environ.pop(_key, None)

import autolog  # noqa: E402
from autolog._stats import STATS  # noqa: E402
from autolog._tracing import versions as _versions  # noqa: E402

SHARED_CASSETTES = Path(__file__).resolve().parents[2] / "shared" / "acceptance" / "cassettes"


@pytest.fixture(autouse=True)
def store(tmp_path: Path) -> Iterator[autolog.Client]:
    """A fresh embedded store per test (also the default client), with a short export delay."""
    client = autolog.configure(f"sqlite:///{tmp_path / 'autolog.db'}", schedule_delay_millis=20)
    _versions._global_model_id = _versions._UNSET
    _versions._ACTIVE_MODEL_ID.set(_versions._UNSET)
    STATS.reset()
    yield client
    assert client.flush(10), f"teardown flush failed: {STATS.snapshot()}"
    assert STATS.snapshot()["dropped"] == 0, "a test lost traces"
