"""`ardiq dashboard`: the dashboard served by uvicorn, on 127.0.0.1:8080
unless told otherwise. The socket is bound before the server starts, so a
port in use is one line and exit code 1, and `--port 0` takes a free port
(the first line printed names the address). It answers requests to
loopback names, to `--host`, and to each `--allowed-host`."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
from typing import Any

from ardiq.app import DEFAULT_URL
from ardiq.dashboard.display import redacted

LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: Addresses that listen on every interface: no one reaches the dashboard by them.
ANY_ADDRESS = ("0.0.0.0", "::", "")


def add_parser(commands: Any) -> None:
    """Adds `dashboard` to the `ardiq` command's subcommands."""
    from ardiq.cli import bounded  # the command's module imports this one

    parser: argparse.ArgumentParser = commands.add_parser(
        "dashboard",
        help="serve the web dashboard",
        description='Serve the web dashboard (needs "ardiq[dashboard]"): queues, jobs, workers, '
        "failed jobs and dead letters, updated live. Read-only unless --allow-actions.",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("ARDIQ_REDIS_URL") or DEFAULT_URL,
        help="the Redis URL (default: ARDIQ_REDIS_URL, else %(default)s)",
    )
    parser.add_argument(
        "--queue",
        dest="queues",
        action="extend",
        nargs="+",
        metavar="QUEUE",
        help="the queues to show (repeatable; default: every queue this Redis holds)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=bounded(0, 65535), default=8080, help="the port (default 8080; 0: any free port)"
    )
    parser.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name (or address) the dashboard answers to besides loopback and --host, like a "
        "reverse proxy's; repeatable; '*.example.com' for a domain's names. Other Host headers get 400",
    )
    parser.add_argument(
        "--allow-actions",
        action="store_true",
        help="offer replay, delete, abort and purge to people signed in with the token",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("ARDIQ_DASHBOARD_TOKEN") or None,
        help="the token actions need (default: ARDIQ_DASHBOARD_TOKEN, which keeps it out of the process "
        "list; with --allow-actions and no token one is made and printed)",
    )
    parser.add_argument(
        "--refresh", type=float, default=2.0, help="seconds between live updates of a page (default 2)"
    )


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound and listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OSError(f"cannot listen on {host}:{port}: {reason}") from None


def run(args: argparse.Namespace) -> int:
    """Serves until SIGINT or SIGTERM; the exit code."""
    try:
        import uvicorn

        from ardiq.dashboard import dashboard
    except ModuleNotFoundError as exc:
        print(
            f'ardiq: error: the dashboard needs {exc.name}: pip install "ardiq[dashboard]"', file=sys.stderr
        )
        return 1
    token = args.token
    made_token = args.allow_actions and not token
    if made_token:
        token = secrets.token_urlsafe(24)
    try:
        app = dashboard(
            args.url,
            queues=args.queues,
            allow_actions=args.allow_actions,
            token=token if args.allow_actions else None,
            refresh_s=args.refresh,
            allowed_hosts=[*([] if args.host in ANY_ADDRESS else [args.host]), *args.allowed_hosts],
        )
        server_socket = listen(args.host, args.port)
    except (OSError, ValueError) as exc:
        print(f"ardiq: error: {exc}", file=sys.stderr)
        return 1
    host, port = server_socket.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    mode = "actions allowed with the token" if args.allow_actions else "read-only"
    print(
        f"ardiq dashboard on http://{shown_host}:{port}/ ({mode}) for Redis {redacted(args.url)}", flush=True
    )
    if made_token:
        print(f"token (sign in with it to act): {token}", flush=True)
    if args.host not in LOOPBACK:
        print(
            f"warning: listening on {args.host}: anyone who reaches it can read the queues (no TLS here)",
            file=sys.stderr,
            flush=True,
        )
    if args.host in ANY_ADDRESS and not args.allowed_hosts:
        print(
            "warning: only requests to localhost are answered: name the hosts it is reached by with "
            "--allowed-host",
            file=sys.stderr,
            flush=True,
        )
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[server_socket])
    return 0
