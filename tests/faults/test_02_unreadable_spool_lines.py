"""Item 2: an unreadable spool line or file never stops the replay of the others.

One file with a line that is not UTF-8 (a kill -9 in the middle of a large non-ASCII write
leaves one) made the whole scan raise, in every later process; a directory named
``*.jsonl`` did the same. Now replay reads line by line: each unreadable line is
quarantined with the reason and counted, the readable ones are stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import autolog
from tests.faults.spools import quarantined, spool_line, stored_ids, write_spool


def test_unreadable_lines_are_quarantined_and_everything_else_is_stored(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    spool_dir = Path(str(db) + ".spool")
    cut = (json.dumps(spool_line(2, "ünïcødé " * 50), ensure_ascii=False) + "\n").encode()[:-300]
    write_spool(spool_dir / "100-a.jsonl", [spool_line(0), b"\xff\xfe not utf-8 \x80\n", spool_line(1)])
    write_spool(spool_dir / "100-b.jsonl", [spool_line(3), b'{"not": "a record"}\n', spool_line(4), cut])
    write_spool(spool_dir / "100-c.jsonl", [spool_line(5, "ünïcødé")])
    (spool_dir / "100-d.jsonl").mkdir()  # a directory with a spool file's name
    client = autolog.configure(f"sqlite:///{db}")
    assert client.flush(30)
    assert stored_ids(db) == [f"tr-{i:032x}" for i in (0, 1, 3, 4, 5)]
    reasons = sorted(e["reason"].split(":")[0] for e in quarantined(spool_dir))
    assert reasons == ["not JSON", "not UTF-8", "not a trace record"]
    assert autolog.stats()["quarantined"] == 3 and autolog.stats()["replayed"] == 5
    assert sorted(p.name for p in spool_dir.glob("*.jsonl")) == ["100-d.jsonl"]  # the directory is left alone
    assert client.get_trace(f"tr-{5:032x}").data.spans[0].inputs == {"i": 5, "text": "ünïcødé"}
