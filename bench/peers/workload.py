"""What every adapter shares: task bodies, the completion recorder, the JSON-lines protocol.

An adapter (`bench/peers/<peer>.py`, run as `python -m peers.<peer>` from
bench/) runs inside its peer's own virtualenv, so
this module imports nothing beyond the standard library. It defines a `Peer`
subclass and calls `main(PeerClass)`; this module parses the command line,
runs the role and prints one JSON object per line on the original stdout.
Everything else that writes to stdout (a library's banner or logs) is sent to
stderr, so the harness reads only protocol lines.

Roles:
  worker     --workload W --count N --concurrency C   run one worker until N tasks are done
                                                      (roundtrip: until a line on stdin)
  enqueue    --workload W --count N --mode M          M: single | batch | setup | spaced
  roundtrip  --count N --budget-s S                   one warm-up round trip, then on a line
                                                      on stdin up to N more (fewer once S
                                                      seconds have passed), one after another,
                                                      each enqueued and its result awaited
  info                                                what the adapter offers

A worker also stops early when its stdin ends (the harness is gone).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import sys
import threading
import time
from typing import Any, TextIO

# What a worker runs: four task kinds (every peer registers a task for each with these bodies),
# and the round trip, which runs the no-op task for a producer awaiting each result.
WORKLOADS = ("dispatch", "cpu", "io", "latency", "roundtrip")
# How long one round trip may take before the producer gives up on it.
RESULT_TIMEOUT_S = 30.0

# Pure-Python work of about 2 ms per task on the reference machine (3.11, EPYC).
CPU_LOOPS = 16_000
IO_SLEEP_S = 0.1

_protocol: TextIO = sys.stdout


def _take_stdout() -> None:
    """Keep fd 1 for protocol lines; point everything else that prints at stderr."""
    global _protocol
    _protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def emit(**fields: Any) -> None:
    _protocol.write(json.dumps(fields) + "\n")
    _protocol.flush()


class Recorder:
    """Counts finished task bodies in this worker process and remembers when the last one ended."""

    def __init__(self) -> None:
        self.target = 0
        self.done = 0
        self.t0 = 0.0
        self.t_last = 0.0
        self.cpu_busy_s = 0.0
        self.latencies_ns: list[int] = []
        self._finished: asyncio.Event | None = None

    @property
    def finished(self) -> asyncio.Event:
        if self._finished is None:
            self._finished = asyncio.Event()
        return self._finished

    def complete(self) -> None:
        self.done += 1
        self.t_last = time.perf_counter()
        if self.done == self.target:  # a target of 0: run until stopped from outside
            self.finished.set()

    async def settle(self, worker_run: asyncio.Future[Any] | None = None, grace_s: float = 0.2) -> None:
        """Wait for the last task, then give the queue a moment to store its result and ack.

        With `worker_run` (the library's running worker), a worker that stops or
        fails before the last task raises here instead of hanging.
        """
        waiter = asyncio.ensure_future(self.finished.wait())
        if worker_run is None:
            await waiter
        else:
            done, _ = await asyncio.wait({waiter, worker_run}, return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                worker_run.result()
                if self.target == 0:
                    return  # no target: a burst worker that drained the queue is done
                raise RuntimeError(f"the worker stopped after {self.done} of {self.target} tasks")
        await asyncio.sleep(grace_s)


RECORDER = Recorder()


def spin(loops: int = CPU_LOOPS) -> int:
    acc = 0
    for i in range(loops):
        acc = (acc * 31 + i) & 0xFFFFFFFF
    return acc


async def noop_body() -> None:
    RECORDER.complete()


async def cpu_body() -> None:
    started = time.perf_counter()
    spin()
    RECORDER.cpu_busy_s += time.perf_counter() - started
    RECORDER.complete()


async def io_body() -> None:
    await asyncio.sleep(IO_SLEEP_S)
    RECORDER.complete()


async def stamp_body(enqueued_ns: int) -> None:
    RECORDER.latencies_ns.append(time.time_ns() - enqueued_ns)
    RECORDER.complete()


class Peer:
    """One queue library, as the harness drives it. Subclasses fill in the library calls."""

    name = ""
    # The installed distribution whose version the results name.
    distribution = ""
    # Whether the library has a documented batch enqueue.
    batch = False
    # Whether the library has a documented way for a producer to await a job's result.
    results = False

    def __init__(self, url: str) -> None:
        self.url = url

    def version(self) -> str:
        return importlib.metadata.version(self.distribution)

    async def open(self) -> None:
        """Connect the producer side."""

    async def close(self) -> None:
        """Disconnect the producer side."""

    async def enqueue(self, workload: str, enqueued_ns: int = 0) -> None:
        """One awaited enqueue of the workload's task (`enqueued_ns` is the latency task's argument)."""
        raise NotImplementedError

    async def enqueue_batch(self, workload: str, count: int) -> None:
        """`count` tasks through the library's batch API (only when `batch` is true)."""
        raise NotImplementedError

    async def roundtrip(self) -> None:
        """Enqueue the no-op task and await its result through the library's own result API
        (only when `results` is true); raise when the job did not succeed."""
        raise NotImplementedError

    async def work(self, concurrency: int, drain: bool) -> None:
        """Run one worker until `RECORDER.finished` is set, then stop it gracefully.

        `drain` is true when every task is already queued (a burst mode may be used).
        """
        raise NotImplementedError


