"""Trace-search parity with MLflow: the same filter strings against the same traces in MLflow and autolog.

    python bench/mlflow_parity.py [--mlflow-python PY] [--json PATH] [--write-golden]

The traces are tests/mlflow_compat/parity_data.py's; the filter strings (and order_by lists) are
bench/mlflow_parity_filters.txt's. Two subprocesses build the data and run every search, one with
MLflow (``--mlflow-python``: default ``$MLFLOW_PYTHON``, else a venv made under
.nox/mlflow-control with ``mlflow==3.17.2``) and one with autolog (this interpreter), each in a
temporary sqlite store. Results are compared as sets of the traces' ``idx`` tags (as ordered lists
for the order_by section); a search that raises is compared as "an error", not by its message.

``--write-golden`` writes tests/mlflow_compat/data/parity_expected.json (MLflow's answers and
version), which tests/mlflow_compat/test_mlflow_parity.py checks autolog against without MLflow.
The exit status is non-zero only when something crashes, never for a difference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "tests" / "mlflow_compat"
FILTERS = ROOT / "bench" / "mlflow_parity_filters.txt"
GOLDEN = DATA_DIR / "data" / "parity_expected.json"
CONTROL_VENV = ROOT / ".nox" / "mlflow-control"
MLFLOW_VERSION = "3.17.2"
ORDER_BY_SECTION = "[order_by]"
MAX_RESULTS = 1000

Answer = Any  # a list of idx (sorted for filters, in result order for order_by) or {"error": "..."}


def read_filters(path: Path) -> tuple[list[str], list[str]]:
    """The filter strings and the order_by lines ("terms | filter") of ``path``, in file order, without repeats."""
    filters: list[str] = []
    order_bys: list[str] = []
    section = filters
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == ORDER_BY_SECTION:
            section = order_bys
            continue
        if line not in section:
            section.append(line)
    return filters, order_bys


def split_order_by(line: str) -> tuple[list[str], str | None]:
    """``"name ASC, timestamp_ms DESC | tags.env = 'prod'"`` → (["name ASC", "timestamp_ms DESC"], filter)."""
    terms, _, filter_string = line.partition("|")
    return [t.strip() for t in terms.split(",") if t.strip()], filter_string.strip() or None


def _error(exc: BaseException) -> dict[str, str]:
    message = " ".join(str(exc).split())
    return {"error": f"{type(exc).__name__}: {message[:300]}"}


# -- the worker: runs inside the MLflow or the autolog interpreter -------------------------------------------------
def _setup(lib_name: str, workdir: Path) -> Any:
    uri = f"sqlite:///{workdir / (lib_name + '.db')}"
    if lib_name == "mlflow":
        os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"  # assessments need the trace stored first
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import logging

        import mlflow

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("parity")
        return mlflow
    os.environ["AUTOLOG_RAISE_INTERNAL_ERRORS"] = "1"
    import autolog

    autolog.configure(uri, schedule_delay_millis=20)
    autolog.set_experiment("parity")
    return autolog


def _search(lib: Any, filter_string: str | None, order_by: list[str] | None, ordered: bool) -> Answer:
    try:
        traces = lib.search_traces(filter_string=filter_string, order_by=order_by, max_results=MAX_RESULTS,
                                   return_type="list")
        found = [int(t.info.tags["idx"]) for t in traces]
    except Exception as exc:  # noqa: BLE001 - every rejection is an answer
        return _error(exc)
    return found if ordered else sorted(found)


def run_worker(lib_name: str, filters_path: Path, out: Path) -> None:
    sys.path.insert(0, str(DATA_DIR))
    import parity_data

    filters, order_bys = read_filters(filters_path)
    with tempfile.TemporaryDirectory(prefix=f"parity-{lib_name}-") as tmp:
        lib = _setup(lib_name, Path(tmp))
        started = time.perf_counter()
        parity_data.build_traces(lib)
        if lib_name == "mlflow":
            lib.flush_trace_async_logging()
        else:
            lib.flush()
        built = time.perf_counter() - started
        answers = {f: _search(lib, f, None, ordered=False) for f in filters}
        ordered = {line: _search(lib, split_order_by(line)[1], split_order_by(line)[0], ordered=True)
                   for line in order_bys}
        version = lib.__version__
    out.write_text(json.dumps({"library": lib_name, "version": version, "build_seconds": round(built, 2),
                               "filters": answers, "order_by": ordered}, indent=1), encoding="utf-8")


# -- the driver ---------------------------------------------------------------------------------------------------
def control_python() -> str:
    """An interpreter with MLflow: a venv under .nox/mlflow-control, made (with pip) if missing."""
    python = CONTROL_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CONTROL_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True,
                           text=True, check=False)
    if probe.stdout.strip() != MLFLOW_VERSION:
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_VERSION}"], check=True)
    return str(python)


def _run(python: str, lib_name: str, filters_path: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / f"{lib_name}.json"
    cmd = [python, str(Path(__file__).resolve()), "--worker", lib_name, "--filters", str(filters_path),
           "--out", str(out)]
    # A fixed hash seed: MLflow's error messages list sets, and the golden file should not churn.
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"})
    if proc.returncode != 0 or not out.exists():
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"the {lib_name} worker failed (exit {proc.returncode}): {' '.join(cmd)}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def compare(mlflow_answers: dict[str, Answer], autolog_answers: dict[str, Answer], ordered: bool) -> dict[str, Any]:
    """Per filter, one of: both reject, MLflow rejects (autolog accepts), autolog rejects, differ, match."""
    report: dict[str, Any] = {"mlflow_rejects": {}, "autolog_rejects": {}, "differs": {}, "matches": [],
                              "both_reject": []}
    for key, expected in mlflow_answers.items():
        actual = autolog_answers[key]
        if isinstance(expected, dict):
            if isinstance(actual, dict):
                report["both_reject"].append(key)
            else:
                report["mlflow_rejects"][key] = {"mlflow": expected["error"], "autolog": actual}
        elif isinstance(actual, dict):
            report["autolog_rejects"][key] = actual["error"]
        elif actual == expected:
            report["matches"].append(key)
        else:
            diff: dict[str, Any] = {"mlflow_only": sorted(set(expected) - set(actual)),
                                    "autolog_only": sorted(set(actual) - set(expected))}
            if ordered and set(actual) == set(expected):
                diff = {"order": {"mlflow": expected, "autolog": actual}}
            report["differs"][key] = diff
    return report


def summary(report: dict[str, Any], total: int) -> str:
    accepted = total - len(report["mlflow_rejects"]) - len(report["both_reject"])
    return (f"{total} filters: MLflow accepts {accepted}; autolog rejects {len(report['autolog_rejects'])}, "
            f"differs {len(report['differs'])}, matches {len(report['matches'])}; MLflow rejects "
            f"{total - accepted} (autolog also rejects {len(report['both_reject'])}, "
            f"accepts {len(report['mlflow_rejects'])})")


def golden_text(ml: dict[str, Any]) -> str:
    """MLflow's answers as JSON, one filter a line (diffs stay readable)."""
    def section(answers: dict[str, Answer]) -> str:
        return ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in answers.items())
    return (f'{{"mlflow_version": {json.dumps(ml["version"])},\n "filters": {{\n{section(ml["filters"])}\n }},\n'
            f' "order_by": {{\n{section(ml["order_by"])}\n }}\n}}\n')


