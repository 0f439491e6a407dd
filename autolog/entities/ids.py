"""Ids and timestamps of new entities (LoggedModels, assessments).

From the operating system's randomness, never from the ``random`` module: an application
that calls ``random.seed(N)`` would otherwise get the same ids on every run and overwrite
its own models and feedback in a shared store.
"""

from __future__ import annotations

import secrets
import time

__all__ = ["new_assessment_id", "new_model_id", "new_run_id", "now_ms"]


def new_model_id() -> str:
    return f"m-{secrets.token_hex(16)}"


def new_assessment_id() -> str:
    return f"a-{secrets.token_hex(16)}"


def new_run_id() -> str:
    return secrets.token_hex(16)  # MLflow's run ids are 32 hex digits


def now_ms() -> int:
    return time.time_ns() // 1_000_000
