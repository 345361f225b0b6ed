"""The `ardiq` command. `ardiq run MODULE:APP` runs a worker; the operator
commands need only a Redis URL and a queue (`--url`, `--queue`, or
`ARDIQ_REDIS_URL`, `ARDIQ_QUEUE`), never the application's module:
`info`, `queues`, `workers`, `jobs`, `job`, `failed`, `dead` and `purge`;
`dashboard` serves them as web pages (`ardiq.dashboard`).
Each prints a table for people, or JSON with `--json`; an error is one line
on stderr and exit code 1, an argument out of range a usage error (exit
code 2)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import enum
import importlib
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from ardiq import __version__, logs
from ardiq.app import DEFAULT_URL, Ardiq
from ardiq.dashboard import command as dashboard_command
from ardiq.errors import ArdiqError
from ardiq.inspect import ListedJob, ListState, QueueInfo


class CliError(Exception):
    """A problem the command reports in one line and exits 1 for."""


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse `type=`: an integer from `low` to `high`, else a usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range: it must be from {low} to {high}")
        return value

    return parse


def log_level(text: str) -> str:
    """An argparse `type=`: a logging level's name, in any case."""
    if text.upper() not in logging.getLevelNamesMapping() or text.upper() == "NOTSET":
        raise argparse.ArgumentTypeError(f"no log level {text!r}: DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return text.upper()


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


# -- output ----------------------------------------------------------------


def when(ms: int | None) -> str:
    """A time in ms as UTC ISO 8601 to the second, `-` for none."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def seconds(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f} s"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def plain(value: Any) -> Any:
    """Dataclasses, enums and tuples as JSON-ready values (bytes as hex)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "_asdict"):
        return plain(value._asdict())
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "items"):
        return {str(key): plain(item) for key, item in value.items()}
    return value


def emit(args: argparse.Namespace, value: Any, human: Callable[[], str]) -> None:
    print(json.dumps(plain(value), indent=2) if args.json else human())


# -- operator commands -----------------------------------------------------


def operator_app(args: argparse.Namespace) -> Ardiq[Any]:
    """The app the operator commands talk through: the URL and queue given,
    or those of `--app MODULE:APP` (or, for `dead`, the old positional)."""
    app_spec = getattr(args, "app", None)
    if app_spec:
        app = load_app(app_spec)
        if args.queue_given:
            return Ardiq(app.url, queue=args.queue)
        return app
    return Ardiq(args.url, queue=args.queue)


async def existing_queue(app: Ardiq[Any]) -> QueueInfo:
    """The queue's summary; `CliError` when the queue has no key at all."""
    info = await app.queue_info()
    if not info.exists:
        raise CliError(f"queue {app.queue!r} does not exist on this Redis (no key of it is there)")
    return info


async def cmd_info(args: argparse.Namespace, app: Ardiq[Any]) -> None:
    info = await existing_queue(app)
    workers = await app.workers()
    alive = sum(worker.alive for worker in workers)

    def human() -> str:
        lines = [
            f"queue {info.queue}",
            f"  waiting    {info.waiting}  (lag {seconds(info.lag_ms)})",
            f"  held       {info.held}  (running {info.running})",
            f"  scheduled  {info.scheduled}  (next due {when(info.next_due_ms)})",
            f"  failed     {info.failed}",
            f"  dead       {info.dead}",
            f"  workers    {alive} alive, {len(workers) - alive} gone",
            "",
            table(
                ["PRIORITY", "WAITING", "HELD", "OLDEST WAITING"],
                [
                    [level.priority, level.waiting, level.held, when(level.oldest_waiting_ms)]
                    for level in info.levels
                    if level.waiting or level.held
                ],
            ),
        ]
        return "\n".join(lines)

    emit(args, {"queue": info, "workers_alive": alive, "workers_gone": len(workers) - alive}, human)


async def cmd_queues(args: argparse.Namespace, app: Ardiq[Any]) -> None:
    names = await app.list_queues()
    infos = [await app.queue_info(name) for name in names]
    emit(
        args,
        infos,
        lambda: table(
            ["QUEUE", "WAITING", "HELD", "RUNNING", "SCHEDULED", "LAG", "FAILED", "DEAD", "WORKERS"],
            [
                [
                    i.queue,
                    i.waiting,
                    i.held,
                    i.running,
                    i.scheduled,
                    seconds(i.lag_ms),
                    i.failed,
                    i.dead,
                    i.workers,
                ]
                for i in infos
            ],
        ),
    )


