"""``autolog.genai.datasets``: evaluation datasets, as ``mlflow.genai.datasets``, with immutable versions.

Unlike MLflow's open-source store, every change of a dataset's records makes a new version
that stays as it was: ``get_dataset(name, version=2)`` returns version 2's records and
digest whatever happened since. Records change through the dataset object::

    ds = create_dataset("qa")
    ds.merge_records([{"inputs": {"q": "2+2?"}, "expectations": {"answer": "4"}}])  # now version 1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autolog._client import get_default_client
from autolog._errors import InvalidArgumentError
from autolog.entities.dataset import DatasetRecord, EvaluationDataset

__all__ = ["DatasetRecord", "EvaluationDataset", "create_dataset", "delete_dataset", "delete_dataset_tag",
           "get_dataset", "search_datasets", "set_dataset_tags"]


def create_dataset(name: str, experiment_id: str | Sequence[str] | None = None,
                   tags: dict[str, Any] | None = None) -> EvaluationDataset:
    """Create an empty dataset (version 0) named ``name``, unique in the store.

    Args:
        experiment_id: an experiment id or a list of them; default the active experiment.
        tags: the dataset's tags (they describe it and change without making a version).

    Raises:
        InvalidArgumentError: the name is taken.
    """
    client = get_default_client()
    if experiment_id is None:
        experiment_ids = [client.current_experiment_id()]
    elif isinstance(experiment_id, (str, int)):
        experiment_ids = [str(experiment_id)]
    else:
        experiment_ids = [str(e) for e in experiment_id]
    return client.create_dataset(name, experiment_ids, tags)


def get_dataset(name: str | None = None, dataset_id: str | None = None,
                version: int | None = None) -> EvaluationDataset:
    """The dataset named ``name`` or with id ``dataset_id``, at ``version`` (default: the current one).

    Raises:
        ResourceDoesNotExist: no such dataset, or no such version of it.
    """
    return get_default_client().get_dataset(name, dataset_id, version)


def search_datasets(experiment_ids: str | Sequence[str] | None = None, filter_string: str | None = None,
                    max_results: int = 1000, order_by: list[str] | None = None) -> list[EvaluationDataset]:
    """Datasets (each at its current version), newest first unless ``order_by`` says otherwise.

    Args:
        experiment_ids: only datasets linked to one of these experiments.
        filter_string: e.g. ``"name LIKE 'qa_%'"``; fields ``name``, ``dataset_id``, ``created_time``,
            ``last_update_time`` and ``tags.<key>``, clauses joined by AND.
        order_by: e.g. ``["name ASC"]`` or ``["last_update_time DESC"]``.

    Raises:
        InvalidFilterError: a filter or order_by that does not parse or names another field.
    """
    ids = [experiment_ids] if isinstance(experiment_ids, str) else experiment_ids
    return get_default_client().search_datasets(ids, filter_string, max_results, order_by)


def delete_dataset(name: str | None = None, dataset_id: str | None = None) -> None:
    """Delete a dataset with all its versions, for good. Give its name or its id."""
    client = get_default_client()
    if (name is None) == (dataset_id is None):
        raise InvalidArgumentError("delete_dataset: give exactly one of name and dataset_id")
    client.delete_dataset(dataset_id if dataset_id is not None else client.get_dataset(name=name).dataset_id)


def set_dataset_tags(dataset_id: str, tags: dict[str, Any]) -> None:
    """Add or replace tags of a dataset (no new version: tags are not records)."""
    get_default_client().set_dataset_tags(dataset_id, tags)


def delete_dataset_tag(dataset_id: str, key: str) -> None:
    """Delete one tag. Raises ResourceDoesNotExist if the dataset or the tag is unknown."""
    get_default_client().delete_dataset_tag(dataset_id, key)
