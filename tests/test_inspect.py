"""The inspection API against a known state: jobs queued at priorities,
scheduled ones, jobs a live worker holds, a SIGKILLed worker shown as gone,
pages of every listing, one job's full record, the queues of a Redis, and
purge."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from ardiq import Ardiq, JobStatus
from ardiq.inspect import ListState
from ardiq_client.scripts import read_script
from wire_records import Keys, add_entry
from worker_harness import WAIT_S, SpawnWorker, eventually, run_burst

QUEUED = {9: 3, 5: 2, 0: 4}


async def enqueue_known_state(app: Ardiq) -> list[str]:
    """Jobs of a task no worker here registers: 3 at priority 9, 2 at 5, 4
    at 0, and 2 scheduled a minute ahead. Returns the scheduled ids."""
    for priority, count in QUEUED.items():
        for n in range(count):
            await app.options(priority=priority).send("unregistered", priority, n)
    scheduled = [await app.options(delay_ms=60_000 + n).send("unregistered", "later") for n in range(2)]
    return [job.id for job in scheduled]


async def test_queue_info_counts_waiting_jobs_per_priority_and_scheduled_ones(app: Ardiq) -> None:
    before_ms = int(time.time() * 1000)
    await enqueue_known_state(app)

    info = await app.queue_info()

    assert info.exists
    assert info.queue == app.queue
    assert {level.priority: level.waiting for level in info.levels if level.waiting} == QUEUED
    assert [level.priority for level in info.levels] == list(range(9, -1, -1))
    assert (info.waiting, info.held, info.running, info.scheduled) == (9, 0, 0, 2)
    assert (info.dead, info.failed, info.workers) == (0, 0, 0)
    assert info.next_due_ms is not None
    assert before_ms + 60_000 <= info.next_due_ms <= before_ms + 60_000 + WAIT_S * 1000
    assert info.oldest_waiting_ms is not None
    assert before_ms - 1000 <= info.oldest_waiting_ms <= int(time.time() * 1000)
    assert info.lag_ms >= 0


async def test_a_queue_never_used_does_not_exist(app: Ardiq) -> None:
    info = await app.queue_info("never-used-queue")

    assert not info.exists
    assert (info.waiting, info.scheduled, info.workers) == (0, 0, 0)


async def test_held_jobs_and_a_killed_worker_shown_as_gone(
    app: Ardiq, spawn_worker: SpawnWorker, inspector: redis.Redis, keys: Keys
) -> None:
    jobs = [await app.send("sleep_and_count", f"{keys.prefix}n{n}", 60.0) for n in range(3)]
    worker = spawn_worker("process_tasks:app", "--concurrency", "3", "--heartbeat-ms", "200")

    async def holding_three() -> bool:
        info = await app.queue_info()
        return info.running == 3 and info.held == 3

    await eventually(holding_three, "the worker holds the 3 jobs")

    async def reports_three() -> bool:
        # The first heartbeat and the first fetch go out on different connections: the jobs may
        # be held before the worker is listed.
        seen = await app.workers()
        return len(seen) == 1 and seen[0].running == 3

    await eventually(reports_three, "the heartbeat reports 3 running")
    [alive] = await app.workers()
    assert alive.alive
    assert alive.pid == worker.pid
    assert alive.queues == [app.queue]
    assert alive.concurrency == 3
    assert alive.hostname
    assert alive.started_ms <= alive.seen_ms
    page = await app.jobs(ListState.RUNNING)
    assert sorted(job.job_id for job in page.jobs) == sorted(job.id for job in jobs)
    assert page.next is None
    for listed in page.jobs:
        assert listed.worker_id == alive.worker_id
        assert listed.in_running
        assert listed.task == "sleep_and_count"
        assert listed.deliveries == 1
        assert listed.job is not None
        assert listed.job.args == [
            f"{keys.prefix}n{jobs.index(next(j for j in jobs if j.id == listed.job_id))}",
            60.0,
        ]
    details = await app.job_details(jobs[0].id)
    assert details.status is JobStatus.RUNNING
    assert details.worker_id == alive.worker_id

    worker.kill()

    async def gone() -> bool:
        [seen] = await app.workers()
        return not seen.alive

    await eventually(gone, "the killed worker is shown as gone")
    [dead] = await app.workers()
    assert dead.worker_id == alive.worker_id
    assert dead.hostname == ""  # its heartbeat record expired with it
    info = await app.queue_info()
    assert (info.running, info.held, info.workers) == (3, 3, 1)


async def test_listings_page_through_scheduled_jobs_in_due_order(app: Ardiq) -> None:
    ids = [(await app.options(delay_ms=60_000 + 10 * n).send("later", n)).id for n in range(25)]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await app.jobs("scheduled", count=10, cursor=cursor)
        pages += 1
        seen += [job.job_id for job in page.jobs]
        assert all(job.state is ListState.SCHEDULED and job.task == "later" for job in page.jobs)
        if page.next is None:
            break
        cursor = page.next

    assert seen == ids
    assert pages == 3
    first = (await app.jobs("scheduled", count=1)).jobs[0]
    assert first.job is not None
    assert first.job.args == [0]
    assert first.at_ms == first.job.due_ms


async def test_scheduled_pages_skip_and_repeat_nothing_while_listed_jobs_leave(app: Ardiq) -> None:
    """600 scheduled jobs, 500 of them due at the same ms (ties wider than
    several pages). After each page its last job and three before it are
    aborted: an offset cursor would then skip four jobs a page."""
    at = int(time.time() * 1000) + 3_600_000
    tied = await app.enqueue_many([app.options(schedule_ms=at).prepare("later", n) for n in range(500)])
    after = await app.enqueue_many(
        [app.options(schedule_ms=at + 1 + n).prepare("later", n) for n in range(100)]
    )
    expected = sorted((job.id for job in tied), key=str.encode) + [job.id for job in after]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await app.jobs("scheduled", count=70, cursor=cursor)
        pages += 1
        seen += [job.job_id for job in page.jobs]
        for job in page.jobs[-4:]:
            assert await app.job(job.job_id).abort() == "aborted"
        if page.next is None:
            break
        assert page.next == f"{page.jobs[-1].at_ms}:{page.jobs[-1].job_id}"
        cursor = page.next

    assert seen == expected
    assert pages == 9  # 8 full pages of 70, then 40, and no empty one after them
    assert (await app.queue_info()).scheduled == 600 - 4 * pages


@pytest.mark.parametrize("cursor", ["12", "x:job", ":job", "1.:job", "1_000:job"])
async def test_a_scheduled_cursor_no_page_gave_is_refused(app: Ardiq, cursor: str) -> None:
    from ardiq import InvalidOption

    with pytest.raises(InvalidOption, match="cursor"):
        await app.jobs(ListState.SCHEDULED, cursor=cursor)


async def test_dead_letters_list_with_their_reason(app: Ardiq) -> None:
    @app.task
    async def known() -> None:
        return None

    ids = [(await app.send("unknown_name", n)).id for n in range(4)]
    await run_burst(app)

    page = await app.jobs(ListState.DEAD, count=3)
    rest = await app.jobs(ListState.DEAD, count=3, cursor=page.next)

    assert [job.job_id for job in page.jobs + rest.jobs] == ids
    assert rest.next is None
    assert {job.reason for job in page.jobs} == {"unknown_task"}
    assert all(job.entry_id and job.at_ms > 0 for job in page.jobs)


async def test_job_details_of_a_scheduled_and_a_complete_job(app: Ardiq) -> None:
    @app.task
    async def double(x: int) -> int:
        return 2 * x

    expires_ms = int(time.time() * 1000) + 3_600_000
    later = await double.options(delay_ms=60_000, headers={"tenant": "t1"}, expires_ms=expires_ms).enqueue(4)
    now = await double.enqueue(21)
    await run_burst(app)

    scheduled = await app.job_details(later.id)
    assert scheduled.status is JobStatus.SCHEDULED
    assert scheduled.job is not None
    assert (scheduled.job.task, scheduled.job.args, scheduled.job.attempt) == ("double", [4], 0)
    assert scheduled.job.headers == {"tenant": "t1"}
    assert scheduled.job.expires_ms == expires_ms
    assert scheduled.due_ms == scheduled.job.due_ms
    complete = await app.job_details(now.id)
    assert complete.status is JobStatus.COMPLETE
    assert complete.record is not None
    assert (complete.record.value, complete.record.attempts, complete.record.task) == (42, 1, "double")
    assert complete.record.finished_ms >= complete.record.started_ms > 0
    assert complete.record.progress is None
    missing = await app.job_details("no-such-job")
    assert (missing.status, missing.record) == (JobStatus.NOT_FOUND, None)


async def test_list_queues_finds_every_queue_with_keys(redis_url: str, queue: str) -> None:
    names = [f"{queue}-{suffix}" for suffix in ("a", "b")]
    for name in names:
        await Ardiq(redis_url, queue=name).send("t")

    found = await Ardiq(redis_url, queue=queue).list_queues()

    assert set(names) <= set(found)
    assert found == sorted(found)


async def test_purge_removes_waiting_and_scheduled_jobs_with_their_status(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    scheduled = await enqueue_known_state(app)
    queued = (await app.jobs(ListState.SCHEDULED)).jobs

    removed = await app.purge()

    assert removed == 9 + 2
    info = await app.queue_info()
    assert (info.waiting, info.scheduled) == (0, 0)
    assert [await app.job(job_id).status() for job_id in scheduled] == [JobStatus.NOT_FOUND] * 2
    assert inspector.hlen(keys.delayed_jobs) == 0
    assert len(queued) == 2
    assert await app.purge() == 0


async def test_purge_removes_jobs_past_its_chunks_on_every_level_and_leaves_fetched_ones(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    # More than a purge call takes (500) on one level, two levels, more than
    # a call's worth of scheduled jobs, and three entries a worker fetched.
    @app.task
    async def noop(n: int) -> int:
        return n

    waiting = await app.enqueue_many(
        [noop.options(priority=9 if n < 700 else 2).prepare(n) for n in range(1_200)]
    )
    scheduled = await app.enqueue_many([noop.options(delay_ms=3_600_000).prepare(n) for n in range(600)])
    inspector.xgroup_create(keys.stream(9), "ardiq", id="0")  # as a starting worker does
    fetched: Any = inspector.xreadgroup("ardiq", "w-test", {keys.stream(9): ">"}, count=3)
    fetched_ids = {fields[b"id"].decode() for _, fields in fetched[0][1]}

    assert await app.purge() == 1_200 - 3 + 600

    assert inspector.xlen(keys.stream(9)) == 3
    assert inspector.xlen(keys.stream(2)) == 0
    assert inspector.zcard(keys.delayed) == 0
    assert inspector.hlen(keys.delayed_jobs) == 0
    pipe = inspector.pipeline()
    for job in [*waiting, *scheduled]:
        pipe.exists(keys.job(job.id))
    left = {job.id for job, exists in zip([*waiting, *scheduled], pipe.execute(), strict=True) if exists}
    assert left == fetched_ids
    assert await app.purge() == 0


@pytest.mark.parametrize("count", [0, 1001])
async def test_a_page_size_out_of_bounds_is_refused(app: Ardiq, count: int) -> None:
    from ardiq import InvalidOption

    with pytest.raises(InvalidOption, match="count"):
        await app.jobs(ListState.FAILED, count=count)


async def test_invalid_names_are_typed_errors_not_redis_errors(app: Ardiq) -> None:
    from ardiq import InvalidQueueName

    with pytest.raises(InvalidQueueName):
        await app.queue_info("a b")
    with pytest.raises(InvalidQueueName):
        await app.jobs(ListState.DEAD, queue="{x}")
    with pytest.raises(InvalidQueueName):
        await app.job_details("x", queue="a b")


async def test_list_queues_skips_keys_whose_tag_is_no_queue_name(
    app: Ardiq, inspector: redis.Redis, queue: str
) -> None:
    await app.send("t")
    strays = [
        f"ardiq:{{{queue} b}}:stream:5".encode(),
        b"ardiq:{}:x",
        b"ardiq:{\xff" + queue.encode() + b"}:x",
    ]
    other = f"{queue}-raw"
    strays.append(f"ardiq:{{{other}}}:".encode() + b"\xff")  # a queue's tag, a key of no name we know
    for stray in strays:
        inspector.set(stray, "x")
    try:
        found = await app.list_queues()
    finally:
        inspector.delete(*strays)

    assert queue in found
    assert other in found
    assert not [name for name in found if name.startswith(queue) and name not in (queue, other)]
    assert "" not in found


@pytest.mark.parametrize(
    ("state", "cursor"),
    [
        (ListState.FAILED, "abc"),
        (ListState.FAILED, "1-x"),
        (ListState.DEAD, "99999999999999999999-0"),
        (ListState.DEAD, "+1-0"),
        (ListState.DEAD, "5"),
        (ListState.RUNNING, "9:zzz"),
        (ListState.RUNNING, "5:abc"),
        (ListState.RUNNING, "5:1-18446744073709551616"),
    ],
)
async def test_an_entry_cursor_no_page_gave_is_refused(app: Ardiq, state: ListState, cursor: str) -> None:
    from ardiq import InvalidOption

    with pytest.raises(InvalidOption, match="cursor"):
        await app.jobs(state, cursor=cursor)


async def test_held_script_replies_an_error_for_an_entry_id_redis_refuses(
    inspector: redis.Redis, keys: Keys
) -> None:
    # The levels without a stream or group hold nothing; a bad id on one that
    # exists is an error, not a level silently skipped.
    inspector.xgroup_create(keys.stream(5), "ardiq", id="0", mkstream=True)
    held = inspector.register_script(read_script("held.lua"))
    names = [*keys.streams, keys.running]

    assert held(keys=names, args=["ardiq", "9", "", "10"]) == [b"", []]
    with pytest.raises(redis.ResponseError, match="ID"):
        held(keys=names, args=["ardiq", "5", "abc", "10"])


async def test_purge_removes_jobs_whose_ids_are_not_utf8(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    # Written raw (no producer makes such ids): purge removes them like any
    # other instead of stopping half done, on this run and every later one.
    valid = await app.options(delay_ms=60_000).send("t")
    at_ms = int(time.time() * 1000) + 60_000
    inspector.zadd(keys.delayed, {b"s\xff": at_ms, b"s\xfe": at_ms + 1})
    inspector.hset(keys.delayed_jobs, b"s\xff", b"record")
    inspector.xadd(keys.stream(5), {"id": b"w\xff", "task": "t", "job": b""})
    for raw in (b"s\xff", b"w\xff"):
        inspector.set(keys.job("").encode() + raw, b"status")

    assert await app.purge() == 4

    assert inspector.zcard(keys.delayed) == 0
    assert inspector.hlen(keys.delayed_jobs) == 0
    assert inspector.xlen(keys.stream(5)) == 0
    assert not inspector.exists(keys.job("").encode() + b"s\xff", keys.job("").encode() + b"w\xff")
    assert await app.job(valid.id).status() is JobStatus.NOT_FOUND


async def test_a_worker_gone_a_minute_ago_is_neither_listed_nor_counted(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    # No live worker is left to prune `workers`: the listing leaves old members out itself.
    now_ms = int(time.time() * 1000)
    inspector.zadd(keys.workers, {"w-crashed": now_ms - 3 * 86_400_000, "w-minute": now_ms - 60_000})
    inspector.zadd(keys.workers, {"w-recent": now_ms - 10_000})

    listed = await app.workers()
    info = await app.queue_info()

    assert [(w.worker_id, w.alive) for w in listed] == [("w-recent", False)]
    assert info.workers == 1


async def test_a_malformed_dead_letter_is_listed_among_the_others_and_deletable(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def known() -> None:
        return None

    ids = [(await app.send("unknown_name", n)).id for n in range(2)]
    await run_burst(app)
    bad = add_entry(
        inspector, keys.dead, {"id": b"x", "task": b"t", "reason": b"r", "record": b"\xff\xff\xff"}
    )
    last = (await app.send("unknown_name", 2)).id
    await run_burst(app)

    first = await app.jobs(ListState.DEAD, count=2)
    rest = await app.jobs(ListState.DEAD, count=2, cursor=first.next)

    assert [job.job_id for job in first.jobs + rest.jobs] == [*ids, "x", last]
    [malformed] = [job for job in rest.jobs if job.entry_id == bad]
    assert (malformed.task, malformed.reason, malformed.job, malformed.error) == ("t", "r", None, None)
    assert malformed.malformed is not None
    assert bad in malformed.malformed
    assert all(job.malformed is None for job in first.jobs + rest.jobs if job is not malformed)
    assert await app.delete_dead_letters([bad]) == 1
    assert [job.job_id for job in (await app.jobs(ListState.DEAD)).jobs] == [*ids, last]


async def test_malformed_kept_failures_are_listed_and_deletable(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    failed = f"{keys.prefix}failed"
    bad = [
        add_entry(inspector, failed, {"id": b"f%d" % n, "task": b"t", "record": b"\xff" * (n + 1)})
        for n in range(2)
    ]

    page = await app.jobs(ListState.FAILED)

    assert [(job.entry_id, job.job_id, job.task) for job in page.jobs] == [
        (bad[0], "f0", "t"),
        (bad[1], "f1", "t"),
    ]
    assert all(job.malformed for job in page.jobs)
    assert await app.delete_failures(bad) == 2
    assert (await app.jobs(ListState.FAILED)).jobs == []


async def test_a_heartbeat_or_worker_id_that_does_not_decode_is_a_worker_with_unknown_fields(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    now_ms = int(time.time() * 1000)
    inspector.zadd(keys.workers, {b"w-bad": now_ms, b"w-gone": now_ms - 1_000, b"w-\xff": now_ms - 2_000})
    inspector.set(keys.worker("w-bad"), b"\xff\xff\xff", px=60_000)
    inspector.set(keys.worker("").encode() + b"w-\xff", b"\xff", px=60_000)

    listed = await app.workers()

    assert [(w.worker_id, w.alive, w.seen_ms, w.hostname, w.pid) for w in listed] == [
        ("w-bad", True, now_ms, "", 0),
        ("w-gone", False, now_ms - 1_000, "", 0),
        ("w-\ufffd", True, now_ms - 2_000, "", 0),
    ]
