"""The read-only inspection of the pure-Python client (SPEC.md section 20)
against a known state: jobs queued at priorities, scheduled ones, failures
and dead letters a burst of the `ardiq` worker left (tests/e2e_tasks.py),
and a live worker holding jobs. The async and the sync client read alike."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from ardiq_client import AsyncClient, Client
from ardiq_client.inspect import ListState
from test_end_to_end import run_burst_worker, worker  # noqa: F401 - the fixture

QUEUED = {9: 2, 5: 3, 0: 1}


async def known_state(client: AsyncClient) -> list[str]:
    for priority, count in QUEUED.items():
        for n in range(count):
            await client.send("add", [priority, n], priority=priority)
    return [(await client.send("add", [1, 1], delay_ms=60_000 + n)).id for n in range(3)]


async def test_queue_info_counts_by_priority(client: AsyncClient, sync_client: Client) -> None:
    before = int(time.time() * 1000)
    await known_state(client)

    for info in (await client.queue_info(), sync_client.queue_info()):
        assert info.exists
        assert {level.priority: level.waiting for level in info.levels if level.waiting} == QUEUED
        assert (info.waiting, info.held, info.scheduled, info.running) == (6, 0, 3, 0)
        assert info.next_due_ms is not None
        assert info.next_due_ms >= before + 60_000
        assert info.oldest_waiting_ms is not None
        assert info.oldest_waiting_ms >= before - 1000
        assert info.lag_ms(int(time.time() * 1000)) >= 0


async def test_scheduled_jobs_page_in_due_order(client: AsyncClient, sync_client: Client) -> None:
    ids = await known_state(client)

    first = await client.jobs("scheduled", count=2)
    rest = sync_client.jobs(ListState.SCHEDULED, count=2, cursor=first.next)

    assert [job.job_id for job in first.jobs + rest.jobs] == ids
    assert rest.next is None
    assert first.jobs[0].job is not None
    assert first.jobs[0].job.task == "add"
    assert first.jobs[0].at_ms == first.jobs[0].job.due_ms


async def test_scheduled_pages_go_on_after_the_cursor_job_leaves(
    client: AsyncClient, sync_client: Client
) -> None:
    """120 jobs due at one ms: after each page of 25, its last job and four
    before it are aborted; both clients page on from the gone job."""
    at = int(time.time() * 1000) + 3_600_000
    ids = [(await client.send("add", [1, n], schedule_ms=at)).id for n in range(120)]
    expected = sorted(ids, key=str.encode)

    seen: list[str] = []
    cursor = None
    for n in range(5):
        page = (
            await client.jobs("scheduled", count=25, cursor=cursor)
            if n % 2
            else sync_client.jobs("scheduled", count=25, cursor=cursor)
        )
        seen += [job.job_id for job in page.jobs]
        for job in page.jobs[-5:]:
            await client.abort(job.job_id)
        cursor = page.next
        if cursor is None:
            break

    assert seen == expected
    assert cursor is None
    assert (await client.queue_info()).scheduled == 120 - 25


async def test_a_job_id_that_is_not_utf8_is_listed_replaced(
    client: AsyncClient, sync_client: Client, inspector: redis.Redis, queue: str
) -> None:
    """A foreign producer's id bytes that are not UTF-8 fail neither client's listing."""
    job = await client.send("add", [1, 2], delay_ms=60_000)
    inspector.zadd(f"ardiq:{{{queue}}}:delayed", {b"bad-\xff": 1})

    for page in (await client.jobs("scheduled"), sync_client.jobs("scheduled")):
        assert [j.job_id for j in page.jobs] == ["bad-\ufffd", job.id]
        assert page.jobs[0].job is None


@pytest.mark.parametrize("cursor", ["25", "x:add", "1e:add"])
async def test_a_scheduled_cursor_no_page_gave_is_refused(client: AsyncClient, cursor: str) -> None:
    from ardiq_client import InvalidOption

    with pytest.raises(InvalidOption, match="cursor"):
        await client.jobs(ListState.SCHEDULED, cursor=cursor)


@pytest.mark.parametrize(
    ("state", "cursor"),
    [
        (ListState.FAILED, "abc"),
        (ListState.FAILED, "1-x"),
        (ListState.DEAD, "99999999999999999999-0"),
        (ListState.RUNNING, "9:zzz"),
        (ListState.RUNNING, "5:abc"),
    ],
)
async def test_an_entry_cursor_no_page_gave_is_refused(
    client: AsyncClient, sync_client: Client, state: ListState, cursor: str
) -> None:
    from ardiq_client import InvalidOption

    with pytest.raises(InvalidOption, match="cursor"):
        await client.jobs(state, cursor=cursor)
    with pytest.raises(InvalidOption, match="cursor"):
        sync_client.jobs(state, cursor=cursor)


async def test_failures_and_dead_letters_list_with_their_errors(
    redis_url: str, queue: str, client: AsyncClient, sync_client: Client
) -> None:
    failed = [(await client.send("fail", [f"no {n}"])).id for n in range(3)]
    dead = (await client.send("no_such_task")).id
    run_burst_worker(redis_url, queue)

    page = await client.jobs(ListState.FAILED, count=2)
    rest = sync_client.jobs("failed", count=2, cursor=page.next)
    letters = await client.jobs(ListState.DEAD)

    assert [job.job_id for job in page.jobs + rest.jobs] == failed
    assert page.jobs[0].error is not None
    assert (page.jobs[0].error.type, page.jobs[0].error.message) == ("ValueError", "no 0")
    assert page.jobs[0].attempts == 1
    assert [(job.job_id, job.reason) for job in letters.jobs] == [(dead, "unknown_task")]
    assert (await client.queue_info()).failed == 3


@pytest.mark.usefixtures("worker")
async def test_running_jobs_and_live_workers(client: AsyncClient, sync_client: Client) -> None:
    jobs = [(await client.send("sleep", [30.0])).id for _ in range(2)]
    deadline = time.monotonic() + 60
    while (await client.queue_info()).running < 2:
        assert time.monotonic() < deadline, "the worker never held both jobs"
        await asyncio.sleep(0.05)

    page = await client.jobs(ListState.RUNNING)
    [seen] = sync_client.workers()

    assert sorted(job.job_id for job in page.jobs) == sorted(jobs)
    assert all(job.in_running and job.worker_id == seen.worker_id for job in page.jobs)
    assert {job.task for job in page.jobs} == {"sleep"}
    assert seen.alive
    assert seen.queues == [client.queue]
    assert seen.hostname
    assert [w.worker_id for w in await client.workers()] == [seen.worker_id]
    for job_id in jobs:
        await client.abort(job_id)


@pytest.mark.parametrize("count", [0, 1001, True])
async def test_a_page_size_out_of_bounds_is_refused(client: AsyncClient, count: int) -> None:
    from ardiq_client import InvalidOption

    with pytest.raises(InvalidOption):
        await client.jobs(ListState.DEAD, count=count)


async def test_a_worker_gone_a_minute_ago_is_neither_listed_nor_counted(
    client: AsyncClient, sync_client: Client, inspector: redis.Redis, queue: str
) -> None:
    # No live worker is left to prune `workers`: the listing leaves old members out itself.
    now_ms = int(time.time() * 1000)
    inspector.zadd(
        f"ardiq:{{{queue}}}:workers",
        {"w-crashed": now_ms - 3 * 86_400_000, "w-minute": now_ms - 60_000, "w-recent": now_ms - 10_000},
    )

    for listed, info in (
        (await client.workers(), await client.queue_info()),
        (sync_client.workers(), sync_client.queue_info()),
    ):
        assert [(w.worker_id, w.alive) for w in listed] == [("w-recent", False)]
        assert info.workers == 1
