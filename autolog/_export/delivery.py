"""Writing one batch to the exporter: retries, then bisection when the destination refuses records.

A destination either stores a batch, fails it for a reason that is about the destination
(a locked or full store, a newer schema, a dead server: the records wait in the spool),
or rejects it because of the records themselves (a constraint or type the store cannot
take). One bad record must not keep the other 511 of its batch out of the store, so a
rejected batch is split in halves and each half written again, down to single records:
the good ones are stored, the rejected ones are returned for the quarantine. With k bad
records in a batch of n this costs about 2·k·log2(n) extra writes, and nothing when every
record is good.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from autolog._export.exporter import Exporter, ExportResult, export_with_retries
from autolog._stats import DestinationCounters
from autolog._store.records import SET_FIELD, Record

__all__ = ["Delivery", "deliver"]


@dataclass
class Delivery:
    """How a batch went: how many records were stored, which were rejected, which wait for the destination."""

    stored: int = 0
    rejected: list[tuple[Record, str]] = field(default_factory=list)  # (record, why), for the quarantine
    unsent: list[Record] = field(default_factory=list)  # the destination failed: keep them for later
    error: BaseException | None = None  # the destination's last failure, if any records are unsent


def deliver(exporter: Exporter, records: list[Record], metadata_sets: dict[str, dict[str, str]],
            retry_timeout_seconds: float, counters: DestinationCounters | None = None) -> Delivery:
    """Write ``records``, retrying transient failures (counted in ``counters``) and bisecting rejected batches."""
    delivery = Delivery()
    if records:
        _write(lambda part: export_with_retries(exporter, part, _sets_of(part, metadata_sets), retry_timeout_seconds,
                                                counters), records, delivery)
    return delivery


def _sets_of(records: list[Record], metadata_sets: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    if len(metadata_sets) <= 1:
        return metadata_sets
    return {set_id: metadata_sets[set_id] for r in records if (set_id := r[SET_FIELD]) in metadata_sets}


def _write(send: Callable[[list[Record]], ExportResult], records: list[Record], delivery: Delivery) -> None:
    if delivery.unsent:
        # The destination already failed for its own reasons during this delivery: do not
        # hammer it with the other halves, keep them for later.
        delivery.unsent.extend(records)
        return
    result = send(records)
    if result.ok:
        delivery.stored += len(records)
    elif not result.rejected:
        delivery.unsent.extend(records)
        delivery.error = result.error
    elif len(records) == 1:
        delivery.rejected.append((records[0], _why(result.error)))
    else:
        half = len(records) // 2
        _write(send, records[:half], delivery)
        _write(send, records[half:], delivery)


def _why(error: BaseException | None) -> str:
    if error is None:
        return "rejected by the destination"
    cause = error.__cause__
    return f"{type(error).__name__}: {error}" + (f" (caused by {type(cause).__name__}: {cause})" if cause else "")
