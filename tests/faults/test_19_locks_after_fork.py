"""Item 19: no lock of the tracing side is inherited held by a forked child.

A lock that one of the parent's threads holds at ``fork()`` stays held forever in the
child (that thread does not exist there): the child's first internal-error report,
integration switch, experiment selection or LangChain/LlamaIndex callback hung. Every such
lock is now made anew in the child. A real fork, in a subprocess: a parent thread holds
every lock while the main thread forks; the child uses each one with a deadline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, os, sys, threading
    import autolog
    from autolog._tracing import guard, patching, versions
    import integrations.langchain as lc
    import integrations.llama_index as li

    autolog.configure(sys.argv[1])
    model = autolog.create_external_model(name="m")
    handler = lc.get_handler()
    li.get_handlers()
    lc.autolog()
    held = {
        "guard": lambda: guard._lock,
        "patching.states": lambda: patching._STATES_LOCK,
        "patching.state": lambda: patching.get_state("langchain").lock,
        "versions.experiment": lambda: versions._experiment_lock,
        "versions.scoped": lambda: versions._scoped_lock,
        "langchain.handler": lambda: lc._handler_lock,
        "langchain.runs": lambda: handler.core._lock,
        "llama_index.handlers": lambda: li._handlers_lock,
        "llama_index.spans": lambda: li._spans.lock,
    }
    # What the child does with each lock: public calls where there is one.
    uses = {
        "guard": lambda: guard.report_internal_error("child", ValueError("x")),
        "patching.states": lambda: patching.get_state("other"),
        "patching.state": lambda: lc.autolog(disable=True),
        "versions.experiment": lambda: versions.select_experiment("0"),
        "versions.scoped": lambda: versions.activate(model),
        "langchain.handler": lc.get_handler,
        "langchain.runs": lambda: handler.core._lock.acquire(),
        "llama_index.handlers": li.get_handlers,
        "llama_index.spans": lambda: li._spans.lock.acquire(),
    }
    locks = {name: get() for name, get in held.items()}
    holding, never = threading.Event(), threading.Event()
    def hold():
        for lock in locks.values():
            lock.acquire()
        holding.set()
        never.wait()
    threading.Thread(target=hold, daemon=True).start()
    holding.wait(10)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        done = set()
        def run(name):
            uses[name]()
            done.add(name)
        workers = [threading.Thread(target=run, args=(n,), daemon=True) for n in uses]
        for t in workers:
            t.start()
        for t in workers:
            t.join(3)
        os.write(w, json.dumps(sorted(set(uses) - done)).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.waitpid(pid, 0)
    print(data.decode())
    os._exit(0)
""")


def test_a_forked_child_can_take_every_lock(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path / 'store.db'}"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [], f"still held in the child: {out.stdout}"
