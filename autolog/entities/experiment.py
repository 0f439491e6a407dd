"""Experiments: the folder traces and LoggedModels belong to (``0`` is the default one)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Experiment"]


@dataclass
class Experiment:
    experiment_id: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int = 0
