"""ACL users with exactly the command lists of SPEC.md section 13: a
producer enqueues, reads and aborts through the `ardiq` package and the
pure-Python client, and a worker runs, retries, delays, dead-letters and
hands back jobs and enqueues cron ticks, with Redis refusing nothing (`ACL
LOG` stays empty)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from ardiq import Ardiq, AuthenticationFailed, JobStatus, current_job
from ardiq_client import AsyncClient
from worker_harness import WAIT_S, eventually, run_burst, running_worker, wait_for_status

SPEC = Path(__file__).resolve().parents[1] / "spec" / "SPEC.md"


def spec_acl_lists() -> tuple[list[str], list[str]]:
    """The producer's and the worker's extra ACL rules, as SPEC.md writes them."""
    section = SPEC.read_text().split("## 13. Security")[1].split("## 14.")[0]
    blocks = re.findall(r"```\n(.*?)```", section, flags=re.DOTALL)
    producer = blocks[0].split("\n", 1)[1].split()
    worker = blocks[1].split()
    return producer, worker


def acl(inspector: redis.Redis, *args: str) -> Any:
    return cast(Any, inspector).execute_command("ACL", *args)


def create_user(inspector: redis.Redis, name: str, queue: str, rules: list[str]) -> str:
    keys, channel = f"~ardiq:{{{queue}}}:*", f"&ardiq:{{{queue}}}:events"
    acl(inspector, "SETUSER", name, "reset", "on", ">secret", keys, channel, *rules)
    return name


@pytest.fixture
def users(inspector: redis.Redis, queue: str) -> Iterator[tuple[str, str]]:
    producer_rules, worker_rules = spec_acl_lists()
    producer = create_user(inspector, f"producer-{queue}", queue, producer_rules)
    worker = create_user(inspector, f"worker-{queue}", queue, [*producer_rules, *worker_rules])
    acl(inspector, "LOG", "RESET")
    yield producer, worker
    acl(inspector, "DELUSER", producer, worker)


def denied(inspector: redis.Redis, users: tuple[str, ...]) -> list[str]:
    entries = acl(inspector, "LOG")
    refused = []
    for entry in entries:
        fields = entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2], strict=True))
        fields = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()
        }
        user = fields["username"]
        if user in users:
            refused.append(f"{user}: {fields['reason']} {fields['object']}")
    return refused


def url_for(redis_url: str, user: str) -> str:
    return redis_url.replace("redis://", f"redis://{user}:secret@", 1)


def test_the_spec_lists_are_where_the_test_reads_them() -> None:
    producer, worker = spec_acl_lists()
    assert "-@all" in producer
    assert "+evalsha" in producer
    assert "+xreadgroup" in worker


async def test_a_producer_and_a_worker_work_with_exactly_the_spec_acl_lists(
    redis_url: str, inspector: redis.Redis, queue: str, users: tuple[str, str]
) -> None:
    producer_user, worker_user = users
    producer = Ardiq(url_for(redis_url, producer_user), queue=queue)
    worker = Ardiq(url_for(redis_url, worker_user), queue=queue)
    attempts: list[int] = []

    @worker.task
    async def add(x: int, y: int) -> int:
        return x + y

    @worker.task
    async def slow(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    @worker.task(retries=1, backoff_ms=10)
    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first run fails")
        return "second run"

    try:
        await producer.ping()
        plain = await producer.send("add", 1, 2)
        later = await producer.options(delay_ms=50).send("add", 3, 4)
        retried = await producer.send("flaky")
        unknown = await producer.send("nobody_runs_this")
        aborted = await producer.options(delay_ms=60_000).send("add", 0, 0)
        assert (await aborted.abort()).accepted
        assert await plain.status() is JobStatus.QUEUED

        async with running_worker(worker):
            assert await plain.result(timeout_s=WAIT_S) == 3
            assert await later.result(timeout_s=WAIT_S) == 7
            assert await retried.result(timeout_s=WAIT_S) == "second run"
            await wait_for_status(unknown, JobStatus.DEAD)
        assert await aborted.status() is JobStatus.ABORTED
        # Dead letters are an operator's: the worker's list has what they need.
        [letter] = await worker.dead_letters()
        assert letter.reason == "unknown_task"
        assert await worker.replay_dead_letter(letter.entry_id) is not None
        assert await worker.delete_dead_letters(["0-1"]) == 0
        async with AsyncClient.from_url(url_for(redis_url, producer_user), queue=queue) as client:
            job = await client.send("add", (5, 6))
            assert await client.status(job.id) == "queued"
            await run_burst(worker)
            assert await job.result(timeout_s=WAIT_S) == 11
        # Renewal of a job longer than the visibility timeout, and the hand
        # back at shutdown of one that did not finish.
        first, second = await producer.send("slow", 1.5), await producer.send("slow", 30.0)
        async with running_worker(worker, concurrency=1, prefetch=1, visibility_ms=600, grace_s=0.1):
            assert await first.result(timeout_s=WAIT_S) == 1.5
            await wait_for_status(second, JobStatus.RUNNING)
        assert await second.status() is JobStatus.QUEUED
        # The producer's list has no waiting commands (SPEC.md section 13):
        # each of its two clients is refused once, then polls; the worker is
        # refused nothing.
        refused = denied(inspector, users)
        assert len(refused) <= 2, refused
        waiting = ("subscribe", "zremrangebyscore", "zcard")
        for refusal in refused:
            assert refusal.startswith(f"{producer_user}: command "), refused
            assert refusal.endswith(waiting), refused
    finally:
        await producer.close()
        await worker.close()


async def test_a_worker_runs_cron_schedules_with_exactly_the_spec_acl_list(
    redis_url: str, inspector: redis.Redis, queue: str, users: tuple[str, str]
) -> None:
    _, worker_user = users
    worker = Ardiq(url_for(redis_url, worker_user), queue=queue)
    ticks: list[str] = []

    @worker.cron(every=timedelta(seconds=1))
    async def tick() -> None:
        ticks.append(current_job().id)

    try:
        async with running_worker(worker):
            await eventually(lambda: len(ticks) >= 2, "two ticks")
        assert denied(inspector, users) == []
    finally:
        await worker.close()


async def test_a_user_without_the_worker_list_cannot_run_a_worker(
    redis_url: str, queue: str, users: tuple[str, str]
) -> None:
    producer_user, _ = users
    app = Ardiq(url_for(redis_url, producer_user), queue=queue)

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        with pytest.raises(Exception, match=r"NOPERM|no permissions"):
            await run_burst(app)
    finally:
        await app.close()


async def test_a_wrong_password_is_authentication_failed(redis_url: str, users: tuple[str, str]) -> None:
    producer_user, _ = users
    app = Ardiq(redis_url.replace("redis://", f"redis://{producer_user}:wrong@", 1), queue="q")
    try:
        with pytest.raises(AuthenticationFailed):
            await app.ping()
    finally:
        await app.close()
