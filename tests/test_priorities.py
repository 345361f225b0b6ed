"""Priorities: ten levels, higher first, first in first out within a level."""

from __future__ import annotations

import asyncio

from ardiq import Ardiq
from worker_harness import WAIT_S, eventually, run_burst, running_worker


async def test_higher_priority_jobs_run_first(app: Ardiq) -> None:
    order: list[str] = []

    @app.task
    async def record(tag: str) -> None:
        order.append(tag)

    await app.enqueue_many(
        [record.options(priority=1).prepare(f"low-{i}") for i in range(3)]
        + [record.prepare(f"mid-{i}") for i in range(3)]
        + [record.options(priority=9).prepare(f"high-{i}") for i in range(3)]
    )
    await run_burst(app, concurrency=1)

    assert order == [f"{level}-{i}" for level in ("high", "mid", "low") for i in range(3)]


async def test_every_level_from_0_to_9_runs_in_order(app: Ardiq) -> None:
    order: list[int] = []

    @app.task
    async def record(priority: int) -> None:
        order.append(priority)

    await app.enqueue_many([record.options(priority=p).prepare(p) for p in (3, 0, 7, 9, 1, 5, 8, 2, 6, 4)])
    await run_burst(app, concurrency=1)

    assert order == list(range(9, -1, -1))


async def test_jobs_of_one_priority_run_in_enqueue_order(app: Ardiq) -> None:
    order: list[int] = []

    @app.task
    async def record(n: int) -> None:
        order.append(n)

    for n in range(5):
        await record.enqueue(n)
    await app.enqueue_many([record.prepare(n) for n in range(5, 10)])
    await run_burst(app, concurrency=1)

    assert order == list(range(10))


async def test_sync_tasks_follow_priorities_too(app: Ardiq) -> None:
    order: list[str] = []

    @app.task
    def record(tag: str) -> None:
        order.append(tag)

    await app.enqueue_many(
        [record.options(priority=0).prepare("low"), record.options(priority=9).prepare("high")]
    )
    await run_burst(app, concurrency=1)

    assert order == ["high", "low"]


async def test_jobs_enqueued_together_while_the_worker_waits_run_higher_first(app: Ardiq) -> None:
    order: list[str] = []

    @app.task
    async def record(tag: str) -> None:
        order.append(tag)

    # A long block: the worker is surely waiting in its read when the batch lands.
    async with running_worker(app, concurrency=1, block_ms=5_000):
        await asyncio.sleep(0.3)
        jobs = await app.enqueue_many(
            [record.options(priority=0).prepare("low"), record.options(priority=9).prepare("high")]
        )
        for job in jobs:
            await job.result(timeout_s=WAIT_S)

    assert order == ["high", "low"]


async def test_higher_jobs_that_come_while_a_backlog_drains_start_before_its_rest(app: Ardiq) -> None:
    # A backlog long enough that the worker reads its level many times; jobs
    # that come on a higher level meanwhile overtake what it has not started.
    order: list[str] = []

    @app.task
    async def record(tag: str) -> None:
        order.append(tag)
        await asyncio.sleep(0.001)

    await app.enqueue_many([record.prepare(f"mid-{i}") for i in range(3_000)])
    async with running_worker(app, concurrency=10):
        await eventually(lambda: len(order) >= 500, "500 jobs of the backlog to start")
        mark = len(order)
        high = await app.enqueue_many([record.options(priority=9).prepare(f"high-{i}") for i in range(30)])
        for job in high:
            await job.result(timeout_s=WAIT_S)
        await eventually(lambda: len(order) == 3_030, "the rest of the backlog to run")

    assert sorted(order) == sorted([f"mid-{i}" for i in range(3_000)] + [f"high-{i}" for i in range(30)])
    assert [tag for tag in order if tag.startswith("mid")] == [f"mid-{i}" for i in range(3_000)]
    last_high = max(i for i, tag in enumerate(order) if tag.startswith("high"))
    # Before the last high job, only backlog jobs the worker had already
    # started or held (10 slots, a prefetch of at most 200) and one pass in
    # flight may start: far fewer than the 2,500 the backlog still had.
    assert last_high - mark < 30 + 10 + 2 * 200
