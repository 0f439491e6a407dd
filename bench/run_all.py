"""Runs every benchmark scenario (each peer in its own interpreter) and writes the combined results.

Outputs: a table per scenario on stdout, ``bench/results/latest.json`` and the plot
``bench/results/overhead.png``. ``--quick`` runs small sizes: a smoke test of the harness,
not a measurement. Absolute times drift on shared machines; quote ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SCENARIOS = ["bench_openai.py", "bench_instructions.py", "bench_fluent.py", "bench_burst.py", "bench_search.py",
             "bench_memory.py", "bench_langchain.py", "bench_llama_index.py", "bench_faults.py", "bench_evaluate.py",
             "bench_compare.py", "bench_ui.py", "bench_team.py"]
PACKAGES = ["autolog-genai", "mlflow", "openai", "langchain-core", "llama-index-core",
            "openinference-instrumentation-openai",
            "openinference-instrumentation-langchain", "openinference-instrumentation-llama-index", "opentelemetry-sdk",
            "pydantic", "httpx", "fastapi", "uvicorn", "playwright"]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "machine": f"{platform.machine()}, {platform.system()}"}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    groups: list[tuple[str, dict[str, float]]] = []
    oa = results.get("bench_openai.py", {}).get("results", {})
    if oa:
        groups.append(("OpenAI call", {p: r["added_us"] for p, r in oa.items() if "added_us" in r and p != "plain"}))
    fl = results.get("bench_fluent.py", {}).get("results", {})
    if fl:
        groups.append(("@trace span", {p: r["us_per_root_span"] for p, r in fl.items()
                                       if "us_per_root_span" in r and p != "plain"}))
    for key, label in (("bench_langchain.py", "LangChain invoke"), ("bench_llama_index.py", "LlamaIndex query")):
        res = results.get(key, {}).get("results", {})
        if res:
            groups.append((label, {p: r["added_us"] for p, r in res.items() if "added_us" in r and p != "plain"}))
    peers = ["autolog", "openinference", "mlflow"]
    colors = {"autolog": "#2a9d8f", "openinference": "#e9c46a", "mlflow": "#e76f51"}
    width = 0.25
    for i, peer in enumerate(peers):
        xs = [g for g, (_, vals) in enumerate(groups) if peer in vals]
        ys = [groups[g][1][peer] for g in xs]
        left.bar([x + (i - 1) * width for x in xs], ys, width, label=peer, color=colors[peer])
    left.set_xticks(range(len(groups)), [g[0] for g in groups])
    left.set_yscale("log")
    left.set_ylabel("added µs per call (log scale)")
    left.set_title("Overhead per call (lower is better)")
    left.legend()
    burst = results.get("bench_burst.py", {}).get("results", {})
    names = [p for p in burst if "stored" in burst[p]]
    right.bar(names, [100 * burst[p]["stored"] / burst[p]["traces"] for p in names],
              color=[colors.get(p, "grey") for p in names])
    for j, p in enumerate(names):
        right.text(j, 2, f"{burst[p]['stored']}/{burst[p]['traces']}", ha="center", color="white")
    right.set_ylim(0, 105)
    right.set_ylabel("% of burst traces stored")
    right.set_title("Burst completeness (traces of 10 spans)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, metavar="SCRIPT",
                        help="run these scenarios only, keeping the others' results from latest.json")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    combined: dict[str, Any] = {"versions": versions(), "quick": args.quick}
    if args.only and (RESULTS / "latest.json").exists():
        combined = {**json.loads((RESULTS / "latest.json").read_text()), **combined}
    for script in args.only or SCENARIOS:
        path = HERE / script
        if not path.exists():
            print(f"== {script}: not present, skipped\n")
            continue
        print(f"== {script}", flush=True)
        out_json = RESULTS / f"{path.stem}.json"
        cmd = [sys.executable, str(path), "--json", str(out_json), *(["--quick"] if args.quick else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(HERE.parent))
        print("\n".join(proc.stdout.strip().splitlines()[:-1]))
        if proc.returncode != 0:
            print(f"failed: {proc.stderr.strip().splitlines()[-1:] }\n")
            continue
        combined[script] = json.loads(out_json.read_text())
        print()
    (RESULTS / "latest.json").write_text(json.dumps(combined, indent=2))
    plot(combined, RESULTS / "overhead.png")
    print(f"wrote {RESULTS / 'latest.json'} and {RESULTS / 'overhead.png'}")


if __name__ == "__main__":
    main()
