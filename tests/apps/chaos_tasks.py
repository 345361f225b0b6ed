"""Tasks of the chaos run (`tests/chaos.py`), for `python -m ardiq run
chaos_tasks:app` in `tests/apps` with ARDIQ_REDIS_URL and ARDIQ_QUEUE set.

Every execution writes its own record into keys the harness owns, so that
duplicates, losses and overlapping runs are counted from data:

- `chaos:{<run>}:runs`, a hash: field = a fresh token per execution,
  value = `<job id> <worker pid> <start ms>`, written before the body runs;
- `chaos:{<run>}:ends`, a hash: same token, value = `<end ms> <outcome>`
  (`ok`, or `cancelled` when the worker stopped an async run), written when
  the body is done.

Both writes are `HSET` of a field nobody else writes, so the client may
resend one after a connection error (a Redis restart drops replies) without
counting anything twice; a counter (`HINCRBY`) could not be resent safely.
The clients retry for a while, so a run that overlaps the harness's Redis
restart still records itself instead of failing. redis-py retries a command
but not the taking of a pooled connection, which fails when the server
closes it as it is checked (the chaos run's `--sever-interval`), so each
write is also retried here as a whole."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import redis
import redis.asyncio
from ardiq import Ardiq
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError
from redis.retry import Retry

app = Ardiq(os.environ.get("ARDIQ_REDIS_URL"), queue=os.environ.get("ARDIQ_QUEUE", "default"))

# A Redis restart in the chaos run takes well under a second; 60 tries
# capped at 0.5 s apart ride out 30 s of downtime.
_RETRIED = (ConnectionError, TimeoutError, BusyLoadingError)
_records = redis.Redis.from_url(
    app.url,
    retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 60, _RETRIED),
    retry_on_error=list(_RETRIED),
)
_async_records = redis.asyncio.Redis.from_url(
    app.url,
    retry=AsyncRetry(ExponentialBackoff(cap=0.5, base=0.02), 60, _RETRIED),
    retry_on_error=list(_RETRIED),
)
_PID = os.getpid()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _start_record(job: str) -> tuple[str, str]:
    return uuid.uuid4().hex, f"{job} {_PID} {_now_ms()}"


# Whole writes tried again: 60 times, 0.1 s apart.
_WRITE_TRIES = 60
_WRITE_PAUSE_S = 0.1


def _record(key: str, token: str, value: str) -> None:
    for attempt in range(_WRITE_TRIES):
        try:
            _records.hset(key, token, value)
            return
        except _RETRIED:
            if attempt == _WRITE_TRIES - 1:
                raise
            time.sleep(_WRITE_PAUSE_S)


async def _record_async(key: str, token: str, value: str) -> None:
    for attempt in range(_WRITE_TRIES):
        try:
            await _async_records.hset(key, token, value)
            return
        except _RETRIED:
            if attempt == _WRITE_TRIES - 1:
                raise
            await asyncio.sleep(_WRITE_PAUSE_S)


def _begin(run: str, job: str) -> str:
    token, value = _start_record(job)
    _record(f"chaos:{{{run}}}:runs", token, value)
    return token


def _end(run: str, token: str, outcome: str = "ok") -> None:
    _record(f"chaos:{{{run}}}:ends", token, f"{_now_ms()} {outcome}")


async def _begin_async(run: str, job: str) -> str:
    token, value = _start_record(job)
    await _record_async(f"chaos:{{{run}}}:runs", token, value)
    return token


async def _end_async(run: str, token: str, outcome: str = "ok") -> None:
    await _record_async(f"chaos:{{{run}}}:ends", token, f"{_now_ms()} {outcome}")


async def _sleep_recorded(run: str, job: str, seconds: float) -> str:
    token = await _begin_async(run, job)
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        # The worker stopped this run (its entry was lost, or shutdown): the
        # end time tells whether it still ran when another run started.
        await _end_async(run, token, "cancelled")
        raise
    await _end_async(run, token)
    return job


@app.task
async def quick(run: str, job: str) -> str:
    """An async job that does next to nothing."""
    return await _sleep_recorded(run, job, 0)


@app.task
def blocking(run: str, job: str, seconds: float) -> str:
    """A sync job: blocks a thread of the worker's pool for `seconds`."""
    token = _begin(run, job)
    time.sleep(seconds)
    _end(run, token)
    return job


@app.task
async def long(run: str, job: str, seconds: float) -> str:
    """An async job longer than the visibility timeout: only renewal keeps
    it from being reclaimed while its worker lives."""
    return await _sleep_recorded(run, job, seconds)


@app.task
def long_blocking(run: str, job: str, seconds: float) -> str:
    """A sync job longer than the visibility timeout: a thread that cannot
    be stopped, so a reclaim while its worker lives shows as an overlap."""
    token = _begin(run, job)
    time.sleep(seconds)
    _end(run, token)
    return job
