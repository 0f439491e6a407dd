"""Run the README's Python blocks in order, in one namespace, as a reader pasting them into one session.

``python run_python_blocks.py blocks.json report.json``: ``blocks.json`` lists ``{"line", "code"}``;
each block is compiled with README.md's name and line numbers (a traceback points at the README line),
its printed output captured, and the traces it made (new trace ids, as MLflow JSON) written to the
report after ``autolog.flush()``. Exit status 1 (with the traceback on stderr) if a block raises.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback


def _all_traces() -> dict[str, str]:
    import autolog
    from autolog._client import get_default_client

    if not autolog.flush():
        raise RuntimeError("autolog.flush() returned False after a README block")
    # every experiment (autolog.search_traces would search only the active one)
    found = get_default_client().search_traces(experiment_ids=None, max_results=100_000)
    return {t.info.trace_id: t.to_json() for t in found}


def main(blocks_path: str, report_path: str) -> int:
    with open(blocks_path, encoding="utf-8") as f:
        blocks = json.load(f)
    namespace: dict[str, object] = {"__name__": "__main__"}
    report = []
    seen: dict[str, str] = {}
    status = 0
    for block in blocks:
        out = io.StringIO()
        code = compile("\n" * (block["line"] - 1) + block["code"], block["path"], "exec")
        try:
            with contextlib.redirect_stdout(out):
                exec(code, namespace)
        except BaseException:  # noqa: BLE001 (any failure of a block, SystemExit too, is reported with its line)
            sys.stderr.write(f"README block at line {block['line']} failed:\n{traceback.format_exc()}")
            status = 1
        now = _all_traces()
        report.append({"line": block["line"], "stdout": out.getvalue(),
                       "traces": [now[k] for k in now if k not in seen]})
        seen = now
        if status:
            break
    with open(report_path, "w", encoding="utf-8") as f:
        json.dump(report, f)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
