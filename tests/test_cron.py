"""Cron schedules (SPEC.md section 19): one job per tick across several
workers and a SIGKILL, missed ticks after downtime by catch-up policy, the
schedules' state in Redis, time zones across daylight saving (computed, not
slept), and the errors of a schedule that cannot run, raised at
registration."""

from __future__ import annotations

import asyncio
import io
import re
import signal
import struct
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from ardiq import (
    Ardiq,
    CatchUp,
    InvalidPriority,
    InvalidSchedule,
    Schedule,
    UnknownTask,
    UnsupportedValue,
    current_job,
)
from ardiq_testing import RedisServer
from worker_harness import WAIT_S, WorkerProcess, eventually, run_burst, running_worker

TICKS = 30


def tick_of(job_id: str) -> int:
    """The tick, ms, of a job id `cron:<name>:<tick_ms>`."""
    prefix, _, tick = job_id.rpartition(":")
    assert prefix.startswith("cron:"), job_id
    return int(tick)


async def until_mid_second() -> float:
    """Sleeps to 0.3 s past a whole second, so that a worker started now
    registers well clear of a tick; returns the time."""
    await asyncio.sleep(1.3 - time.time() % 1.0)
    return time.time()


def text_hash(client: redis.Redis, key: str) -> dict[str, str]:
    raw: Any = client.hgetall(key)
    return {k.decode(): v.decode() for k, v in raw.items()}


def runs(client: redis.Redis, key: str) -> list[str]:
    """The job ids that `cron_tasks:app` ran, one per run, in order."""
    raw: Any = client.lrange(key, 0, -1)
    return [job_id.decode() for job_id in raw]


def job_ids(client: redis.Redis, key: str) -> set[str]:
    return set(runs(client, key))


