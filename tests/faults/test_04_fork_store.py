"""Item 4: a child forked while the parent's export worker is inside SQLite uses the store at once.

SQLite keeps the lock state of every open file in process memory; a child forked while a
connection of the parent was in a transaction inherited that state and saw its own new
connections as locked out ("database is locked"), so its traces only reached the store
late, through the spool. The fork now waits for the store's calls in flight, and the child
closes what it inherited before it opens connections of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHILDREN = 8

# The parent's worker writes big batches without pause, so most forks land inside a write.
SCRIPT = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    import autolog
    autolog.configure(sys.argv[1], schedule_delay_seconds=0.001)
    def busy():
        i = 0
        while True:
            with autolog.start_span("parent") as span:
                span.set_inputs({"blob": "x" * 5000, "i": i})
            i += 1
    threading.Thread(target=busy, daemon=True).start()
    time.sleep(0.3)
    for k in range(int(sys.argv[2])):
        time.sleep(0.03)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            signal.alarm(10)  # a child stuck on an inherited lock reports nothing, and the test says so
            started = time.monotonic()
            with autolog.start_span("child") as span:
                span.set_inputs({"k": k})
            flushed = autolog.flush(4)
            found = autolog.search_traces(filter_string=f"trace_id = '{span.trace_id}'",
                                          return_type="list") if flushed else []
            report = {"flushed": flushed, "found": len(found), "stats": autolog.stats(),
                      "seconds": round(time.monotonic() - started, 2)}
            os.write(w, json.dumps(report).encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as pipe:
            print(pipe.read() or json.dumps({"stuck": True}), flush=True)
        os.waitpid(pid, 0)
    os._exit(0)
""")


def test_children_forked_during_a_write_store_their_traces_directly(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path / 'fork.db'}", str(CHILDREN)],
                         env=env, capture_output=True, text=True, timeout=120)
    reports = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == CHILDREN, out.stderr[-2000:]
    late = [r for r in reports if "stuck" in r or not (r["flushed"] and r["found"] == 1 and r["stats"]["spooled"] == 0
                                       and r["stats"]["internal_errors"] == 0)]
    assert late == [], f"{len(late)} of {CHILDREN} children could not use the store within 4 s: {late}"
