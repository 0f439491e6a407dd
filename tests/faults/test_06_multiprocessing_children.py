"""Item 6: traces finished in multiprocessing children are stored, though the children never flush.

Children of ``multiprocessing`` end with ``os._exit()``, which skips ``atexit``: a ``Process``
child's traces were all lost, and so were what Pool workers still held. They now flush at their
exit, with every start method. A child that calls ``os._exit()`` itself is the documented limit: it must flush first.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.faults.spools import run_python

CHILDREN = """
import json, os, sys, multiprocessing as mp, autolog
autolog.configure(os.environ["FAULT_DB"])
def one(i, name):
    with autolog.start_span(name) as span:
        span.set_inputs({"i": i})
def work(i):
    one(i, "pool")
    return i
def process_main(n):
    for i in range(n):
        one(i, "process")
if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    pool = ctx.Pool(2)
    assert sum(pool.map(work, range(300))) == sum(range(300))
    pool.close()  # workers exit on their own (terminate()'s SIGTERM path is best effort: see the README)
    pool.join()
    children = [ctx.Process(target=process_main, args=(50,)) for _ in range(2)]
    for p in children: p.start()
    for p in children: p.join()
    print(json.dumps({"exit_codes": [p.exitcode for p in children]}))
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_children_traces_are_stored(tmp_path: Path, start_method: str) -> None:
    db = tmp_path / "mp.db"
    report = run_python(CHILDREN, start_method, env={"FAULT_DB": str(db)}, script=tmp_path / "children.py")
    assert report["exit_codes"] == [0, 0], "the flush at exit must not change how a child ends"
    with sqlite3.connect(db) as conn:
        counts = dict(conn.execute("SELECT name, COUNT(*) FROM traces GROUP BY name").fetchall())
    assert counts == {"pool": 300, "process": 100}
