"""``autolog versions list|compare`` and ``autolog runs compare``: the comparisons on the command line."""

from __future__ import annotations

import argparse
import datetime
import math
from typing import Any

__all__ = ["add_commands", "run"]


def add_commands(sub: Any, tracking_help: str) -> None:
    versions = sub.add_parser("versions", help="list versions (LoggedModels), or compare them over their traces")
    vsub = versions.add_subparsers(dest="action", required=True)
    listing = vsub.add_parser("list", help="every version: name, id, created, traces, last trace")
    listing.add_argument("--tracking-uri", default=None, help=tracking_help)
    listing.add_argument("--experiment-id", default=None)
    compare = vsub.add_parser("compare", help="quality, latency, tokens, cost and errors of versions side by side")
    compare.add_argument("model_ids", nargs="+", metavar="MODEL_ID")
    compare.add_argument("--tracking-uri", default=None, help=tracking_help)
    compare.add_argument("--experiment-id", default=None)
    compare.add_argument("--filter", default=None, help="search_traces filter string, e.g. \"tags.env = 'prod'\"")
    compare.add_argument("--by", default=None, help="split each version by a tag or metadata key: tags.environment")
    compare.add_argument("--plot", default=None, metavar="OUT.png", help="also draw the comparison (matplotlib)")
    runs = sub.add_parser("runs", help="compare two evaluation runs row by row")
    rsub = runs.add_subparsers(dest="action", required=True)
    rcompare = rsub.add_parser("compare", help="paired tests of a candidate run against a baseline run")
    rcompare.add_argument("candidate", metavar="CANDIDATE_RUN_ID")
    rcompare.add_argument("baseline", metavar="BASELINE_RUN_ID")
    rcompare.add_argument("--tracking-uri", default=None, help=tracking_help)
    rcompare.add_argument("--confidence-level", type=float, default=0.95)
    rcompare.add_argument("--lower-is-better", action="append", default=[], metavar="SCORER")
    rcompare.add_argument("--fail-on-regression", action="store_true",
                          help="exit 1 if a scorer regressed (a CI gate)")


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


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
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
        print(_table(["model_id", "name", "created (UTC)", "traces", "last trace (UTC)"], rows))
        return 0
    if args.command == "versions":
        df = genai.compare_versions(args.model_ids, experiment_id=args.experiment_id, filter_string=args.filter,
                                    by=args.by)
        # One column per version: the metrics read down, the versions side by side.
        header = ["metric", *[f"{r['name']} ({r['model_id'][:10]})" + (f" {args.by}={r[args.by]}" if args.by else "")
                              for r in df.to_dict(orient="records")]]
        rows = [[str(column), *[_cell(v) for v in df[column].tolist()]] for column in df.columns
                if column not in ("model_id", "name", args.by)]
        print(_table(header, rows))
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
