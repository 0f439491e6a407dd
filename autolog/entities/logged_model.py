"""LoggedModels: the versions of an application, with MLflow's field names."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LoggedModel", "LoggedModelStatus", "Metric"]


class LoggedModelStatus:
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


@dataclass
class Metric:
    """One metric value, as ``mlflow.entities.Metric`` (a LoggedModel's ``metrics`` are a list of these)."""

    key: str
    value: float
    timestamp: int = 0
    step: int = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    run_id: str | None = None


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
    # MLflow's shape: a list of Metric. A {key: value} dict is accepted too.
    metrics: list[Metric] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.metrics, dict):
            self.metrics = [Metric(k, float(v), self.last_updated_timestamp, 0, self.model_id)
                            for k, v in self.metrics.items()]

    @property
    def metric_values(self) -> dict[str, float]:
        """The metrics as ``{key: value}`` (the last value of each key)."""
        return {m.key: m.value for m in self.metrics}

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    @property
    def creation_time(self) -> int:
        return self.creation_timestamp
