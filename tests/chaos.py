"""The chaos run: real worker processes SIGKILLed at random while they work,
and a Redis restart in the middle, then a count from data of what was lost,
run twice, run twice at once, or dead-lettered.

    python tests/chaos.py [--short] [--seed S] [--jobs N] [--workers W] ...

(`make chaos` is the full run; `tests/test_chaos.py` runs `--short` inside
`make test`.) What it does:

1. starts its own redis-server on a free loopback port, append-only file on,
   in a temporary directory (with REDIS_URL set it uses that server instead
   and skips the Redis restart, which it cannot do to someone else's server);
2. starts `--workers` `python -m ardiq run chaos_tasks:app` processes with a
   short visibility timeout, and enqueues `--jobs` jobs through the `ardiq`
   package in waves over the first 60 % of `--duration`: quick async jobs,
   sync jobs (thread pool), and async and sync jobs of 2 to 6 s, longer than
   the visibility timeout, so only renewal keeps them from a second run;
3. while jobs remain and `--duration` has not passed, SIGKILLs a random
   worker every `--kill-interval` seconds and starts a replacement; after
   each kill it reads from Redis what the dead worker held: its pending
   entries (the PEL, SPEC.md section 8) and its fields of the `running`
   hash (section 2);
4. with `--sever-interval S`, severs every normal client connection to
   Redis every S seconds of the chaos phase (`CLIENT KILL TYPE normal`):
   workers, their tasks' record clients and this harness must reconnect,
   and a reply lost with its connection must cost no job (SPEC.md section
   14, "Lost replies");
5. once, at `--restart-at`, stops Redis (SIGTERM: a graceful shutdown that
   writes and fsyncs the append-only file) and starts it again on the same
   port and directory while jobs run; workers and this producer must
   reconnect by themselves;
6. waits until every job is terminal (`--deadline` bounds the whole run),
   stops the workers with SIGTERM, and counts from the records the tasks
   wrote (`tests/apps/chaos_tasks.py`) and the jobs' statuses.

It exits 0 only when
- no job is lost: every job is complete, except a dead letter of reason
  `delivery_limit` whose job was held by killed workers at least
  `--max-deliveries` times (each of its deliveries ended in a kill);
- duplicate executions (runs beyond a job's first) do not exceed the bound,
  the number of jobs held by workers when they were killed, and no job runs
  more often than one plus the number of kills that caught it held (so a
  long job reclaimed from a live worker fails the run even when the total
  stays under the bound);
- no dead letter comes from healthy workers (see the first point);
- no two executions of one job overlap in time (an execution ends at its
  recorded end, or when its worker was seen dead);
- no worker process exits by itself (a worker must survive the restart).

Random choices (job mix, durations, kill times and victims) come from one
seed, printed, so `--seed` repeats a run's plan; timing still varies.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import redis
import redis.asyncio
from ardiq import Ardiq, ArdiqError, JobInfo, JobStatus, PreparedJob
from ardiq_testing import RedisServer

APPS = Path(__file__).resolve().parent / "apps"
APP_SPEC = "chaos_tasks:app"
GROUP = "ardiq"
PRIORITY_LEVELS = 10
# The Python worker's id, `<host>-<pid>-<hex>` (ardiq/worker.py; SPEC.md
# does not fix the form): the pid ties a consumer to the process killed.
WORKER_ID = re.compile(r"^.+-(\d+)-[0-9a-f]+$")
# A job kind: the task that runs it and the range of its run time in seconds.
KINDS: dict[str, tuple[str, float, float]] = {
    "quick": ("quick", 0.0, 0.0),
    "sync": ("blocking", 0.01, 0.2),
    "long": ("long", 2.0, 6.0),
    "long_sync": ("long_blocking", 2.0, 6.0),
}
MIX = {"quick": 0.68, "sync": 0.20, "long": 0.06, "long_sync": 0.06}
ENQUEUE_SHARE = 0.6  # of the chaos phase: jobs keep arriving while workers die
WAVE_S = 0.5

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "jobs": 6000,
        "workers": 4,
        "duration": 90.0,
        "deadline": 300.0,
        "restart_at": 35.0,
    },
    # Fits `make test` on a 2-core machine: 30 to 40 s, a dozen kills, one
    # restart, about 90 long jobs.
    "short": {
        "jobs": 800,
        "workers": 4,
        "duration": 24.0,
        "deadline": 100.0,
        "restart_at": 9.0,
    },
}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tests/chaos.py", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--short", action="store_true", help="the CI version: 30 to 40 s (see PROFILES)")
    parser.add_argument("--jobs", type=int, help="jobs to enqueue (full 6000, short 800)")
    parser.add_argument("--workers", type=int, help="worker processes alive at once (default 4)")
    parser.add_argument(
        "--concurrency", type=int, default=20, help="each worker's --concurrency (default 20)"
    )
    parser.add_argument(
        "--kill-interval",
        type=float,
        nargs=2,
        default=[1.0, 3.0],
        metavar=("MIN_S", "MAX_S"),
        help="seconds between kills, uniform (default 1 3)",
    )
    parser.add_argument(
        "--duration", type=float, help="seconds of chaos: kills stop after it (full 90, short 24)"
    )
    parser.add_argument("--deadline", type=float, help="seconds the whole run may take (full 300, short 100)")
    parser.add_argument("--restart-at", type=float, help="second of the chaos phase to restart Redis at")
    parser.add_argument("--visibility-ms", type=int, default=2000, help="workers' visibility timeout (2000)")
    parser.add_argument("--max-deliveries", type=int, default=3, help="workers' delivery limit (default 3)")
    parser.add_argument(
        "--sever-interval",
        type=float,
        default=0.0,
        metavar="S",
        help="sever every client connection to Redis each S seconds of the chaos phase (default 0: never)",
    )
    parser.add_argument("--seed", type=int, help="seed of every random choice (default: random, printed)")
    parser.add_argument("--json", type=Path, help="write the summary as JSON to this file")
    parser.add_argument("--log-dir", type=Path, help="keep worker and Redis logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    args.argv = argv
    for name, value in PROFILES["short" if args.short else "full"].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2**31)
    low, high = args.kill_interval
    if not 0 < low <= high:
        parser.error("--kill-interval needs 0 < MIN_S <= MAX_S")
    if args.sever_interval < 0:
        parser.error("--sever-interval needs S >= 0")
    if args.jobs < 1 or args.workers < 2 or args.deadline <= args.duration:
        parser.error("need --jobs >= 1, --workers >= 2 and --deadline > --duration")
    if not 0 <= args.restart_at < args.duration * ENQUEUE_SHARE:
        parser.error("--restart-at must fall while jobs are still enqueued (the first 60 % of --duration)")
    return args


def own_redis(log_dir: Path) -> RedisServer:
    """The run's redis-server: loopback, free port, append-only file in a
    temp dir; restartable on the same port and directory.

    `appendfsync everysec`, not `always`: the restart here is a graceful
    shutdown, which writes and fsyncs the whole file before Redis exits, so
    nothing acknowledged is lost either way; `always` would add an fsync to
    every write (tens of thousands here) on a 2-core VM, and guards only
    against Redis itself crashing, which this run does not do."""
    return RedisServer(
        *("--appendonly", "yes", "--appendfsync", "everysec", "--logfile", str(log_dir / "redis.log")),
        ready_timeout_s=30,  # PONG only once the file is loaded
        stop_timeout_s=30,
    )


class WorkerProcess:
    """One `python -m ardiq run chaos_tasks:app` process, logging to a file."""

    def __init__(self, number: int, redis_url: str, queue: str, args: argparse.Namespace, log_dir: Path):
        self.number = number
        self.log_path = log_dir / f"worker-{number:03d}.log"
        self.log: IO[bytes] = self.log_path.open("wb")
        env = dict(os.environ, ARDIQ_REDIS_URL=redis_url, ARDIQ_QUEUE=queue, PYTHONUNBUFFERED="1")
        command = [
            *(sys.executable, "-m", "ardiq", "run", APP_SPEC),
            *("--concurrency", str(args.concurrency), "--visibility-ms", str(args.visibility_ms)),
            *("--max-deliveries", str(args.max_deliveries), "--grace", "5"),
        ]
        self.process = subprocess.Popen(command, cwd=APPS, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.ended_ms: int | None = None  # when this run saw it dead
        self.killed = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def sigkill(self) -> None:
        self.killed = True
        self.process.kill()
        self.process.wait()
        self.ended_ms = now_ms()
        self.log.close()

    def tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(f"    | {line}" for line in text[-lines:])


@dataclasses.dataclass
class Kill:
    """A worker the run SIGKILLed (or found dead), and what it held then."""

    at_s: float
    pid: int
    worker_ids: list[str]
    held: set[str]  # job ids of its pending entries and its `running` fields
    pel: int
    running: int
    by_itself: bool = False


@dataclasses.dataclass
class Execution:
    """One run of a job's body, from the task's records."""

    token: str
    job: str
    pid: int
    start_ms: int
    end_ms: int | None
    outcome: str  # ok | cancelled (recorded), killed | exited (its worker's end), open


class Chaos:
    """One chaos run: its Redis, workers, producer, events and figures."""

    def __init__(self, args: argparse.Namespace, log_dir: Path) -> None:
        self.args = args
        self.log_dir = log_dir
        self.rng = random.Random(args.seed)
        self.run = f"chaos-{args.seed}-{uuid.uuid4().hex[:6]}"
        self.queue = self.run
        self.external_url = os.environ.get("REDIS_URL", "")
        self.own_redis = None if self.external_url else own_redis(log_dir)
        self.workers: list[WorkerProcess] = []
        self.started_workers = 0
        self.kills: list[Kill] = []
        self.events: list[str] = []
        self.restart: dict[str, Any] = {}
        self.severed = {"rounds": 0, "connections": 0, "failed_rounds": 0}
        self.plan = self._plan()
        self.enqueued: set[str] = set()
        self.enqueue_failures = 0
        self.infos: dict[str, JobInfo] = {}
        self.done = asyncio.Event()
        self.t0 = time.monotonic()
        self.t0_ms = now_ms()
        self.marks_ms: dict[str, int] = {}  # when each phase began, and "end"
        self.inspector = redis.Redis.from_url(self.url, socket_timeout=5)
        self.app = Ardiq(self.url, queue=self.queue)

    # ---------------------------------------------------------------- set-up

    def _plan(self) -> list[tuple[str, PreparedJob]]:
        """The jobs, in enqueue order: (kind, prepared job with a fixed id)."""
        kinds = self.rng.choices(list(MIX), weights=list(MIX.values()), k=self.args.jobs)
        plan = []
        for number, kind in enumerate(kinds):
            task, low, high = KINDS[kind]
            job_id = f"{kind}-{number:05d}"
            args: tuple[Any, ...] = (self.run, job_id)
            if high > 0:
                args += (round(self.rng.uniform(low, high), 3),)
            plan.append((kind, PreparedJob(task, args, {}, job_id=job_id)))
        return plan

    @property
    def url(self) -> str:
        return self.own_redis.url if self.own_redis is not None else self.external_url

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def say(self, message: str) -> None:
        line = f"[{self.elapsed():6.1f} s] {message}"
        self.events.append(line)
        print(line, flush=True)

    def spawn(self) -> WorkerProcess:
        self.started_workers += 1
        worker = WorkerProcess(self.started_workers, self.url, self.queue, self.args, self.log_dir)
        self.workers.append(worker)
        return worker

    @property
    def live(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.ended_ms is None]

    # ------------------------------------------------------------- the run

    async def execute(self) -> dict[str, Any]:
        if self.own_redis is not None:
            self.own_redis.start()
            self.say(f"redis-server on port {self.own_redis.port}, appendonly yes, appendfsync everysec")
        else:
            self.say("REDIS_URL is set: using it, and skipping the Redis restart phase")
        try:
            return await self._execute()
        finally:
            for worker in self.live:
                worker.sigkill()
            await self.app.close()
            self.inspector.close()
            if self.own_redis is not None:
                self.own_redis.close()

    async def _execute(self) -> dict[str, Any]:
        args = self.args
        for _ in range(args.workers):
            self.spawn()
        await self._until_workers_registered(args.workers)
        self.say(f"{args.workers} workers up; run {self.run}, seed {args.seed}")
        self.t0 = chaos_start = time.monotonic()
        self.t0_ms = self.marks_ms["chaos"] = now_ms()
        deadline = chaos_start + args.deadline
        producer = asyncio.create_task(self._produce())
        tracker = asyncio.create_task(self._track())
        severer = asyncio.create_task(self._sever(chaos_start + args.duration))
        try:
            await self._chaos(chaos_start + args.duration, chaos_start + args.restart_at)
            severer.cancel()
            await asyncio.gather(severer, return_exceptions=True)
            if args.sever_interval:
                self.say(
                    f"severed {self.severed['connections']} connections in {self.severed['rounds']} rounds"
                )
            self.marks_ms["drain"] = now_ms()
            self.say(f"chaos over after {self.elapsed():.1f} s; draining")
            while not self.done.is_set() and time.monotonic() < deadline:
                await self._replace_dead_workers()
                await asyncio.sleep(0.1)
            if not self.done.is_set():
                self.say(f"deadline of {args.deadline:.0f} s passed with jobs not terminal")
        finally:
            producer.cancel()
            tracker.cancel()
            severer.cancel()
            await asyncio.gather(producer, tracker, severer, return_exceptions=True)
        self.marks_ms["stop"] = now_ms()
        await asyncio.to_thread(self._stop_workers)
        self.marks_ms["end"] = now_ms()
        await self._final_statuses()
        return await self._summary()

    async def _until_workers_registered(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.inspector.zcard(f"ardiq:{{{self.queue}}}:workers") >= count:
                return
            for worker in self.workers:
                if not worker.alive:
                    raise RuntimeError(f"worker {worker.pid} exited at start:\n{worker.tail()}")
            await asyncio.sleep(0.05)
        raise RuntimeError("the workers did not register within 30 s")

    async def _produce(self) -> None:
        """Enqueues the plan in waves; a wave that fails (Redis restarting)
        is sent again with the same job ids, which makes a resend harmless."""
        waves = max(1, int(self.args.duration * ENQUEUE_SHARE / WAVE_S))
        size = -(-len(self.plan) // waves)
        for start in range(0, len(self.plan), size):
            wave = [prepared for _, prepared in self.plan[start : start + size]]
            while True:
                try:
                    jobs = await asyncio.wait_for(self.app.enqueue_many(wave), 10)
                except (ArdiqError, TimeoutError) as exc:
                    self.enqueue_failures += 1
                    if self.enqueue_failures <= 3 or self.enqueue_failures % 20 == 0:
                        self.say(f"enqueue failed ({type(exc).__name__}: {exc}); sending the wave again")
                    await asyncio.sleep(0.2)
                    continue
                self.enqueued.update(job.id for job in jobs)
                break
            await asyncio.sleep(WAVE_S)
        self.say(f"all {len(self.enqueued)} jobs enqueued")

    async def _track(self) -> None:
        """Polls the statuses of jobs not yet terminal; sets `done` when the
        whole plan is enqueued and terminal."""
        while True:
            await asyncio.sleep(1.0)
            pending = [job_id for job_id in self.enqueued if job_id not in self.infos]
            try:
                for job_id, info in zip(pending, await self._infos(pending), strict=True):
                    if info.status.is_terminal:
                        self.infos[job_id] = info
            except (ArdiqError, TimeoutError):
                continue  # Redis restarting: poll again later
            if len(self.enqueued) == len(self.plan) and len(self.infos) == len(self.plan):
                self.say("every job is terminal")
                self.done.set()
                return

    async def _infos(self, job_ids: list[str]) -> list[JobInfo]:
        infos: list[JobInfo] = []
        for start in range(0, len(job_ids), 500):
            chunk = job_ids[start : start + 500]
            infos += await asyncio.wait_for(
                asyncio.gather(*(self.app.job(job_id).info() for job_id in chunk)), 30
            )
        return infos

    async def _chaos(self, end: float, restart_at: float) -> None:
        low, high = self.args.kill_interval
        next_kill = time.monotonic() + self.rng.uniform(low, high)
        restart_due = restart_at if self.own_redis is not None else float("inf")
        while time.monotonic() < end and not self.done.is_set():
            now = time.monotonic()
            if now >= restart_due:
                await self._restart_redis()
                restart_due = float("inf")
            elif now >= next_kill:
                await self._kill_one()
                next_kill = time.monotonic() + self.rng.uniform(low, high)
            await self._replace_dead_workers()
            await asyncio.sleep(0.02)

    async def _sever(self, end: float) -> None:
        """Every `--sever-interval` seconds until `end`, close every normal
        client connection but this one's on the server side. Rounds that
        find Redis away (its restart) are counted and skipped."""
        interval = self.args.sever_interval
        if not interval:
            return
        client = redis.asyncio.Redis.from_url(self.url, socket_timeout=5)
        try:
            while time.monotonic() < end and not self.done.is_set():
                await asyncio.sleep(interval)
                try:
                    killed = await client.client_kill_filter(_type="normal", skipme=True)
                except redis.RedisError:
                    self.severed["failed_rounds"] += 1
                    continue
                self.severed["rounds"] += 1
                self.severed["connections"] += int(killed)
        finally:
            await client.aclose()

    async def _kill_one(self) -> None:
        victim = self.rng.choice(self.live)
        at_s = self.elapsed()
        await asyncio.to_thread(victim.sigkill)
        kill = await asyncio.to_thread(self._holdings, victim, at_s)
        self.kills.append(kill)
        self.spawn()
        self.say(
            f"kill {len(self.kills)}: SIGKILL worker {victim.number} (pid {victim.pid}); it held "
            f"{len(kill.held)} jobs (pending entries {kill.pel}, running-hash fields {kill.running})"
        )

    async def _replace_dead_workers(self) -> None:
        """A worker that exits without being killed is a failure of the run;
        it is replaced so that the rest of the run still measures something."""
        for worker in self.live:
            if worker.alive:
                continue
            worker.ended_ms = now_ms()
            worker.log.close()
            code = worker.process.returncode
            kill = await asyncio.to_thread(self._holdings, worker, self.elapsed())
            kill.by_itself = True
            self.kills.append(kill)
            self.spawn()
            self.say(
                f"worker {worker.number} (pid {worker.pid}) exited BY ITSELF with code {code}, holding "
                f"{len(kill.held)} jobs; replaced. Its log ends:\n{worker.tail()}"
            )

    def _holdings(self, worker: WorkerProcess, at_s: float) -> Kill:
        """What a dead worker held, read from Redis: its consumers' pending
        entries on every level (the PEL is the truth of ownership) and its
        fields of `running`. Retried while Redis is away."""
        time.sleep(0.05)  # commands it sent just before dying reach Redis first
        deadline = time.monotonic() + 30
        while True:
            try:
                return self._read_holdings(worker.pid, at_s)
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _read_holdings(self, pid: int, at_s: float) -> Kill:
        prefix = f"ardiq:{{{self.queue}}}:"
        streams = [f"{prefix}stream:{p}" for p in range(PRIORITY_LEVELS)]
        names: set[str] = set()
        pipe = self.inspector.pipeline(transaction=False)
        for stream in streams:
            pipe.xinfo_consumers(stream, GROUP)
        for reply in pipe.execute(raise_on_error=False):
            if isinstance(reply, list):
                names.update(_text(consumer["name"]) for consumer in reply)
        running = {
            _text(job): _text(owner) for job, owner in self.inspector.hgetall(f"{prefix}running").items()
        }
        names.update(running.values())
        names = {name for name in names if _pid_of(name) == pid}
        pipe = self.inspector.pipeline(transaction=False)
        asked = [(stream, name) for stream in streams for name in sorted(names)]
        for stream, name in asked:
            pipe.xpending_range(stream, GROUP, "-", "+", 1_000_000, name)
        entries = [
            (stream, _text(item["message_id"]))
            for (stream, _), reply in zip(asked, pipe.execute(raise_on_error=False), strict=True)
            if isinstance(reply, list)
            for item in reply
        ]
        pipe = self.inspector.pipeline(transaction=False)
        for stream, entry_id in entries:
            pipe.xrange(stream, entry_id, entry_id)
        pel_jobs: set[str] = set()
        for (_, entry_id), reply in zip(entries, pipe.execute(raise_on_error=False), strict=True):
            fields = reply[0][1] if isinstance(reply, list) and reply else {}
            pel_jobs.add(_text(fields.get(b"id", f"entry {entry_id}".encode())))
        running_jobs = {job for job, owner in running.items() if owner in names}
        return Kill(at_s, pid, sorted(names), pel_jobs | running_jobs, len(pel_jobs), len(running_jobs))

    async def _restart_redis(self) -> None:
        assert self.own_redis is not None
        prefix = f"ardiq:{{{self.queue}}}:"
        running = self.inspector.hlen(f"{prefix}running")
        runs = self.inspector.hlen(f"chaos:{{{self.run}}}:runs")
        at_s = self.elapsed()
        begin_ms = now_ms()
        await asyncio.to_thread(self.own_redis.stop)
        stopped_ms = now_ms()
        await asyncio.to_thread(self.own_redis.start)
        up_ms = now_ms()
        runs_after = self.inspector.hlen(f"chaos:{{{self.run}}}:runs")
        self.restart = {
            "at_s": round(at_s, 2),
            "running_jobs": running,
            "shutdown_ms": stopped_ms - begin_ms,
            "down_ms": up_ms - stopped_ms,
            "window_ms": [begin_ms, up_ms],
            "records_before": runs,
            "records_after": runs_after,
        }
        self.say(
            f"Redis restarted (SIGTERM, start again on the same AOF dir and port) with {running} "
            f"jobs running: shutdown {stopped_ms - begin_ms} ms, down {up_ms - stopped_ms} ms; "
            f"execution records {runs} before, {runs_after} after"
        )
        if runs_after < runs:
            self.say("Redis LOST DATA across the restart: fewer records than before it")

    def _stop_workers(self) -> None:
        """SIGTERM every live worker (they drain within their 5 s grace);
        SIGKILL what is still alive 15 s later."""
        live = self.live
        for worker in live:
            worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for worker in live:
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"worker {worker.number} (pid {worker.pid}) ignored SIGTERM for 15 s: SIGKILL")
                worker.process.kill()
                worker.process.wait()
            worker.ended_ms = now_ms()
            worker.log.close()
            if worker.process.returncode != 0:
                self.say(f"worker {worker.number} exited with code {worker.process.returncode} on SIGTERM")

    async def _final_statuses(self) -> None:
        """The status of every planned job, read once more at the end."""
        ids = [prepared.job_id or "" for _, prepared in self.plan]
        for attempt in range(50):
            try:
                self.infos = dict(zip(ids, await self._infos(ids), strict=True))
                return
            except (ArdiqError, TimeoutError):
                if attempt == 49:
                    raise
                await asyncio.sleep(0.2)

    # ------------------------------------------------------------ the count

    def _executions(self) -> dict[str, list[Execution]]:
        runs = self.inspector.hgetall(f"chaos:{{{self.run}}}:runs")
        ends = self.inspector.hgetall(f"chaos:{{{self.run}}}:ends")
        workers = self.by_pid
        by_job: dict[str, list[Execution]] = defaultdict(list)
        for raw_token, raw_value in runs.items():
            token = _text(raw_token)
            job, pid_text, start_text = _text(raw_value).split()
            pid, start = int(pid_text), int(start_text)
            end: int | None = None
            if raw_token in ends:
                end_text, outcome = _text(ends[raw_token]).split()
                end = int(end_text)
            elif pid in workers and workers[pid].ended_ms is not None:
                end, outcome = workers[pid].ended_ms, "killed" if workers[pid].killed else "exited"
            else:
                outcome = "open"
            by_job[job].append(Execution(token, job, pid, start, end, outcome))
        for executions in by_job.values():
            executions.sort(key=lambda e: e.start_ms)
        return by_job

    async def _summary(self) -> dict[str, Any]:
        args = self.args
        kind_of = {prepared.job_id or "": kind for kind, prepared in self.plan}
        executions = self._executions()
        end_of_run_ms = now_ms()
        held_at_kills: Counter[str] = Counter(job for kill in self.kills for job in kill.held)
        bound = sum(len(kill.held) for kill in self.kills)

        # Duplicates, their causes, and overlaps.
        duplicates = 0
        unexplained: dict[str, int] = {}
        causes: Counter[str] = Counter()
        # Jobs that ran again although their previous run's worker lived on:
        # excused only by a later kill, so they are shown with the others.
        rerun_on_live: list[str] = []
        overlaps: list[str] = []
        restart_window = self.restart.get("window_ms")
        for job, runs in executions.items():
            extra = len(runs) - 1
            duplicates += extra
            if extra > held_at_kills[job]:
                unexplained[job] = extra - held_at_kills[job]
            latest_end = 0
            for before, after in itertools.pairwise(runs):
                cause = self._cause(before, after)
                if (
                    restart_window
                    and before.start_ms <= restart_window[1]
                    and (before.end_ms is None or before.end_ms >= restart_window[0])
                ):
                    cause += ", across the Redis restart"
                causes[cause] += 1
                if "live worker" in cause or "LIVE" in cause:
                    rerun_on_live.append(job)
            for run in runs:
                if run.start_ms < latest_end:
                    overlaps.append(job)
                    break
                latest_end = max(latest_end, run.end_ms if run.end_ms is not None else end_of_run_ms)

        # Terminal states, dead letters, losses.
        letters = await self.app.dead_letters(count=1_000_000)
        dead_length = int(self.inspector.xlen(f"ardiq:{{{self.queue}}}:dead"))
        reasons = Counter(letter.reason for letter in letters)
        excused = {
            letter.job_id
            for letter in letters
            if letter.reason == "delivery_limit" and held_at_kills[letter.job_id] >= args.max_deliveries
        }
        from_healthy = sorted({letter.job_id for letter in letters if held_at_kills[letter.job_id] == 0})
        unexcused = sorted({letter.job_id for letter in letters if letter.job_id not in excused})
        letters_per_job = Counter(letter.job_id for letter in letters)
        statuses = Counter(info.status.value for info in self.infos.values())
        lost = sorted(
            job
            for job, info in self.infos.items()
            if info.status is not JobStatus.COMPLETE
            and not (info.status is JobStatus.DEAD and job in excused)
        )
        lost_set = set(lost)
        never_ran = sorted(
            job
            for job, info in self.infos.items()
            if info.status is JobStatus.COMPLETE and job not in executions
        )

        per_kind: dict[str, dict[str, int]] = {}
        for kind in KINDS:
            jobs = [job for job, k in kind_of.items() if k == kind]
            per_kind[kind] = {
                "enqueued": sum(1 for job in jobs if job in self.enqueued),
                "completed": sum(1 for job in jobs if self.infos[job].status is JobStatus.COMPLETE),
                "lost": sum(1 for job in jobs if job in lost_set),
                "executions": sum(len(executions.get(job, [])) for job in jobs),
                "duplicates": sum(max(0, len(executions.get(job, [])) - 1) for job in jobs),
                "beyond_own_kills": sum(unexplained.get(job, 0) for job in jobs),
                "overlapping": sum(1 for job in jobs if job in overlaps),
            }

        self_exits = [kill for kill in self.kills if kill.by_itself]
        kills = [kill for kill in self.kills if not kill.by_itself]
        leftovers = self._leftovers()
        failures = []
        if lost:
            failures.append(f"{len(lost)} jobs lost (not complete at the end): {_few(lost)}")
        if duplicates > bound:
            failures.append(
                f"{duplicates} duplicate executions exceed the bound of {bound} (jobs held at kills)"
            )
        if unexplained:
            failures.append(
                f"{sum(unexplained.values())} duplicate executions of {len(unexplained)} jobs beyond the "
                f"kills that caught them held (a live worker's job ran again): {_few(unexplained)}"
            )
        if unexcused:
            failures.append(
                f"{len(unexcused)} jobs dead-lettered without kills to explain it ({len(from_healthy)} "
                f"never held at a kill): {_few(unexcused)}"
            )
        if overlaps:
            failures.append(f"{len(overlaps)} jobs ran twice at once: {_few(overlaps)}")
        left = {name: count for name, count in leftovers.items() if isinstance(count, int) and count}
        if left:
            failures.append(f"left in Redis after the run: {left}; running: {leftovers['running_left']}")
        if self_exits:
            failures.append(f"{len(self_exits)} workers exited by themselves")
        if self.own_redis is not None and not self.restart:
            failures.append("the Redis restart did not happen (the run ended first)")
        if self.restart and self.restart["records_after"] < self.restart["records_before"]:
            failures.append("Redis lost data across the restart")

        return {
            "passed": not failures,
            "failures": failures,
            "command": shlex.join(["python", "tests/chaos.py", *args.argv]),
            "repeat": shlex.join(
                ["python", "tests/chaos.py", *args.argv]
                + ([] if any(a.startswith("--seed") for a in args.argv) else ["--seed", str(args.seed)])
            ),
            "seed": args.seed,
            "run": self.run,
            "profile": "short" if args.short else "full",
            "settings": {
                "jobs": args.jobs,
                "workers": args.workers,
                "concurrency": args.concurrency,
                "kill_interval_s": args.kill_interval,
                "duration_s": args.duration,
                "deadline_s": args.deadline,
                "visibility_ms": args.visibility_ms,
                "max_deliveries": args.max_deliveries,
                "sever_interval_s": args.sever_interval,
                "redis": "REDIS_URL" if self.own_redis is None else "own, appendonly everysec",
            },
            "enqueued": len(self.enqueued),
            "enqueue_failures": self.enqueue_failures,
            "completed": statuses.get("complete", 0),
            "statuses": dict(statuses),
            "lost": len(lost),
            "lost_jobs": lost[:50],
            "executions": sum(len(runs) for runs in executions.values()),
            "duplicates": duplicates,
            "duplicate_bound": bound,
            "duplicates_beyond_own_kills": sum(unexplained.values()),
            "duplicate_causes": dict(causes),
            "dead_letters": dead_length,
            "dead_letter_reasons": dict(reasons),
            "dead_letter_jobs": len(letters_per_job),
            "jobs_dead_lettered_more_than_once": sum(1 for n in letters_per_job.values() if n > 1),
            "dead_letters_of_jobs_not_dead": sorted(
                job for job in letters_per_job if self.infos[job].status is not JobStatus.DEAD
            )[:50],
            "dead_letters_excused": len(excused),
            "dead_letters_from_healthy_workers": len(from_healthy),
            "dead_letters_unexcused": len(unexcused),
            "overlapping_jobs": len(overlaps),
            "overlapping_job_ids": overlaps[:50],
            "complete_without_recorded_run": len(never_ran),
            "kills": len(kills),
            "events": self.events,
            "kill_log": [
                {
                    "at_s": round(k.at_s, 2),
                    "pid": k.pid,
                    "worker_ids": k.worker_ids,
                    "held": len(k.held),
                    "pel": k.pel,
                    "running": k.running,
                }
                for k in kills
            ],
            "workers_exited_by_themselves": len(self_exits),
            "workers_started": self.started_workers,
            "severed": self.severed if args.sever_interval else None,
            "redis_restart": {key: value for key, value in self.restart.items() if key != "window_ms"},
            "per_kind": per_kind,
            "leftovers": leftovers,
            "phases": self._phases(executions),
            "rerun_after_kill": self._rerun_delays(executions),
            "examples": self._examples(
                [*overlaps, *unexplained, *unexcused, *lost, *rerun_on_live], executions, held_at_kills
            ),
            "wall_s": round(self.elapsed(), 1),
        }

    def _phases(self, executions: dict[str, list[Execution]]) -> dict[str, dict[str, float]]:
        """Each phase's length, and the completions, second runs and kills
        that fell into it."""
        bounds = [("chaos", "drain"), ("drain", "stop"), ("stop", "end")]
        reruns = [run.start_ms for runs in executions.values() for run in runs[1:]]
        finished = [info.finished_ms for info in self.infos.values() if info.status is JobStatus.COMPLETE]
        kills = [self.t0_ms + int(kill.at_s * 1000) for kill in self.kills]
        phases = {}
        for name, until in bounds:
            begin, end = self.marks_ms.get(name), self.marks_ms.get(until)
            if begin is None or end is None:
                continue

            def within(times: list[int], begin: int = begin, end: int = end) -> int:
                return sum(1 for t in times if begin <= t < end)

            phases[name] = {
                "seconds": round((end - begin) / 1000, 1),
                "completed": within(finished),
                "duplicate_runs_started": within(reruns),
                "kills": within(kills),
            }
        return phases

    def _rerun_delays(self, executions: dict[str, list[Execution]]) -> dict[str, int | None]:
        """How soon a job a killed worker held ran again: from the worker's
        death to the job's next start (the visibility timeout plus up to a
        reclaim period is what a reclaim that keeps up costs)."""
        delays = []
        finished_anyway = not_rerun = 0
        for kill in self.kills:
            died = self.by_pid[kill.pid].ended_ms or self.t0_ms + int(kill.at_s * 1000)
            for job in kill.held:
                later = [run.start_ms for run in executions.get(job, []) if run.start_ms >= died]
                if later:
                    delays.append(min(later) - died)
                elif job in self.infos and self.infos[job].finished_ms <= died + 1000:
                    finished_anyway += 1  # its result landed as the worker died
                else:
                    not_rerun += 1
        delays.sort()

        def quantile(q: float) -> int | None:
            return delays[min(len(delays) - 1, int(q * len(delays)))] if delays else None

        return {
            "reruns": len(delays),
            "median_ms": quantile(0.5),
            "p95_ms": quantile(0.95),
            "max_ms": delays[-1] if delays else None,
            "finished_without_rerun": finished_anyway,
            "never_ran_again": not_rerun,
        }

    @property
    def by_pid(self) -> dict[int, WorkerProcess]:
        return {worker.pid: worker for worker in self.workers}

    def _cause(self, before: Execution, after: Execution) -> str:
        """Why a job ran again: what had become of its previous run and that
        run's worker when the next run started."""
        worker = self.by_pid[before.pid]
        if worker.ended_ms is not None and worker.ended_ms <= after.start_ms:
            how = "killed" if worker.killed else "exited by itself"
            finished = " after the body ended" if before.outcome == "ok" else ""
            return f"previous run's worker had been {how}{finished}"
        if before.outcome == "cancelled" and before.end_ms is not None and before.end_ms <= after.start_ms:
            return "a LIVE worker lost the entry (its run was cancelled before the next began)"
        if before.outcome == "ok" and before.end_ms is not None and before.end_ms <= after.start_ms:
            return "previous run ENDED on a live worker, yet the job ran again"
        return "previous run was STILL RUNNING on a live worker"

    def _examples(
        self, jobs: list[str], executions: dict[str, list[Execution]], held_at_kills: Counter[str]
    ) -> list[dict[str, Any]]:
        """Timelines of the first few jobs that failed a check: every run
        (worker number, pid, start and end in seconds of the chaos phase) and
        the kills that caught the job held."""
        number = {worker.pid: worker.number for worker in self.workers}

        def at(ms: int | None) -> float | None:
            return None if ms is None else round((ms - self.t0_ms) / 1000, 2)

        examples = []
        for job in list(dict.fromkeys(jobs))[:10]:
            info = self.infos.get(job)
            examples.append(
                {
                    "job": job,
                    "status": info.status.value if info else "unknown",
                    "held_at_kills": held_at_kills[job],
                    "kills": [
                        {"at_s": round(k.at_s, 2), "worker": number.get(k.pid), "pid": k.pid}
                        for k in self.kills
                        if job in k.held
                    ],
                    "runs": [
                        {
                            "worker": number.get(run.pid),
                            "pid": run.pid,
                            "start_s": at(run.start_ms),
                            "end_s": at(run.end_ms),
                            "outcome": run.outcome,
                        }
                        for run in executions.get(job, [])
                    ],
                }
            )
        return examples

    def _leftovers(self) -> dict[str, Any]:
        """What the queue still holds once every job is terminal and every
        worker stopped: acked entries are deleted, so all of it should be 0.
        A field left in `running` is named with its worker."""
        prefix = f"ardiq:{{{self.queue}}}:"
        streams = [f"{prefix}stream:{p}" for p in range(PRIORITY_LEVELS)]
        pipe = self.inspector.pipeline(transaction=False)
        for stream in streams:
            pipe.xlen(stream)
        for stream in streams:
            pipe.xpending(stream, GROUP)
        replies = pipe.execute(raise_on_error=False)
        return {
            "stream_entries": sum(r for r in replies[:PRIORITY_LEVELS] if isinstance(r, int)),
            "pending_entries": sum(r["pending"] for r in replies[PRIORITY_LEVELS:] if isinstance(r, dict)),
            "running_fields": int(self.inspector.hlen(f"{prefix}running")),
            "delayed": int(self.inspector.zcard(f"{prefix}delayed")),
            "running_left": {
                _text(job): _text(owner)
                for job, owner in sorted(self.inspector.hgetall(f"{prefix}running").items())[:50]
            },
        }

    def forget(self) -> None:
        """Deletes the run's keys from a Redis that outlives the run."""
        client = redis.Redis.from_url(self.url)
        for pattern in (f"ardiq:{{{self.queue}}}:*", f"chaos:{{{self.run}}}:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
        client.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pid_of(worker_id: str) -> int | None:
    match = WORKER_ID.match(worker_id)
    return int(match.group(1)) if match else None


def _few(items: Iterable[str], count: int = 8) -> str:
    listed = sorted(items)
    more = f" and {len(listed) - count} more" if len(listed) > count else ""
    return ", ".join(listed[:count]) + more


def report(summary: dict[str, Any]) -> str:
    """The summary a person reads at the end of the run."""
    s = summary
    lines = [
        "",
        f"chaos run {s['run']} ({s['profile']}), seed {s['seed']}: {'PASSED' if s['passed'] else 'FAILED'}",
        f"  repeat with: {s['repeat']}",
        f"  settings: {json.dumps(s['settings'])}",
        f"  wall time {s['wall_s']} s",
        *(f"    {name:6s} {figures}" for name, figures in s["phases"].items()),
        f"  jobs enqueued {s['enqueued']} (enqueue attempts that failed: {s['enqueue_failures']})",
        f"  completed     {s['completed']}   statuses {s['statuses']}",
        f"  lost          {s['lost']}",
        f"  duplicates    {s['duplicates']} of {s['executions']} executions; bound {s['duplicate_bound']} "
        f"(jobs held at {s['kills']} kills); beyond each job's own kills: {s['duplicates_beyond_own_kills']}",
    ]
    for cause, count in sorted(s["duplicate_causes"].items()):
        lines.append(f"                {count:5d} × {cause}")
    lines += [
        f"  dead letters  {s['dead_letters']} {s['dead_letter_reasons']}; after kills (excused) "
        f"{s['dead_letters_excused']}, from healthy workers {s['dead_letters_from_healthy_workers']}, "
        f"unexplained {s['dead_letters_unexcused']}",
        f"                dead-lettered jobs {s['dead_letter_jobs']}, more than once "
        f"{s['jobs_dead_lettered_more_than_once']}, with a final status other than dead "
        f"{len(s['dead_letters_of_jobs_not_dead'])}",
        f"  run twice at once: {s['overlapping_jobs']} jobs",
        f"  rerun after a kill: {s['rerun_after_kill']}",
        f"  workers started {s['workers_started']}, exited by themselves {s['workers_exited_by_themselves']}",
        f"  connections severed: {s['severed'] or 'none'}",
        f"  Redis restart: {s['redis_restart'] or 'skipped'}",
        f"  left in Redis after the run: {s['leftovers']}",
        "  per kind:",
    ]
    for kind, figures in s["per_kind"].items():
        lines.append(f"    {kind:10s} {figures}")
    if s["complete_without_recorded_run"]:
        lines.append(f"  note: {s['complete_without_recorded_run']} complete jobs have no recorded run")
    if s["examples"]:
        lines.append("  first jobs that failed a check (seconds of the chaos phase; all of them in --json):")
    for example in s["examples"][:4]:
        runs = "; ".join(
            f"w{run['worker']} {run['start_s']}→{run['end_s']} {run['outcome']}" for run in example["runs"]
        )
        kills = ", ".join(f"w{kill['worker']} at {kill['at_s']}" for kill in example["kills"]) or "none"
        lines.append(f"    {example['job']} ({example['status']}): runs {runs}; held at kills: {kills}")
    lines += [f"  FAIL: {failure}" for failure in s["failures"]]
    return "\n".join(lines)


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    kept = args.log_dir is not None
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="ardiq-chaos-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    chaos = Chaos(args, log_dir)
    print(f"chaos run {chaos.run}: seed {args.seed}, logs in {log_dir}", flush=True)
    summary = await chaos.execute()
    print(report(summary), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    if summary["passed"]:
        if chaos.own_redis is None:
            chaos.forget()
        if not kept:
            for path in log_dir.iterdir():
                path.unlink()
            log_dir.rmdir()
    else:
        print(f"worker and Redis logs kept in {log_dir}", flush=True)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
