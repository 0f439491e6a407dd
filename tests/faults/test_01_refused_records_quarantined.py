"""Item 1, the pipeline's side: records the store refuses are bisected out and quarantined, never respooled.

A batch that failed for anything but a lock went to the spool whole, came back, failed again,
for ever: one bad record kept up to 511 good ones out of the store, ``flush()`` timed out and
every restart copied the spool. Now a refused batch is split until the refused records are
alone; the others are stored, the refused ones go to ``<db>.spool/quarantine/`` with the
reason, counted in ``stats()["quarantined"]``, and ``flush()`` says False (not everything is
stored). The refusals are real: a trigger in the store aborts inserts of chosen traces, and a
spool line with ``request_time: null`` breaks the store's NOT NULL constraint.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import autolog
from tests.faults.spools import quarantined, spool_line, spool_lines, stored_ids, write_spool


def _refuse_traces_named(db: Path, name: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON traces WHEN NEW.name = '{name}'"
                     " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")


def test_good_traces_of_a_refused_batch_are_stored_and_the_bad_ones_quarantined(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    client = autolog.configure(f"sqlite:///{db}", schedule_delay_seconds=5.0)  # one batch for everything
    with autolog.start_span("warm-up"):
        pass
    assert client.flush(10)
    _refuse_traces_named(db, "poison")
    names = ["ok"] * 300
    for i in (7, 150, 299):
        names[i] = "poison"
    for i, name in enumerate(names):
        with autolog.start_span(name) as span:
            span.set_inputs({"i": i})
    before = autolog.stats()
    assert client.flush(30) is False, "three traces will never be stored: flush() must not say True"
    after = autolog.stats()
    assert after["quarantined"] - before["quarantined"] == 3
    assert after["exported"] - before["exported"] == 297
    assert after["dropped"] == 0 and after["spooled"] == before["spooled"]
    traces = client.search_traces(max_results=1000)
    assert sorted(t.info.tags["mlflow.traceName"] for t in traces) == ["ok"] * 297 + ["warm-up"]
    entries = quarantined(Path(str(db) + ".spool"))
    assert sorted(e["record"]["name"] for e in entries) == ["poison"] * 3
    assert all("refused by the test" in e["reason"] and "IntegrityError" in e["reason"] for e in entries)
    assert spool_lines(Path(str(db) + ".spool")) == 0, "a refused record is never spooled again"
    with autolog.start_span("later"):
        pass
    assert client.flush(10), "later traces are stored and flush() is True again"


def test_a_spool_line_the_store_refuses_is_quarantined_once(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    spool_dir = Path(str(db) + ".spool")
    lines = [spool_line(i) for i in range(40)]
    lines[13] = spool_line(13, request_time=None)
    write_spool(spool_dir / "999999-dead.jsonl", lines)
    client = autolog.configure(f"sqlite:///{db}")
    assert client.flush(30), "the dead process's losses are not this process's: flush() stays True"
    assert len(stored_ids(db)) == 39
    assert autolog.stats()["quarantined"] == 1 and autolog.stats()["replayed"] == 39
    [entry] = quarantined(spool_dir)
    assert entry["record"]["trace_id"] == f"tr-{13:032x}" and "NOT NULL" in entry["reason"]
    assert not list(spool_dir.glob("*.jsonl")), "the replayed file is deleted"
    assert autolog.configure(f"sqlite:///{db}").flush(10)  # a restart finds nothing to copy or replay again
    assert len(quarantined(spool_dir)) == 1 and len(stored_ids(db)) == 39