async def cmd_workers(args: argparse.Namespace, app: Ardiq[Any]) -> None:
    await existing_queue(app)
    workers = await app.workers()
    emit(
        args,
        workers,
        lambda: table(
            [
                "WORKER",
                "STATE",
                "HOST",
                "PID",
                "QUEUES",
                "CONCURRENCY",
                "RUNNING",
                "COMPLETED",
                "FAILED",
                "STARTED",
                "SEEN",
            ],
            [
                [
                    w.worker_id,
                    "alive" if w.alive else "gone",
                    w.hostname or "-",
                    w.pid or "-",
                    ",".join(w.queues) or "-",
                    w.concurrency or "-",
                    w.running,
                    w.completed,
                    w.failed,
                    when(w.started_ms),
                    when(w.seen_ms),
                ]
                for w in workers
            ],
        ),
    )


def job_row(job: ListedJob) -> list[object]:
    error = f"{job.error.type}: {job.error.message}" if job.error else ""
    if job.state is ListState.RUNNING:
        detail = f"idle {seconds(job.idle_ms)}, {job.deliveries} deliveries" + (
            "" if job.in_running else ", handed back"
        )
    elif job.state is ListState.SCHEDULED:
        detail = f"attempt {job.job.attempt}" if job.job else ""
    elif job.malformed:
        detail = f"malformed: {job.malformed}"
    else:
        detail = job.reason + (": " if job.reason and error else "") + error
    return [
        job.entry_id or "-",
        job.job_id or "-",
        job.task or "-",
        job.priority,
        when(job.at_ms),
        job.worker_id or "-",
        detail,
    ]


JOB_HEADERS = ["ENTRY", "JOB", "TASK", "PRIORITY", "AT", "WORKER", "DETAIL"]


async def cmd_jobs(args: argparse.Namespace, app: Ardiq[Any]) -> None:
    await existing_queue(app)
    page = await app.jobs(args.state, count=args.count, cursor=args.cursor)

    def human() -> str:
        text = table(JOB_HEADERS, [job_row(job) for job in page.jobs])
        more = f"\nnext page: --cursor {shlex.quote(page.next)}" if page.next else ""
        return f"{text}\n{len(page.jobs)} {args.state} jobs{more}"

    emit(args, page, human)


async def cmd_job(args: argparse.Namespace, app: Ardiq[Any]) -> None:
    await existing_queue(app)
    details = await app.job_details(args.job_id)

    def human() -> str:
        lines = [f"job {args.job_id}: {details.status.value}"]
        if details.worker_id:
            lines.append(f"  worker     {details.worker_id}")
        if details.due_ms:
            lines.append(f"  due        {when(details.due_ms)}")
        if details.job:
            job = details.job
            lines += [
                f"  task       {job.task}",
                f"  args       {job.args!r}",
                f"  kwargs     {job.kwargs!r}",
                f"  priority   {job.priority}",
                f"  attempt    {job.attempt}",
                f"  enqueued   {when(job.enqueued_ms)}",
            ]
            lines += [f"  header     {name}: {value}" for name, value in job.headers.items()]
        record = details.record
        if record and record.finished_ms:
            lines += [
                f"  task       {record.task}",
                f"  attempts   {record.attempts}",
                f"  enqueued   {when(record.enqueued_ms)}",
                f"  started    {when(record.started_ms)}",
                f"  finished   {when(record.finished_ms)}",
                f"  worker     {record.worker_id or '-'}",
            ]
            if record.error:
                lines.append(f"  error      {record.error.type}: {record.error.message}")
                if record.error.traceback:
                    lines += ["", record.error.traceback.rstrip()]
            else:
                lines.append(f"  result     {record.value!r}")
        return "\n".join(lines)

    emit(args, details, human)


