"""``autolog ui``: the web UI and REST API over a store, served by uvicorn (the ``server`` extra).

Loopback by default. Another ``--host`` exposes the store's traces (your users' prompts) to the network, so it
needs ``AUTOLOG_UI_TOKEN``; without one the server still starts (a team may front it with its own proxy) but
says loudly that anyone who reaches the port can read everything.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import Any

TOKEN_ENV = "AUTOLOG_UI_TOKEN"


def add_command(sub: Any, tracking_help: str) -> None:
    ui = sub.add_parser("ui", help="the web UI and REST API over a store (http://127.0.0.1:5000)",
                        description="Serve the web UI (traces, versions, evaluations, human review) and its JSON "
                                    "REST API (OpenAPI at /docs). With $AUTOLOG_UI_TOKEN set, every API request "
                                    "needs 'Authorization: Bearer <token>' (the UI asks for it once).")
    ui.add_argument("--tracking-uri", default=None, metavar="URI", help=tracking_help)
    ui.add_argument("--host", default="127.0.0.1",
                    help="address to bind (default: 127.0.0.1; another one wants $AUTOLOG_UI_TOKEN)")
    ui.add_argument("--port", type=int, default=5000, help="port to bind (default: 5000)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from autolog._server.app import create_app
    except ImportError as exc:  # fastapi or uvicorn missing
        print(f"autolog ui needs the server extra: pip install 'autolog-genai[server]' ({exc})", file=sys.stderr)
        return 2
    token = os.environ.get(TOKEN_ENV) or None
    if not _is_loopback(args.host) and token is None:
        print(f"autolog ui: WARNING: serving on {args.host} without ${TOKEN_ENV}: anyone who can reach port "
              f"{args.port} can read every trace. Set ${TOKEN_ENV} to require a bearer token.", file=sys.stderr)
    app = create_app(args.tracking_uri, token=token)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"autolog ui: http://{shown}:{args.port}/ (API docs at /docs){' - token required' if token else ''}",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
