"""The `ardiq` command: `ardiq run module:app` and `ardiq dead list|replay|delete`."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from ardiq.app import Ardiq
from ardiq.errors import ArdiqError


class CliError(Exception):
    """A problem the command reports in one line and exits 1 for."""


def load_app(spec: str) -> Ardiq[Any]:
    """Imports `module:attribute` (the current directory is importable)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise CliError(f"expected MODULE:APP, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(f"cannot import module {module_name!r}: {exc}") from exc
    app = getattr(module, attribute, None)
    if not isinstance(app, Ardiq):
        raise CliError(f"{spec!r} is not an Ardiq app")
    return app


def parse_queues(text: str | None, app: Ardiq[Any]) -> dict[str, int] | None:
    """`emails,default` or `emails=3,default=1`: the queues to consume and
    their weights (1 when not given); unknown names are an error that lists
    the app's queues."""
    if text is None:
        return None
    weights: dict[str, int] = {}
    for part in (piece.strip() for piece in text.split(",")):
        name, _, weight = part.partition("=")
        if not name:
            raise CliError(f"--queues {text!r}: empty queue name")
        try:
            weights[name] = int(weight) if weight else 1
        except ValueError:
            raise CliError(f"--queues {text!r}: weight of {name!r} is not an int") from None
    unknown = [name for name in weights if name not in app.queues]
    if unknown:
        raise CliError(f"unknown queue {unknown[0]!r}: the app's queues are {', '.join(app.queues)}")
    return weights


async def _run(args: argparse.Namespace) -> None:
    app = load_app(args.app)
    queues = parse_queues(args.queues, app)
    if args.burst:
        # A one-off drain says at once that Redis is unreachable; a worker
        # waits for it instead (up to a minute, saying why), so one started
        # while Redis restarts runs.
        await app.ping()
    await app.run_worker(
        queues=queues,
        burst=args.burst,
        concurrency=args.concurrency,
        sync_concurrency=args.sync_concurrency,
        process_concurrency=args.process_concurrency,
        grace_s=args.grace,
        visibility_ms=args.visibility_ms,
        max_deliveries=args.max_deliveries,
        prefetch=args.prefetch,
        heartbeat_ms=args.heartbeat_ms,
        journal=args.journal or False,
        handle_signals=True,
    )


async def _dead(args: argparse.Namespace) -> None:
    app = load_app(args.app)
    await app.ping()
    if args.action == "list":
        letters = await app.dead_letters(count=args.count)
        for d in letters:
            when = datetime.fromtimestamp(d.dead_ms / 1000, UTC).isoformat(timespec="seconds")
            print(f"{d.entry_id}\t{when}\t{d.job_id or '-'}\t{d.task or '-'}\t{d.reason}\t{d.detail}")
        print(f"{len(letters)} dead letters", file=sys.stderr)
    elif args.action == "replay":
        for entry_id in args.entry_ids:
            job = await app.replay_dead_letter(entry_id)
            print(f"{entry_id}\t{'replayed as job ' + job.id if job else 'not found'}")
    else:
        removed = await app.delete_dead_letters(args.entry_ids)
        print(f"{removed} dead letters deleted")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ardiq", description="ArdiQ: a task queue on Redis streams.")
    top.add_argument("--log-level", default=os.environ.get("ARDIQ_LOG_LEVEL", "INFO"))
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a worker for MODULE:APP")
    run.add_argument("app", metavar="MODULE:APP")
    run.add_argument("--burst", action="store_true", help="drain the queues, then exit 0")
    run.add_argument(
        "--queues",
        help="queues to consume, with weights: emails=3,default=1 (default: every queue of the app's tasks)",
    )
    run.add_argument("--concurrency", type=int, default=100, help="most jobs at once (default 100)")
    run.add_argument(
        "--sync-concurrency", type=int, help="threads for sync tasks (default: concurrency, at most 32)"
    )
    run.add_argument(
        "--process-concurrency", type=int, help="child processes for process=True tasks (default: CPU count)"
    )
    run.add_argument("--grace", type=float, default=30.0, help="seconds to finish running jobs on SIGTERM")
    run.add_argument(
        "--visibility-ms", type=int, default=30_000, help="idle ms before a dead worker's job is reclaimed"
    )
    run.add_argument("--max-deliveries", type=int, default=3, help="deliveries before a job is dead-lettered")
    run.add_argument(
        "--prefetch", type=int, help="jobs fetched ahead of free slots (default: as many as concurrency)"
    )
    run.add_argument(
        "--heartbeat-ms",
        type=int,
        default=5_000,
        help="ms between heartbeats; a worker silent for 3 of them is taken as gone (default 5000)",
    )
    run.add_argument(
        "--journal",
        nargs="?",
        type=int,
        const=10_000,
        metavar="ENTRIES",
        help="keep a journal of job events per queue for app.events() (capped at ENTRIES, default 10000)",
    )
    dead = commands.add_parser("dead", help="list, replay or delete dead letters of MODULE:APP's queue")
    dead.add_argument("action", choices=["list", "replay", "delete"])
    dead.add_argument("app", metavar="MODULE:APP")
    dead.add_argument("entry_ids", nargs="*", metavar="ENTRY_ID")
    dead.add_argument("--count", type=int, default=100)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_run(args) if args.command == "run" else _dead(args))
    except (CliError, ArdiqError, ValueError) as exc:
        print(f"ardiq: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.command == "run":
        # Every result is stored by now. A sync task past the grace period may
        # still hold a thread that cannot be stopped; do not wait for it.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