async def _run_enqueue(peer: Peer, args: argparse.Namespace) -> None:
    await peer.open()
    try:
        count: int = args.count
        started = time.perf_counter()
        if args.mode == "single":
            for _ in range(count):
                await peer.enqueue(args.workload)
        elif args.mode == "batch" or (args.mode == "setup" and peer.batch):
            for first in range(0, count, args.batch_size):
                await peer.enqueue_batch(args.workload, min(args.batch_size, count - first))
        elif args.mode == "setup":
            # Staging only, not measured: a bounded number of concurrent single enqueues.
            for first in range(0, count, 100):
                await asyncio.gather(*(peer.enqueue(args.workload) for _ in range(min(100, count - first))))
        elif args.mode == "spaced":
            interval_s = args.interval_ms / 1000
            for i in range(count):
                delay = started + i * interval_s - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await peer.enqueue(args.workload, time.time_ns())
        seconds = time.perf_counter() - started
    finally:
        await peer.close()
    emit(event="enqueued", jobs=count, seconds=seconds, jobs_per_s=count / seconds if seconds else None)


async def _run_roundtrip(peer: Peer, args: argparse.Namespace) -> None:
    await peer.open()
    try:
        # One round trip before the measured ones, so connecting, loading scripts and a first
        # subscription are not in the figures; then the harness zeroes Redis's counters and
        # writes a line to stdin (end of input: stop without measuring).
        await peer.roundtrip()
        emit(event="warm")
        if not await asyncio.to_thread(sys.stdin.readline):
            return
        samples_ms: list[float] = []
        cpu_started = time.process_time()
        started = time.perf_counter()
        for _ in range(args.count):
            if samples_ms and time.perf_counter() - started > args.budget_s:
                break  # a queue that polls slowly gets fewer round trips, not a longer run
            sent = time.perf_counter()
            await peer.roundtrip()
            samples_ms.append(round((time.perf_counter() - sent) * 1000, 3))
        seconds = time.perf_counter() - started
        # CPU of this whole process (every thread) during the measured loop only.
        cpu_s = time.process_time() - cpu_started
        # Before disconnecting: the harness reads Redis's counters when this line arrives.
        emit(event="roundtrips", samples_ms=samples_ms, seconds=seconds, cpu_s=cpu_s)
    finally:
        await peer.close()


def _watch_stdin(loop: asyncio.AbstractEventLoop) -> threading.Event:
    """Sets `RECORDER.finished` on the first line on stdin or at its end; the returned event is
    set once stdin has ended. A daemon thread: a worker that fails exits without waiting for it."""
    closed = threading.Event()

    def read() -> None:
        sys.stdin.readline()
        loop.call_soon_threadsafe(RECORDER.finished.set)
        sys.stdin.read()
        closed.set()

    threading.Thread(target=read, name="stdin", daemon=True).start()
    return closed


async def _run_worker(peer: Peer, args: argparse.Namespace) -> None:
    # The round-trip worker serves jobs until the harness, done counting, tells it to stop.
    RECORDER.target = 0 if args.workload == "roundtrip" else args.count
    if args.wait_go:
        # Several workers of one run start together: each waits for the harness's "go".
        emit(event="ready", pid=os.getpid())
        await asyncio.to_thread(sys.stdin.readline)
    stdin_closed = _watch_stdin(asyncio.get_running_loop())
    if not args.wait_go:
        emit(event="ready", pid=os.getpid())
    RECORDER.t0 = time.perf_counter()
    # CPU of every thread of this process (the library's own threads included), from the start
    # of the worker loop to its stop: the per-task cost without interpreter start and imports.
    cpu_t0 = time.process_time()
    # The latency and round-trip workers start idle, before their producer: no burst mode.
    await peer.work(args.concurrency, drain=args.workload not in ("latency", "roundtrip"))
    work_cpu_s = time.process_time() - cpu_t0
    seconds = RECORDER.t_last - RECORDER.t0 if RECORDER.done else None
    result: dict[str, Any] = {
        "tasks": RECORDER.done,
        "seconds": seconds,
        "work_cpu_s": work_cpu_s,
        "t_last": RECORDER.t_last,
    }
    if RECORDER.done and args.workload == "cpu":
        result["cpu_body_ms"] = RECORDER.cpu_busy_s / RECORDER.done * 1000
    if RECORDER.latencies_ns:
        result["latencies_ms"] = [round(ns / 1e6, 3) for ns in RECORDER.latencies_ns]
    emit(event="done", **result)
    # The harness samples this process's peak RSS and CPU time, then closes stdin.
    await asyncio.to_thread(stdin_closed.wait)


def main(peer_class: type[Peer]) -> None:
    _take_stdout()
    parser = argparse.ArgumentParser(description=f"bench adapter for {peer_class.name}")
    parser.add_argument("role", choices=("worker", "enqueue", "roundtrip", "info"))
    parser.add_argument("--url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--workload", choices=WORKLOADS, default="dispatch")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--mode", choices=("single", "batch", "setup", "spaced"), default="single")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--interval-ms", type=float, default=2.0)
    parser.add_argument("--budget-s", type=float, default=30.0)
    parser.add_argument("--wait-go", action="store_true", help="worker: start on a line on stdin")
    args = parser.parse_args()
    peer = peer_class(args.url)
    if args.role == "info":
        emit(
            event="info",
            name=peer.name,
            version=peer.version(),
            batch=peer.batch,
            results=peer.results,
            python=sys.version.split()[0],
        )
    elif args.role == "enqueue":
        if args.mode == "batch" and not peer.batch:
            parser.error(f"{peer.name} has no batch enqueue")
        asyncio.run(_run_enqueue(peer, args))
    elif args.role == "roundtrip":
        if not peer.results:
            parser.error(f"{peer.name} has no result API")
        asyncio.run(_run_roundtrip(peer, args))
    else:
        asyncio.run(_run_worker(peer, args))
