"""Command line: ``autolog demo``, ``autolog traces list|search|show`` (a table of traces and how many match,
or one trace as a tree; plain ``autolog traces`` lists), ``autolog versions list|compare`` and ``autolog runs
compare`` (in ``_cli_compare``), ``autolog ui`` (in ``_cli_ui``),
``autolog db text-index`` (in ``_cli_db``)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import autolog
from autolog import _cli_compare, _cli_db, _cli_ui
from autolog._client import Client, get_default_client, resolve_tracking_uri
from autolog._errors import AutologError, ResourceDoesNotExist, StoreError
from autolog._store.sqlite_io import path_from_uri
from autolog._store.stores import is_postgres_uri
from autolog.entities import keys
from autolog.entities.span import Span
from autolog.entities.trace import Trace, TraceInfo


def _short(value: object, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[:width - 3] + "..."


def _print_tree(trace: Trace, names: dict[str, str]) -> None:
    info = trace.info
    print(f"trace {info.trace_id}  state={info.state}  duration={info.execution_duration} ms")
    for key in ("mlflow.modelId", "mlflow.trace.user", "mlflow.trace.session", "mlflow.trace.tokenUsage"):
        if key in info.trace_metadata:
            value = info.trace_metadata[key]
            named = f" ({names[value]})" if key == keys.MODEL_ID and names.get(value, value) != value else ""
            print(f"  {key} = {value}{named}")
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
    if is_postgres_uri(uri):  # a server's database: opening it says clearly if it is missing or unreachable
        return
    path = path_from_uri(uri)
    if not path.is_file():
        where = ("--tracking-uri" if tracking_uri else
                 "$AUTOLOG_TRACKING_URI" if os.environ.get("AUTOLOG_TRACKING_URI") else
                 "$MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "the default")
        what = "a directory, not a store file" if path.is_dir() else "no such file"
        raise StoreError(f"no store at {path} ({what}; tracking URI {uri!r} from {where}): check the URI, or "
                         "trace something there first", path, what)


TRACKING_HELP = "the store (default: $AUTOLOG_TRACKING_URI, else $MLFLOW_TRACKING_URI, else sqlite:///autolog.db)"
DEFAULT_MAX_RESULTS = 20
_TRACES_EPILOG = """examples:
  autolog traces list --filter "status = 'ERROR'"
  autolog traces search --filter "execution_time_ms > 10" --order-by "execution_time_ms DESC"
  autolog traces show tr-0123456789abcdef0123456789abcdef"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _add_listing_options(parser: argparse.ArgumentParser, given_only: bool) -> None:
    """The options of a listing. ``given_only``: the sub-commands ``list``/``search`` set only what is given on
    them, so ``autolog traces --filter X list`` keeps the filter given before the sub-command."""
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if given_only else value

    parser.add_argument("--tracking-uri", default=default(None), metavar="URI", help=TRACKING_HELP)
    parser.add_argument("--filter", default=default(None), help="MLflow filter string, e.g. \"tags.env = 'prod'\" "
                                                                "(default: every trace)")
    parser.add_argument("--order-by", action="append", default=default(None), metavar="ORDER",
                        help="e.g. 'execution_time_ms DESC'; repeat for ties (default: the newest first)")
    parser.add_argument("--max-results", type=_positive_int, default=default(DEFAULT_MAX_RESULTS), metavar="N",
                        help=f"traces listed at most (default: {DEFAULT_MAX_RESULTS})")
    parser.add_argument("--experiment-id", action="append", default=default(None), metavar="ID",
                        help="only this experiment's traces; repeatable (default: every experiment)")
    parser.add_argument("--model-id", default=default(None), metavar="ID",
                        help="only this version's traces, a LoggedModel id m-... (default: every version)")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print MLflow trace JSON, one trace per line (default: a table)")


def _add_traces(sub: Any) -> None:
    traces = sub.add_parser("traces", help="list/search traces, or show one as a tree",
                            description="List the traces (the newest first; search them with --filter), or show "
                                        "one as a tree.\nWithout a sub-command: the same as 'list'.",
                            epilog=_TRACES_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_listing_options(traces, given_only=False)
    actions = traces.add_subparsers(dest="action", metavar="{list,search,show}", title="sub-commands")
    listing = actions.add_parser("list", aliases=["search"],
                                 help="a table of the traces and how many match ('search': the same)",
                                 description="A table of the traces that match (the newest first), and how many "
                                             "match. 'search' is the same command.")
    _add_listing_options(listing, given_only=True)
    show = actions.add_parser("show", help="one trace as a tree of spans",
                              description="One trace as a tree of spans, with inputs, outputs and tokens.")
    show.add_argument("trace_id", metavar="TRACE_ID", help="the trace's id (tr-...)")
    show.add_argument("--tracking-uri", default=argparse.SUPPRESS, metavar="URI", help=TRACKING_HELP)
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                      help="print the trace's MLflow JSON (default: a tree)")


