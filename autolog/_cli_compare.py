"""``autolog versions list|compare`` and ``autolog runs compare``: the comparisons on the command line."""

from __future__ import annotations

import argparse
import datetime
import math
from collections.abc import Collection
from typing import Any

__all__ = ["add_commands", "run", "table"]


def add_commands(sub: Any, tracking_help: str) -> None:
    versions = sub.add_parser("versions", help="list versions (LoggedModels), or compare them over their traces",
                              description="List the versions (LoggedModels), or compare versions over their traces.")
    vsub = versions.add_subparsers(dest="action", required=True, metavar="{list,compare}")
    listing = vsub.add_parser("list", help="every version: name, id, created, traces, last trace",
                              description="Every version: name, id, created, traces, last trace.")
    listing.add_argument("--tracking-uri", default=None, metavar="URI", help=tracking_help)
    listing.add_argument("--experiment-id", default=None, metavar="ID",
                         help="only this experiment's versions (default: every experiment)")
    compare = vsub.add_parser("compare", help="quality, latency, tokens, cost and errors of versions side by side",
                              description="Quality, latency, tokens, cost and errors of versions side by side.")
    compare.add_argument("model_ids", nargs="+", metavar="MODEL_ID", help="the versions' ids (m-...)")
    compare.add_argument("--tracking-uri", default=None, metavar="URI", help=tracking_help)
    compare.add_argument("--experiment-id", default=None, metavar="ID",
                         help="only this experiment's traces (default: every experiment)")
    compare.add_argument("--filter", default=None,
                         help="search_traces filter string, e.g. \"tags.env = 'prod'\" (default: every trace of "
                              "the versions)")
    compare.add_argument("--by", default=None, metavar="KEY",
                         help="split each version by a tag or metadata key: tags.environment (default: no split)")
    compare.add_argument("--plot", default=None, metavar="OUT.png",
                         help="also draw the comparison, with matplotlib (default: no plot)")
    runs = sub.add_parser("runs", help="compare two evaluation runs row by row",
                          description="Compare two evaluation runs row by row.")
    rsub = runs.add_subparsers(dest="action", required=True, metavar="{compare}")
    rcompare = rsub.add_parser("compare", help="paired tests of a candidate run against a baseline run",
                               description="Paired tests of a candidate evaluation run against a baseline run.")
    rcompare.add_argument("candidate", metavar="CANDIDATE_RUN_ID", help="the evaluation run to judge")
    rcompare.add_argument("baseline", metavar="BASELINE_RUN_ID", help="the evaluation run it is compared with")
    rcompare.add_argument("--tracking-uri", default=None, metavar="URI", help=tracking_help)
    rcompare.add_argument("--confidence-level", type=float, default=0.95, metavar="LEVEL",
                          help="of the paired tests' intervals (default: 0.95)")
    rcompare.add_argument("--lower-is-better", action="append", default=[], metavar="SCORER",
                          help="a scorer whose lower values are better; repeatable (default: none besides the "
                               "built-in latency and total_tokens scorers and the trace's latency, tokens, cost)")
    rcompare.add_argument("--fail-on-regression", action="store_true",
                          help="exit 1 if a scorer regressed, a CI gate (default: exit 0)")


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"{datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc):%Y-%m-%d %H:%M:%S}"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return str(value)


def table(header: list[str], rows: list[list[str]], right: Collection[int] = ()) -> str:
    """Columns as wide as their widest cell, a rule under the header; the columns numbered in ``right`` (numbers)
    are right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             .rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run a versions/runs command on the configured store; returns the exit code."""
    from autolog import genai
    from autolog._client import get_default_client
    from autolog._store.comparison import version_list

    if args.command == "versions" and args.action == "list":
        client = get_default_client()
        rows = [[m, name, _when(created), str(n), _when(last)]
                for m, name, created, n, last in version_list(client.store.connections, args.experiment_id)]
        print(table(["model_id", "name", "created (UTC)", "traces", "last trace (UTC)"], rows))
        return 0
    if args.command == "versions":
        df = genai.compare_versions(args.model_ids, experiment_id=args.experiment_id, filter_string=args.filter,
                                    by=args.by)
        # One column per version: the metrics read down, the versions side by side.
        header = ["metric", *[f"{r['name']} ({r['model_id'][:10]})" + (f" {args.by}={r[args.by]}" if args.by else "")
                              for r in df.to_dict(orient="records")]]
        rows = [[str(column), *[_cell(v) for v in df[column].tolist()]] for column in df.columns
                if column not in ("model_id", "name", args.by)]
        print(table(header, rows))
        if args.plot:
            from autolog.genai.comparison.plot import plot_versions

            drawn = plot_versions(args.model_ids, args.plot, experiment_id=args.experiment_id,
                                  filter_string=args.filter, by=args.by)
            print(f"plot: {drawn}")
        return 0
    result = genai.compare_evaluations(args.candidate, args.baseline, confidence_level=args.confidence_level,
                                       lower_is_better=args.lower_is_better)
    print(result.table())
    if args.fail_on_regression and result.regressions():
        print("autolog: regression: " + ", ".join(c.name for c in result.regressions()))
        return 1
    return 0
