"""Ids and timestamps of new entities (LoggedModels, assessments)."""

from __future__ import annotations

import random
import time

__all__ = ["new_assessment_id", "new_model_id", "now_ms"]


def new_model_id() -> str:
    return f"m-{random.getrandbits(128):032x}"


def new_assessment_id() -> str:
    return f"a-{random.getrandbits(128):032x}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000