async def cmd_store(args: argparse.Namespace, app: Ardiq[Any]) -> None:
    """`failed` and `dead`: list, replay or delete entries of the store."""
    failed = args.command == "failed"
    noun = "kept failures" if failed else "dead letters"
    if args.action == "list":
        await existing_queue(app)
        page = await app.jobs(
            ListState.FAILED if failed else ListState.DEAD, count=args.count, cursor=args.cursor
        )

        def human() -> str:
            text = table(JOB_HEADERS, [job_row(job) for job in page.jobs]) if page.jobs else ""
            more = f"\nnext page: --cursor {shlex.quote(page.next)}" if page.next else ""
            return f"{text}{more}".strip("\n")

        emit(args, page, human)
        print(f"{len(page.jobs)} {noun}", file=sys.stderr)
        return
    if not args.entry_ids:
        raise CliError(f"{args.command} {args.action}: name at least one ENTRY_ID")
    if args.action == "replay":
        replay = app.replay_failure if failed else app.replay_dead_letter
        outcomes = {}
        for entry_id in args.entry_ids:
            job = await replay(entry_id)
            outcomes[entry_id] = None if job is None else job.id
        emit(
            args,
            outcomes,
            lambda: "\n".join(
                f"{entry}\t{'replayed as job ' + job_id if job_id else 'not found'}"
                for entry, job_id in outcomes.items()
            ),
        )
    else:
        delete = app.delete_failures if failed else app.delete_dead_letters
        removed = await delete(args.entry_ids)
        emit(args, {"deleted": removed}, lambda: f"{removed} {noun} deleted")


async def cmd_purge(args: argparse.Namespace, app: Ardiq[Any]) -> None:
    info = await existing_queue(app)
    if not args.yes:
        prompt = (
            f"Remove the {info.waiting} waiting and {info.scheduled} scheduled jobs of queue {app.queue!r}? "
            "Type the queue name to confirm: "
        )
        try:
            answer = await asyncio.to_thread(input, prompt)
        except EOFError:
            answer = ""
        if answer.strip() != app.queue:
            raise CliError("not confirmed; nothing was removed")
    removed = await app.purge()
    emit(args, {"removed": removed}, lambda: f"{removed} jobs removed from queue {app.queue}")


OPERATOR_COMMANDS: dict[str, Callable[[argparse.Namespace, Ardiq[Any]], Awaitable[None]]] = {
    "info": cmd_info,
    "queues": cmd_queues,
    "workers": cmd_workers,
    "jobs": cmd_jobs,
    "job": cmd_job,
    "failed": cmd_store,
    "dead": cmd_store,
    "purge": cmd_purge,
}


async def _operate(args: argparse.Namespace) -> None:
    app = operator_app(args)
    try:
        await app.ping()
        await OPERATOR_COMMANDS[args.command](args, app)
    finally:
        await app.close()


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
        wait_delayed=args.wait_delayed,
        concurrency=args.concurrency,
        sync_concurrency=args.sync_concurrency,
        process_concurrency=args.process_concurrency,
        grace_s=args.grace,
        visibility_ms=args.visibility_ms,
        max_deliveries=args.max_deliveries,
        prefetch=args.prefetch,
        heartbeat_ms=args.heartbeat_ms,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        journal=args.journal or False,
        handle_signals=True,
    )
    # At its end asyncio.run cancels every task left and waits for them: one
    # that swallows its cancellation (a run handed back at the end of a stop)
    # would keep the process alive for ever.
    left = asyncio.all_tasks() - {asyncio.current_task()}
    for task in left:
        task.cancel()
    if left:
        _, pending = await asyncio.wait(left, timeout=1.0)
        if pending:
            _exit_after_run()


def _exit_after_run() -> NoReturn:
    # Every result is stored by now. A sync task past the grace period may
    # still hold a thread that cannot be stopped; do not wait for it.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# -- the parser ------------------------------------------------------------


