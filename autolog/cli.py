"""Command line: ``autolog demo``, ``autolog traces`` (list/search, show one as a tree), ``autolog versions
list|compare`` and ``autolog runs compare`` (in ``_cli_compare``)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Sequence

import autolog
from autolog import _cli_compare
from autolog._client import get_default_client, resolve_tracking_uri
from autolog._errors import AutologError, StoreError
from autolog._store.sqlite_io import path_from_uri
from autolog.entities.span import Span
from autolog.entities.trace import Trace


def _print_table(traces: list[Trace]) -> None:
    print(f"{'trace_id':<36} {'time (UTC)':<19} {'state':<11} {'ms':>7}  {'name':<20} tags")
    for t in traces:
        info = t.info
        when = datetime.datetime.fromtimestamp(info.request_time / 1000, datetime.timezone.utc)
        tags = {k: v for k, v in info.tags.items() if not k.startswith("mlflow.")}
        print(f"{info.trace_id:<36} {when:%Y-%m-%d %H:%M:%S} {info.state:<11} {info.execution_duration or 0:>7}  "
              f"{info.tags.get('mlflow.traceName', ''):<20} {json.dumps(tags) if tags else ''}")


def _short(value: object, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[:width - 3] + "..."


def _print_tree(trace: Trace) -> None:
    info = trace.info
    print(f"trace {info.trace_id}  state={info.state}  duration={info.execution_duration} ms")
    for key in ("mlflow.modelId", "mlflow.trace.user", "mlflow.trace.session", "mlflow.trace.tokenUsage"):
        if key in info.trace_metadata:
            print(f"  {key} = {info.trace_metadata[key]}")
    if info.tags:
        print(f"  tags = {json.dumps(info.tags)}")
    children: dict[str | None, list[Span]] = {}
    for span in trace.data.spans:
        children.setdefault(span.parent_id, []).append(span)

    def show(span: Span, depth: int) -> None:
        pad = "  " * depth
        ms = "" if span.duration_ns is None else f"{span.duration_ns / 1e6:.1f} ms"
        status = "" if span.status.status_code == "OK" else f" [{span.status.status_code}: {span.status.description}]"
        print(f"{pad}- {span.name} ({span.span_type}) {ms}{status}")
        usage = span.attributes.get("mlflow.chat.tokenUsage")
        if usage:
            print(f"{pad}    tokens: {json.dumps(usage)}")
        if span.inputs is not None:
            print(f"{pad}    in:  {_short(span.inputs)}")
        if span.outputs is not None:
            print(f"{pad}    out: {_short(span.outputs)}")
        for child in children.get(span.span_id, []):
            show(child, depth + 1)

    for root in children.get(None, []):
        show(root, 1)


def _require_store(tracking_uri: str | None) -> None:
    """Refuse a store that does not exist: reading commands must not create one (or its directories)."""
    uri = resolve_tracking_uri(tracking_uri)
    path = path_from_uri(uri)
    if not path.is_file():
        where = ("--tracking-uri" if tracking_uri else
                 "$AUTOLOG_TRACKING_URI" if os.environ.get("AUTOLOG_TRACKING_URI") else
                 "$MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "the default")
        what = "a directory, not a store file" if path.is_dir() else "no such file"
        raise StoreError(f"no store at {path} ({what}; tracking URI {uri!r} from {where}): check the URI, or "
                         "trace something there first", path, what)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autolog", description="Tracing and version tracking for GenAI apps.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a small instrumented app on the embedded store and summarise it")
    demo.add_argument("--tracking-uri", default="sqlite:///autolog-demo.db")
    demo.add_argument("--traces-per-version", type=int, default=24)
    traces = sub.add_parser("traces", help="search traces, or show one as a tree")
    traces.add_argument("--tracking-uri", default=None, help="default: $AUTOLOG_TRACKING_URI or sqlite:///autolog.db")
    traces.add_argument("--filter", default=None, help="MLflow filter string, e.g. \"tags.env = 'prod'\"")
    traces.add_argument("--order-by", action="append", default=None, help="e.g. 'execution_time_ms DESC'")
    traces.add_argument("--max-results", type=int, default=20)
    traces.add_argument("--experiment-id", action="append", default=None)
    traces.add_argument("--model-id", default=None)
    traces.add_argument("--json", action="store_true", help="print MLflow trace JSON, one trace per line")
    traces.add_argument("show", nargs="*", metavar="show TRACE_ID", help="show one trace as a tree")
    _cli_compare.add_commands(sub, "default: $AUTOLOG_TRACKING_URI or sqlite:///autolog.db")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from autolog._demo import run_demo

        return run_demo(args.tracking_uri, args.traces_per_version)
    try:
        _require_store(args.tracking_uri)
        autolog.configure(args.tracking_uri)
        if args.command in ("versions", "runs"):
            return _cli_compare.run(args)
        if args.show:
            if args.show[0] != "show" or len(args.show) != 2:
                parser.error("use: autolog traces show TRACE_ID")
            trace = get_default_client().get_trace(args.show[1])  # raises for an unknown id
            print(trace.to_json(pretty=True)) if args.json else _print_tree(trace)
            return 0
        # every experiment unless --experiment-id (autolog.search_traces would search the active one)
        found = get_default_client().search_traces(experiment_ids=args.experiment_id, filter_string=args.filter,
                                                   max_results=args.max_results, order_by=args.order_by,
                                                   model_id=args.model_id)
    except AutologError as exc:
        print(f"autolog: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for t in found:
            print(t.to_json())
    else:
        _print_table(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