class XaddCounter:
    """Counts the entries added to one stream, from keyspace notifications
    (`notify-keyspace-events Kt`): the stream's entries are deleted once run,
    so counting its length would miss them."""

    def __init__(self, url: str, key: str) -> None:
        self.client = redis.Redis.from_url(url)
        untyped: Any = self.client
        self.pubsub = untyped.pubsub()
        self.pubsub.subscribe(f"__keyspace@0__:{key}")
        self.pubsub.get_message(timeout=5)  # the subscribe confirmation
        self.count = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while not self.done.is_set():
            message = self.pubsub.get_message(timeout=0.1)
            if message is not None and message["data"] == b"xadd":
                self.count += 1

    def close(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def notifying_redis() -> Iterator[RedisServer]:
    """A Redis of its own that notifies stream commands on keyspace channels."""
    with RedisServer("--notify-keyspace-events", "Kt") as server:
        yield server


async def test_three_workers_enqueue_each_tick_once_also_when_one_is_killed(
    notifying_redis: RedisServer, queue: str
) -> None:
    url = notifying_redis.url
    inspector = redis.Redis.from_url(url)
    prefix = f"ardiq:{{{queue}}}:"
    ran_key = f"ardiq-test:cron:{queue}:ran"
    added = XaddCounter(url, prefix + "stream:5")
    options = ("--visibility-ms", "2000", "--heartbeat-ms", "500", "--grace", "2")
    workers = [WorkerProcess("cron_tasks:app", url, queue, *options) for _ in range(3)]
    try:

        def all_registered() -> bool:
            return inspector.zcard(prefix + "workers") == 3

        await eventually(all_registered, "three workers heartbeating")
        first = len(job_ids(inspector, ran_key))

        def ran_since_all_up(ticks: int) -> bool:
            # Distinct ticks: the tick the killed worker was running when
            # killed runs again once reclaimed (at least once, not a second
            # enqueue), and a count of runs would take it for a new tick.
            return len(job_ids(inspector, ran_key)) >= first + ticks

        await eventually(lambda: ran_since_all_up(TICKS // 2), f"{TICKS // 2} ticks", WAIT_S * 2)
        workers[0].kill()
        ran_at_kill = job_ids(inspector, ran_key)
        killed_at = len(ran_at_kill)
        await eventually(lambda: ran_since_all_up(TICKS + 1), f"{TICKS} ticks", WAIT_S * 2)
        for worker in workers[1:]:
            worker.signal(signal.SIGTERM)
        for worker in workers[1:]:
            assert await worker.exited() == 0, worker.output()
        # Entries left: enqueued but not run (held by the killed worker, or
        # enqueued as the others stopped).
        entries: Any = [inspector.xrange(prefix + f"stream:{p}") for p in range(10)]
        left = [fields[b"id"].decode() for stream in entries for _, fields in stream]
        every_run = runs(inspector, ran_key)
        ran = set(every_run)
    finally:
        added.close()
        for worker in workers:
            worker.kill()
        inspector.close()

    enqueued = ran | set(left)
    ticks = sorted(tick_of(job_id) for job_id in enqueued)
    assert len(ticks) >= TICKS + 1
    assert killed_at < len(ticks) - TICKS // 3, "the kill came mid-way"
    # Every tick of the span once: no tick missed, none enqueued twice.
    assert ticks == list(range(ticks[0], ticks[-1] + 1000, 1000))
    assert all(job_id == f"cron:every-second:{tick_of(job_id)}" for job_id in enqueued)
    assert added.count == len(ticks), f"{added.count} entries added for {len(ticks)} ticks"
    # A tick ran twice only if the killed worker had run it and not yet
    # acknowledged it: at most one, and one that had run by the kill.
    twice = {job_id for job_id in ran if every_run.count(job_id) > 1}
    assert len(twice) <= 1, every_run
    assert twice <= ran_at_kill, (twice, every_run)
    assert all(every_run.count(job_id) <= 2 for job_id in ran), every_run


def beat_app(url: str, queue: str, catch_up: CatchUp) -> tuple[Ardiq, list[tuple[int, float]]]:
    """An app whose `beat` schedule runs every second; the ticks it ran and when."""
    app = Ardiq(url, queue=queue)
    ran: list[tuple[int, float]] = []

    @app.cron(every=timedelta(seconds=1), name="beat", catch_up=catch_up)
    @app.task
    async def beat() -> None:
        ran.append((tick_of(current_job().id), time.time()))

    return app, ran


async def test_ticks_missed_while_no_worker_ran_run_once(redis_url: str, queue: str) -> None:
    app, ran = beat_app(redis_url, queue, "latest")
    try:
        async with running_worker(app):
            await eventually(lambda: len(ran) >= 2, "two ticks")
        before = [tick for tick, _ in ran]
        await asyncio.sleep(3.0)  # at least two ticks pass with no worker
        restarted = await until_mid_second()
        async with running_worker(app):
            await eventually(lambda: len(ran) >= len(before) + 2, "the catch-up and one more tick")
    finally:
        await app.close()

    latest_missed = int(restarted) * 1000
    after = [tick for tick, _ in ran[len(before) :]]
    assert before == list(range(before[0], before[-1] + 1000, 1000))
    assert latest_missed - before[-1] >= 3000, "ticks were missed"
    # Of the missed ticks only the latest ran, once, when the worker came back.
    assert after[:2] == [latest_missed, latest_missed + 1000]
    assert ran[len(before)][1] >= restarted


async def ticks_after_a_gap(
    redis_url: str, queue: str, inspector: redis.Redis, catch_up: CatchUp, count: int
) -> tuple[int, list[int]]:
    """Runs `beat` under `catch_up` in a worker that starts as if the last
    tick had been enqueued 5 s before, until `count` ticks ran: the latest
    tick at the start, and the ticks run in order."""
    app, ran = beat_app(redis_url, queue, catch_up)
    start_tick = int(await until_mid_second()) * 1000
    inspector.hset(f"ardiq:{{{queue}}}:cron:beat", "last_ms", start_tick - 5000)
    try:
        async with running_worker(app):
            await eventually(lambda: len(ran) >= count, f"{count} ticks")
    finally:
        await app.close()
    return start_tick, [tick for tick, _ in ran]


async def test_skip_runs_no_missed_tick(redis_url: str, queue: str, inspector: redis.Redis) -> None:
    start_tick, ticks = await ticks_after_a_gap(redis_url, queue, inspector, "skip", 2)

    assert ticks[:2] == [start_tick + 1000, start_tick + 2000], "no tick before the start ran"


async def test_all_runs_every_missed_tick_oldest_first(
    redis_url: str, queue: str, inspector: redis.Redis
) -> None:
    start_tick, ticks = await ticks_after_a_gap(redis_url, queue, inspector, "all", 6)

    assert ticks[:6] == [start_tick - 4000 + 1000 * n for n in range(6)]


async def test_two_schedules_under_all_each_run_their_own_missed_ticks_once(
    redis_url: str, queue: str, inspector: redis.Redis
) -> None:
    app = Ardiq(redis_url, queue=queue)
    ran: list[tuple[str, int]] = []

    @app.task
    async def beat(name: str) -> None:
        ran.append((name, tick_of(current_job().id)))

    for name in ("early", "late"):
        app.cron(every=timedelta(seconds=1), job=beat.prepare(name), name=name, catch_up="all")
    start_tick = int(await until_mid_second()) * 1000
    inspector.hset(f"ardiq:{{{queue}}}:cron:early", "last_ms", start_tick - 5000)
    inspector.hset(f"ardiq:{{{queue}}}:cron:late", "last_ms", start_tick - 3000)
    try:
        async with running_worker(app):
            await eventually(lambda: len(ran) >= 5 + 3 + 2, "every missed tick and one more of each")
    finally:
        await app.close()

    ticks = {name: [tick for of, tick in ran if of == name] for name in ("early", "late")}
    assert ticks["early"][:6] == [start_tick - 4000 + 1000 * n for n in range(6)]
    assert ticks["late"][:4] == [start_tick - 2000 + 1000 * n for n in range(4)]
    for name, runs in ticks.items():
        assert len(runs) == len(set(runs)), f"a tick of {name} ran twice: {runs}"


async def test_schedules_are_listed_in_redis_and_run_their_job(
    app: Ardiq, queue: str, inspector: redis.Redis
) -> None:
    ran: list[tuple[str, str, int, int]] = []

    @app.task(queue=queue)
    async def digest(kind: str, limit: int = 5) -> None:
        job = current_job()
        ran.append((job.id, kind, limit, job.priority))

    weekly = app.cron("0 9 * * mon", digest.prepare("weekly"), timezone="Europe/Paris", name="weekly")
    often = app.cron(every=timedelta(seconds=1), job=digest.options(priority=8).prepare("often", limit=2))
    assert isinstance(weekly, Schedule)
    assert isinstance(often, Schedule)
    assert set(app.schedules) == {"weekly", "digest"}

    async with running_worker(app):
        await eventually(lambda: len(ran) >= 1, "a tick of the interval")

    prefix = f"ardiq:{{{queue}}}:"
    listed: Any = inspector.zrange(prefix + "cron", 0, -1, withscores=True)
    index = {name.decode(): score for name, score in listed}
    assert set(index) == {"weekly", "digest"}
    next_monday = weekly.next_runs(1)[0]
    assert index["weekly"] == next_monday.timestamp() * 1000
    assert next_monday.astimezone(ZoneInfo("Europe/Paris")).hour == 9
    state = text_hash(inspector, prefix + "cron:weekly")
    assert state["cron"] == "0 9 * * mon"
    assert state["timezone"] == "Europe/Paris"
    assert state["task"] == "digest"
    assert state["catch_up"] == "latest"
    assert "last_ms" not in state, "no tick of the weekly schedule came"
    often_state = text_hash(inspector, prefix + "cron:digest")
    assert often_state["every_ms"] == "1000"
    assert "cron" not in often_state
    states = {state.name: state for state in await app.schedule_states()}
    assert set(states) == {"weekly", "digest"}
    assert states["weekly"].next_run == next_monday
    assert states["weekly"].last_ms is None
    assert (states["weekly"].cron, states["weekly"].timezone) == ("0 9 * * mon", "Europe/Paris")
    assert states["digest"].every_ms == 1000
    assert states["digest"].last_ms == int(often_state["last_ms"])
    job_id, kind, limit, priority = ran[0]
    assert (kind, limit, priority) == ("often", 2, 8)
    assert job_id == f"cron:digest:{tick_of(job_id)}"
    assert tick_of(job_id) % 1000 == 0
    assert int(often_state["last_ms"]) >= tick_of(job_id)


async def test_a_burst_run_enqueues_no_tick(app: Ardiq, queue: str, inspector: redis.Redis) -> None:
    @app.cron("* * * * * *")
    async def every_second() -> None:
        return None

    await run_burst(app)
    await asyncio.sleep(1.1)

    assert inspector.exists(f"ardiq:{{{queue}}}:cron") == 0


async def test_a_worker_without_schedules_sends_no_cron_command(queue: str) -> None:
    with RedisServer() as server:
        inspector = redis.Redis.from_url(server.url)
        app = Ardiq(server.url, queue=queue)

        @app.task
        async def noop() -> None:
            return None

        try:
            async with running_worker(app):
                await asyncio.sleep(1.5)
            stats: Any = inspector.info("commandstats")
            assert not inspector.keys(f"ardiq:{{{queue}}}:cron*")
        finally:
            await app.close()
            inspector.close()
    assert "cmdstat_hsetnx" not in stats
    assert "cmdstat_hget" not in stats


def test_ticks_follow_the_time_zone_across_daylight_saving() -> None:
    app = Ardiq("redis://127.0.0.1:1/0", queue="cron-zones")

    @app.task
    def report() -> None:
        return None

    paris = app.cron("0 9 * * *", report.prepare(), timezone="Europe/Paris", name="paris")
    new_york = app.cron("30 2 * * *", report.prepare(), timezone=ZoneInfo("America/New_York"), name="ny")
    hourly = app.cron(every=timedelta(hours=1), job=report.prepare(), name="hourly")

    # Paris moves to summer time on 2024-03-31: 09:00 is 08:00 UTC before, 07:00 after.
    runs = paris.next_runs(3, after=datetime(2024, 3, 29, 12, tzinfo=UTC))
    assert runs == [
        datetime(2024, 3, 30, 8, tzinfo=UTC),
        datetime(2024, 3, 31, 7, tzinfo=UTC),
        datetime(2024, 4, 1, 7, tzinfo=UTC),
    ]
    for run in paris.next_runs(60, after=datetime(2024, 3, 1, tzinfo=UTC)):
        local = run.astimezone(ZoneInfo("Europe/Paris"))
        assert (local.hour, local.minute) == (9, 0), run
    # 02:30 does not exist in New York on 2024-03-10: it runs once, at 03:00 EDT.
    runs = new_york.next_runs(3, after=datetime(2024, 3, 9, 12, tzinfo=UTC))
    assert runs == [
        datetime(2024, 3, 10, 7, tzinfo=UTC),
        datetime(2024, 3, 11, 6, 30, tzinfo=UTC),
        datetime(2024, 3, 12, 6, 30, tzinfo=UTC),
    ]
    # British Columbia stopped changing its clocks in 2026 (IANA 2026
    # releases): it stays on UTC-7, so 09:00 in Vancouver is 16:00 UTC in
    # December too. The worker reads its own bundled rules, not the host's.
    vancouver = app.cron("0 9 * * *", report.prepare(), timezone="America/Vancouver", name="bc")
    runs = vancouver.next_runs(2, after=datetime(2026, 12, 3, tzinfo=UTC))
    assert runs == [datetime(2026, 12, 3, 16, tzinfo=UTC), datetime(2026, 12, 4, 16, tzinfo=UTC)]
    # An interval ticks on the hour in UTC whatever the clocks of Paris do.
    runs = hourly.next_runs(3, after=datetime(2024, 3, 31, 0, 30, tzinfo=UTC))
    assert runs == [datetime(2024, 3, 31, h, tzinfo=UTC) for h in (1, 2, 3)]
    assert hourly.job_id(runs[0]) == f"cron:hourly:{int(runs[0].timestamp()) * 1000}"
    assert hourly.latest_run(datetime(2024, 3, 31, 1, 59, tzinfo=UTC)) == runs[0]


@pytest.mark.parametrize(
    ("schedule", "timezone", "message"),
    [
        ("*/5 * *", "UTC", 'invalid cron expression "*/5 * *"'),
        ("61 * * * *", "UTC", 'invalid cron expression "61 * * * *"'),
        ("* * * * * * 2030", "UTC", "5 fields, or 6 with seconds first"),
        ("0 0 30 2 *", "UTC", "never fires"),
        ("*/5 * * * *", "Europe/Pariss", 'unknown time zone "Europe/Pariss"'),
        ("*/5 * * * *", "utc", 'unknown time zone "utc"'),
    ],
)
def test_an_invalid_expression_or_time_zone_fails_at_registration(
    schedule: str, timezone: str, message: str
) -> None:
    app = Ardiq("redis://127.0.0.1:1/0", queue="cron-errors")

    with pytest.raises(InvalidSchedule, match=re.escape(message)):

        @app.cron(schedule, timezone=timezone)
        async def never() -> None:
            return None

    assert app.tasks == {}
    assert app.schedules == {}


def test_a_zone_without_an_iana_name_fails_at_registration() -> None:
    app = Ardiq("redis://127.0.0.1:1/0", queue="cron-errors")
    # A zone file of UTC (TZif version 2: no transitions, one type), read
    # without a name.
    block = (
        b"TZif2" + bytes(15) + struct.pack(">6l", 0, 0, 0, 0, 1, 4) + struct.pack(">lbb", 0, 0, 0) + b"UTC\0"
    )
    keyless = ZoneInfo.from_file(io.BytesIO(block + block + b"\nUTC0\n"))

    with pytest.raises(InvalidSchedule, match=re.escape("has no IANA name (key)")):
        app.cron("0 9 * * *", timezone=keyless)

    assert app.schedules == {}


def test_a_schedule_that_cannot_run_fails_at_registration() -> None:
    app = Ardiq("redis://127.0.0.1:1/0", queue="cron-errors")

    @app.task
    def digest(kind: str, limit: int = 5) -> None:
        return None

    def fails(error: type[Exception], message: str, *args: Any, **kwargs: Any) -> None:
        with pytest.raises(error, match=re.escape(message)):
            app.cron(*args, **kwargs)

    fails(
        InvalidSchedule,
        "an interval must be 1000 ms",
        every=timedelta(milliseconds=999),
        job=digest.prepare("a"),
    )
    fails(InvalidSchedule, "whole number of milliseconds", every=timedelta(microseconds=1_000_500))
    fails(InvalidSchedule, "either a cron expression or every", "* * * * *", every=timedelta(seconds=1))
    fails(InvalidSchedule, "either a cron expression or every")
    fails(InvalidSchedule, "a time zone is for cron expressions", every=timedelta(seconds=1), timezone="UTC")
    fails(InvalidSchedule, 'catch_up must be "latest", "skip" or "all"', "* * * * *", catch_up="sometimes")
    fails(InvalidSchedule, "the arguments do not fit task 'digest'", "* * * * *", digest)
    fails(InvalidSchedule, "the arguments do not fit", "* * * * *", digest.prepare("a", colour="red"))  # type: ignore[call-arg]
    fails(
        InvalidSchedule,
        "without delay_ms, schedule_ms, job_id or expires_ms",
        "* * * * *",
        digest.options(job_id="x").prepare("a"),
    )
    fails(InvalidSchedule, "without delay_ms", "* * * * *", digest.options(delay_ms=10).prepare("a"))
    # A moment: every tick after it could not be enqueued.
    fails(
        InvalidSchedule,
        "or expires_ms",
        "* * * * *",
        digest.options(expires_ms=4_000_000_000_000).prepare("a"),
    )
    fails(
        InvalidSchedule,
        "1 to 200 bytes of UTF-8 without white space",
        "* * * * *",
        digest.prepare("a"),
        name="two words",
    )
    fails(InvalidSchedule, "1 to 200 bytes", "* * * * *", digest.prepare("a"), name="n" * 201)
    fails(InvalidPriority, "priority", "* * * * *", digest.options(priority=10).prepare("a"))
    fails(UnsupportedValue, "args[0]", "* * * * *", digest.prepare({1, 2}))  # type: ignore[arg-type]
    fails(UnknownTask, "no task named 'missing'", "* * * * *", app.prepare("missing"))
    assert app.schedules == {}

    app.cron("* * * * *", digest.prepare("a"))
    fails(
        InvalidSchedule, "a schedule named 'digest' is already registered", "0 * * * *", digest.prepare("b")
    )
    assert list(app.schedules) == ["digest"]


def test_a_function_the_schedule_cannot_call_is_not_registered() -> None:
    app = Ardiq("redis://127.0.0.1:1/0", queue="cron-errors")

    with pytest.raises(InvalidSchedule, match="missing a required argument: 'x'"):

        @app.cron("* * * * *")
        def needs_an_argument(x: int) -> None:
            return None

    assert app.tasks == {}
    assert app.schedules == {}


async def test_schedules_with_fields_out_of_spec_are_listed_with_them_unknown(
    app: Ardiq, queue: str, inspector: redis.Redis
) -> None:
    # Written by hand: one broken schedule leaves the others readable.
    prefix = f"ardiq:{{{queue}}}:"
    now_ms = int(time.time() * 1000)
    inspector.zadd(prefix + "cron", {b"bad-number": now_ms, b"bad-text": now_ms + 1, b"good": now_ms + 2})
    inspector.hset(prefix + "cron:bad-number", mapping={"task": "t", "next_ms": "soon", "every_ms": "1000"})
    inspector.hset(prefix + "cron:bad-text", mapping={"task": b"t\xff", "next_ms": str(now_ms + 1)})
    inspector.hset(
        prefix + "cron:good", mapping={"task": "g", "next_ms": str(now_ms + 2), "catch_up": "skip"}
    )

    states = await app.schedule_states()

    assert [(s.name, s.task, s.next_ms, s.every_ms) for s in states] == [
        ("bad-number", "t", None, 1000),
        ("bad-text", "t\ufffd", now_ms + 1, None),
        ("good", "g", now_ms + 2, None),
    ]
    assert states[2].catch_up == "skip"