def build_parser() -> argparse.ArgumentParser:
    """The ``autolog`` command's parser (every sub-command's options)."""
    parser = argparse.ArgumentParser(prog="autolog", description="Tracing and version tracking for GenAI apps.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,traces,versions,runs,ui,db}")
    demo = sub.add_parser("demo", help="run a small instrumented app on the embedded store and summarise it",
                          description="Run a small instrumented support bot on the embedded store, evaluate two "
                                      "versions of it and summarise what was recorded.")
    demo.add_argument("--tracking-uri", default="sqlite:///autolog-demo.db", metavar="URI",
                      help="the store to record into (default: sqlite:///autolog-demo.db)")
    demo.add_argument("--traces-per-version", type=_positive_int, default=24, metavar="N",
                      help="traces recorded for each of the two versions (default: 24)")
    _add_traces(sub)
    _cli_compare.add_commands(sub, TRACKING_HELP)
    _cli_ui.add_command(sub, TRACKING_HELP)
    _cli_db.add_command(sub, TRACKING_HELP)
    return parser


def _version_names(client: Client, traces: list[Trace]) -> dict[str, str]:
    """The name of each version the traces name, read once per version; its id when the LoggedModel is gone."""
    names: dict[str, str] = {}
    for t in traces:
        model_id = t.info.trace_metadata.get(keys.MODEL_ID)
        if model_id and model_id not in names:
            try:
                names[model_id] = client.get_logged_model(model_id).name or model_id
            except ResourceDoesNotExist:
                names[model_id] = model_id
    return names


def _row(info: TraceInfo, names: dict[str, str]) -> list[str]:
    when = datetime.datetime.fromtimestamp(info.request_time / 1000, datetime.timezone.utc)
    tokens = (info.token_usage or {}).get("total_tokens")
    model_id = info.trace_metadata.get(keys.MODEL_ID)
    tags = {k: v for k, v in info.tags.items() if not k.startswith("mlflow.")}
    return [info.trace_id, f"{when:%Y-%m-%d %H:%M:%S}", info.state, str(info.execution_duration or 0),
            "" if tokens is None else str(tokens), _short(info.tags.get(keys.TRACE_NAME_TAG, ""), 24),
            _short(names.get(model_id, "") if model_id else "", 34),  # an id (the fallback) is 34 wide
            _short(json.dumps(tags), 40) if tags else ""]


def _print_table(traces: list[Trace], names: dict[str, str]) -> None:
    header = ["trace_id", "time (UTC)", "state", "ms", "tokens", "name", "version", "tags"]
    print(_cli_compare.table(header, [_row(t.info, names) for t in traces], right={3, 4}))


def _criteria(args: argparse.Namespace) -> str:
    """The listing's criteria, as the options that gave them."""
    given = [f"--filter {json.dumps(args.filter)}" if args.filter else "",
             f"--model-id {args.model_id}" if args.model_id else "",
             *(f"--experiment-id {e}" for e in args.experiment_id or [])]
    return " ".join(g for g in given if g)


def _footer(shown: int, total: int, args: argparse.Namespace) -> str:
    if total == 0:
        criteria = _criteria(args)
        return f"no traces match {criteria}" if criteria else "no traces match: the store has none"
    if shown < total:
        return f"{shown} of {total} traces (--max-results N for more)"
    return f"{total} trace{'' if total == 1 else 's'}"


def _list(args: argparse.Namespace) -> int:
    client = get_default_client()
    # every experiment unless --experiment-id (autolog.search_traces would search the active one)
    found = client.search_traces(experiment_ids=args.experiment_id, filter_string=args.filter,
                                 max_results=args.max_results, order_by=args.order_by, model_id=args.model_id)
    if args.json:
        for t in found:
            print(t.to_json())
        return 0
    if found:
        _print_table(found, _version_names(client, found))
    # No next page: the page is the whole answer. Else a COUNT (a trace deleted meanwhile: never under the page).
    total = len(found) if found.token is None else max(len(found), client.count_traces(
        experiment_ids=args.experiment_id, filter_string=args.filter, model_id=args.model_id))
    print(_footer(len(found), total, args))
    return 0


def _show(args: argparse.Namespace) -> int:
    client = get_default_client()
    trace = client.get_trace(args.trace_id)  # raises for an unknown id
    if args.json:
        print(trace.to_json(pretty=True))
    else:
        _print_tree(trace, _version_names(client, [trace]))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from autolog._demo import run_demo

        return run_demo(args.tracking_uri, args.traces_per_version)
    _require_store(args.tracking_uri)
    if args.command == "db":
        return _cli_db.run(args, resolve_tracking_uri(args.tracking_uri))
    if args.command == "ui":
        return _cli_ui.run(args)
    autolog.configure(args.tracking_uri)
    if args.command in ("versions", "runs"):
        return _cli_compare.run(args)
    return _show(args) if args.action == "show" else _list(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except AutologError as exc:
        print(f"autolog: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours. Point stdout at /dev/null so the interpreter's
        # final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
