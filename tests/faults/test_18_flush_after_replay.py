"""Item 18: flush() returns only once replayed spool files are stored and deleted.

Replay read and parsed spool files under the pipeline's condition lock, which the
application's thread needs to hand a trace over, and ``flush()`` could return between the
write of replayed records and the deletion of their file (that race made a burst test
flaky). Files are now claimed under the spool's own lock, read outside any lock the
application takes, and counted as being replayed until they are deleted.
"""

from __future__ import annotations

from pathlib import Path

import autolog
from tests.faults.spools import spool_line, stored_ids, write_spool


def test_overflow_to_the_spool_is_stored_and_deleted_when_flush_returns(tmp_path: Path) -> None:
    db = tmp_path / "burst.db"
    spool_dir = Path(str(db) + ".spool")
    client = autolog.configure(f"sqlite:///{db}", max_queue_size=4)  # most of the burst overflows to the spool
    for round_ in range(5):
        for i in range(300):
            with autolog.start_span(f"r{round_}") as span:
                span.set_inputs({"i": i})
        assert client.flush(30)
        assert not list(spool_dir.glob("*.jsonl")), f"round {round_}: flush() returned before the spool was replayed"
        assert len(stored_ids(db)) == 300 * (round_ + 1)
    assert autolog.stats()["spooled"] > 0 and autolog.stats()["replayed"] == autolog.stats()["spooled"]


def test_traces_handed_over_during_a_large_replay_are_all_stored(tmp_path: Path) -> None:
    db = tmp_path / "replay.db"
    write_spool(Path(str(db) + ".spool") / "999995-dead.jsonl", [spool_line(i) for i in range(20_000)])
    client = autolog.configure(f"sqlite:///{db}")
    for i in range(500):  # the worker starts (and replays) at the first hand-over
        with autolog.start_span("live") as span:
            span.set_inputs({"i": i})
    assert client.flush(60)
    assert not list(Path(str(db) + ".spool").glob("*.jsonl"))
    assert len(stored_ids(db)) == 20_500
