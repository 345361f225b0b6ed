"""Tasks for subprocess workers of the worker's test suite
(`python -m ardiq run process_tasks:app` in `tests/apps`, with
ARDIQ_REDIS_URL and ARDIQ_QUEUE set). Runs are counted in Redis, under keys
the test passes in, so that a test sees every run of every process."""

from __future__ import annotations

import asyncio
import os
import time

import redis
from ardiq import Ardiq

app = Ardiq(os.environ.get("ARDIQ_REDIS_URL"), queue=os.environ.get("ARDIQ_QUEUE", "default"))
# ARDIQ_TEST_COUNTERS_URL: a Redis reached apart from the worker's own path to it.
counters = redis.Redis.from_url(os.environ.get("ARDIQ_TEST_COUNTERS_URL") or app.url)


@app.task
async def sleep_and_count(key: str, seconds: float) -> str:
    """Counts its start in `key`, sleeps, then counts its end in `key:finished`."""
    counters.incr(key)
    await asyncio.sleep(seconds)
    counters.incr(f"{key}:finished")
    return f"slept {seconds} s"


@app.task
async def tagged_sleep(key: str, tag: str, seconds: float) -> str:
    """Counts starts and ends per tag in the hashes `key:started` and `key:finished`."""
    counters.hincrby(f"{key}:started", tag, 1)
    await asyncio.sleep(seconds)
    counters.hincrby(f"{key}:finished", tag, 1)
    return tag


@app.task
async def end_worker(key: str) -> None:
    """Counts its run, then ends its worker process the hard way, every time."""
    counters.incr(key)
    os._exit(1)


@app.task
async def raise_exit(kind: str, suspend_first: bool) -> None:
    """Raises `KeyboardInterrupt` or `SystemExit`, before or after its first await."""
    if suspend_first:
        await asyncio.sleep(0.01)
    raise KeyboardInterrupt if kind == "KeyboardInterrupt" else SystemExit(3)


@app.task
async def swallow_cancellation(key: str) -> None:
    """Counts its start in `key`, then catches every cancellation, for ever."""
    counters.incr(key)
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            counters.incr(f"{key}:cancelled")


@app.task
async def stall_once(key: str, tag: str) -> str:
    """Counts its run under `tag` in the hash `key`; the first run of each
    tag stalls for a minute (its worker is meant to be killed meanwhile),
    later runs return at once."""
    if counters.hincrby(key, tag, 1) == 1:
        await asyncio.sleep(60)
    return tag


@app.task
async def count_run(*args: object, **kwargs: object) -> int:
    """Takes any arguments; counts its runs per job id in the hash `ardiq-test:runs:<queue>`."""
    from ardiq import current_job

    return int(counters.hincrby(f"ardiq-test:runs:{app.queue}", current_job().id, 1))


@app.task
async def greet(name: str) -> str:
    return f"hello {name}"


@app.task
def blocking_sleep(key: str, seconds: float) -> str:
    """A sync task: counts its start in `key`, then blocks its thread."""
    counters.incr(key)
    time.sleep(seconds)
    counters.incr(f"{key}:finished")
    return f"slept {seconds} s"


# The limit counts from the start of the run, a child's start-up included:
# long enough for a loaded machine, far shorter than the 30 s nap it stops.
@app.task(process=True, timeout_s=3.0)
def pid_or_nap(seconds: float) -> int:
    """Runs in a child process of the worker: returns that process's id
    after `seconds`, or is killed by its time limit."""
    time.sleep(seconds)
    return os.getpid()


@app.task(process=True)
def job_in_a_child() -> list[object]:
    """What `current_job()` says inside a child process."""
    from ardiq import current_job

    job = current_job()
    return [job.id, job.task, job.queue, job.attempt, job.worker_id, os.getpid()]


@app.task
async def fail_once_then_greet(flag: str, name: str) -> str:
    """Fails while the Redis key `flag` is unset, and sets it: the first
    burst keeps the failure, the replayed run greets."""
    if counters.incr(f"{flag}:{name}") == 1:
        raise RuntimeError(f"first run of {name} fails")
    return f"hello {name}"


@app.task
async def report_then_sleep(fraction: float, message: str, seconds: float) -> str:
    """Reports one progress, then runs on for `seconds`."""
    from ardiq import current_job

    current_job().progress(fraction, message)
    await asyncio.sleep(seconds)
    return message
