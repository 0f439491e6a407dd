"""LoggedModels: the versions of an application, with MLflow's field names."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LoggedModel", "LoggedModelStatus"]


class LoggedModelStatus:
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass
class LoggedModel:
    """One version of an application (MLflow's LoggedModel). ``params`` are str→str.

    The timestamps are milliseconds since the epoch; the last update moves with tags,
    params and status.
    """

    model_id: str  # m-<32 hex>
    name: str
    experiment_id: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str = LoggedModelStatus.READY
    model_type: str | None = None
    source_run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    @property
    def creation_time(self) -> int:
        return self.creation_timestamp
