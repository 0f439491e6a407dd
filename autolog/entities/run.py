"""Runs: one evaluation (or any ``start_run()`` block), as MLflow's ``Run`` with ``info`` and ``data``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Run", "RunData", "RunInfo", "RunStatus"]


class RunStatus:
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = ("RUNNING", "FINISHED", "FAILED", "KILLED")


@dataclass
class RunInfo:
    """Who and when: ids, status, times (ms), and for an evaluation the version and the dataset it used."""

    run_id: str
    experiment_id: str
    run_name: str | None
    status: str
    start_time: int
    end_time: int | None = None
    model_id: str | None = None  # the LoggedModel evaluated
    dataset_id: str | None = None
    dataset_name: str | None = None
    dataset_version: int | None = None  # the exact version of the dataset the run used
    dataset_digest: str | None = None

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass
class RunData:
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)