def _print_section(title: str, report: dict[str, Any]) -> None:
    print(f"\n== {title}")
    for key, error in report["autolog_rejects"].items():
        print(f"  autolog rejects  {key}\n      {error}")
    for key, diff in report["differs"].items():
        print(f"  differs          {key}\n      {json.dumps(diff)}")
    for key, both in report["mlflow_rejects"].items():
        print(f"  MLflow rejects   {key}\n      MLflow: {both['mlflow']}; autolog: {both['autolog']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow-python", default=os.environ.get("MLFLOW_PYTHON"),
                        help="an interpreter with mlflow installed (default $MLFLOW_PYTHON, else .nox/mlflow-control)")
    parser.add_argument("--autolog-python", default=sys.executable)
    parser.add_argument("--filters", type=Path, default=FILTERS)
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--write-golden", action="store_true", help=f"write {GOLDEN.relative_to(ROOT)}")
    parser.add_argument("--worker", choices=["mlflow", "autolog"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args.worker, args.filters, args.out)
        return 0

    mlflow_python = args.mlflow_python or control_python()
    with tempfile.TemporaryDirectory(prefix="mlflow-parity-") as tmp:
        ml = _run(mlflow_python, "mlflow", args.filters, Path(tmp))
        al = _run(args.autolog_python, "autolog", args.filters, Path(tmp))
    filters = compare(ml["filters"], al["filters"], ordered=False)
    order_by = compare(ml["order_by"], al["order_by"], ordered=True)
    print(f"MLflow {ml['version']} (built in {ml['build_seconds']} s) vs autolog {al['version']} "
          f"(built in {al['build_seconds']} s)")
    _print_section("filters", filters)
    _print_section("order_by", order_by)
    print()
    print(summary(filters, len(ml["filters"])))
    print("order_by " + summary(order_by, len(ml["order_by"])))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"mlflow_version": ml["version"], "autolog_version": al["version"],
                                         "summary": summary(filters, len(ml["filters"])),
                                         "order_by_summary": summary(order_by, len(ml["order_by"])),
                                         "filters": filters, "order_by": order_by}, indent=1) + "\n",
                             encoding="utf-8")
    if args.write_golden:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(golden_text(ml), encoding="utf-8")
        print(f"wrote {GOLDEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
