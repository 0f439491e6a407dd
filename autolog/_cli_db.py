"""``autolog db text-index [--drop]``: maintenance of a shared PostgreSQL store that is not part of its schema."""

from __future__ import annotations

import argparse
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog._store.stores import is_postgres_uri, open_store


def add_command(sub: Any, tracking_help: str) -> None:
    db = sub.add_parser("db", help="maintain a PostgreSQL store (the trace.text index)",
                        description="Maintenance of a PostgreSQL store beyond its schema (which autolog migrates "
                                    "itself).")
    actions = db.add_subparsers(dest="action", metavar="{text-index}", title="sub-commands", required=True)
    index = actions.add_parser(
        "text-index", help="create (or --drop) the trigram index trace.text searches use",
        description="Create the pg_trgm index of span contents, so that trace.text LIKE/ILIKE '%%...%%' and RLIKE "
                    "searches for rare phrases read the index instead of every span (about 0.3 s -> 0.05 s over "
                    "1,000,000 traces). It costs the server about 2.5x the CPU per span written, so it is not "
                    "made by default. Built CONCURRENTLY: writers go on meanwhile.")
    index.add_argument("--tracking-uri", default=None, metavar="URI", help=tracking_help)
    index.add_argument("--drop", action="store_true", help="drop the index instead")


def run(args: argparse.Namespace, uri: str) -> int:
    if not is_postgres_uri(uri):
        raise InvalidArgumentError(f"autolog db {args.action} works on a PostgreSQL store, and {uri!r} is SQLite: "
                                   "there trace.text searches read the spans (no index to make)")
    store = open_store(uri)
    try:
        changed = store.set_text_index(present=not args.drop)
    finally:
        store.close()
    what = "dropped" if args.drop else "created"
    print(f"text index {what}" if changed else f"text index already {'absent' if args.drop else 'there'}")
    return 0