def _connection(parser: argparse.ArgumentParser, json_output: bool = True) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("ARDIQ_REDIS_URL") or DEFAULT_URL,
        help="the Redis URL (default: ARDIQ_REDIS_URL, else %(default)s)",
    )
    parser.add_argument(
        "--queue",
        default=None,
        help="the queue (default: ARDIQ_QUEUE, else default)",
    )
    parser.add_argument("--app", metavar="MODULE:APP", help="take the URL and queue from an app instead")
    if json_output:
        parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ardiq", description="ArdiQ: a task queue on Redis streams.")
    top.add_argument("--version", action="version", version=f"ardiq {__version__}")
    top.add_argument(
        "--log-level",
        default=os.environ.get("ARDIQ_LOG_LEVEL", "INFO"),
        type=log_level,
        help="DEBUG, INFO (a line per job), WARNING (retries and failures only), ... "
        "(default: ARDIQ_LOG_LEVEL, else INFO)",
    )
    top.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("ARDIQ_LOG_FORMAT", "text"),
        help="text lines, or one JSON object per line with each record's fields (default: text)",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run a worker for MODULE:APP", description="Run a worker for MODULE:APP."
    )
    run.add_argument("app", metavar="MODULE:APP")
    run.add_argument("--burst", action="store_true", help="drain the queues, then exit 0")
    run.add_argument(
        "--wait-delayed",
        action="store_true",
        help="with --burst: also wait for retries and delayed jobs to come due and run them",
    )
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
    run.add_argument(
        "--grace",
        type=float,
        default=30.0,
        help="seconds to finish running jobs on SIGTERM (a second one ends them at once)",
    )
    run.add_argument(
        "--visibility-ms", type=int, default=30_000, help="idle ms before a dead worker's job is reclaimed"
    )
    run.add_argument("--max-deliveries", type=int, default=3, help="deliveries before a job is dead-lettered")
    run.add_argument(
        "--prefetch",
        type=int,
        help="jobs fetched ahead of free slots (default: as many as concurrency, up to 200 for short jobs)",
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
    run.add_argument(
        "--metrics-port",
        type=int,
        help='serve Prometheus metrics on http://HOST:PORT/metrics (needs "ardiq[metrics]")',
    )
    run.add_argument(
        "--metrics-host", default="0.0.0.0", help="the address metrics listen on (default 0.0.0.0)"
    )

    info = commands.add_parser(
        "info",
        help="one queue at a glance",
        description="Waiting, held, scheduled, failed and dead jobs, lag and workers of one queue.",
    )
    _connection(info)
    queues = commands.add_parser(
        "queues",
        help="every queue of this Redis",
        description="Every queue this Redis holds a key of (a SCAN of all keys), with its counts.",
    )
    _connection(queues)
    workers = commands.add_parser(
        "workers",
        help="the queue's workers, alive or gone",
        description="Workers seen in the last minute, from their heartbeats.",
    )
    _connection(workers)
    jobs = commands.add_parser(
        "jobs", help="list jobs by state", description="One page of the queue's jobs in a state."
    )
    _connection(jobs)
    jobs.add_argument("--state", required=True, choices=[state.value for state in ListState])
    jobs.add_argument(
        "--count", type=bounded(1, 1000), default=100, help="jobs per page, 1 to 1000 (default 100)"
    )
    jobs.add_argument("--cursor", help="the cursor a previous page printed")
    job = commands.add_parser(
        "job", help="one job's full record", description="State, record, result or error of one job."
    )
    job.add_argument("job_id", metavar="JOB_ID")
    _connection(job)
    for name, what in (
        ("failed", "kept failures: jobs that failed after their last retry"),
        ("dead", "dead letters"),
    ):
        store = commands.add_parser(
            name, help=f"list, replay or delete {what}", description=f"List, replay or delete {what}."
        )
        store.add_argument("action", choices=["list", "replay", "delete"])
        store.add_argument(
            "entry_ids",
            nargs="*",
            metavar="ENTRY_ID",
            help="entries to replay or delete"
            + ("; MODULE:APP first is read as --app" if name == "dead" else ""),
        )
        _connection(store)
        store.add_argument(
            "--count", type=bounded(1, 1000), default=100, help="entries to list, 1 to 1000 (default 100)"
        )
        store.add_argument("--cursor", help="the cursor a previous page printed")
    purge = commands.add_parser(
        "purge",
        help="remove every waiting and scheduled job of a queue",
        description="Remove every job of the queue that no worker holds yet (waiting or scheduled). "
        "Asks first.",
    )
    _connection(purge)
    purge.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    dashboard_command.add_parser(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure(args.log_level, args.log_format)
    if args.command == "dashboard":
        return dashboard_command.run(args)
    if args.command != "run":
        args.queue_given = args.queue is not None
        if args.queue is None:
            args.queue = os.environ.get("ARDIQ_QUEUE") or "default"
        # `ardiq dead list MODULE:APP ...`, the form before --app.
        if args.command == "dead" and args.entry_ids and ":" in args.entry_ids[0] and not args.app:
            args.app = args.entry_ids.pop(0)
    started = time.monotonic()
    try:
        asyncio.run(_run(args) if args.command == "run" else _operate(args))
    except (CliError, ArdiqError, ValueError) as exc:
        print(f"ardiq: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.command == "run":
        logging.getLogger("ardiq").debug("exiting after %.1f s", time.monotonic() - started)
        _exit_after_run()
    return 0
