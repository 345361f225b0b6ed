"""A worker run in this process: async and sync tasks, arguments, the
concurrency bound, burst mode, clean-up of acked entries, heartbeats."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import redis
from ardiq import Ardiq, JobFailed, JobStatus
from wire_records import Keys, pending_ids, stream_length
from worker_harness import WAIT_S, SpawnWorker, eventually, run_burst, running_worker, within


async def test_async_task_runs_with_its_arguments(app: Ardiq) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    job = await add.enqueue(2, 3)
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == 5


async def test_async_task_that_suspends_completes(app: Ardiq) -> None:
    @app.task
    async def slow_add(x: int, y: int) -> int:
        await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        return x + y

    job = await slow_add.enqueue(2, 3)
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == 5


async def test_async_task_runs_on_the_callers_event_loop(app: Ardiq) -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    @app.task
    async def which_loop() -> None:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        loops.append(asyncio.get_running_loop())

    await which_loop.enqueue()
    await run_burst(app)

    assert loops == [asyncio.get_running_loop()] * 2


@pytest.mark.usefixtures("run_path")
async def test_async_task_can_open_asyncio_timeout_before_its_first_await(app: Ardiq) -> None:
    @app.task
    async def bounded(x: int) -> int:
        async with asyncio.timeout(5):
            await asyncio.sleep(0.01)
        return x

    @app.task
    async def bounded_without_suspending(x: int) -> int:
        async with asyncio.timeout(5):  # noqa: ASYNC100 (no await: the point of the test)
            return x

    jobs = [await bounded.enqueue(1), await bounded_without_suspending.enqueue(2)]
    await run_burst(app)

    assert [await job.result(timeout_s=WAIT_S) for job in jobs] == [1, 2]


async def test_async_task_can_open_a_task_group(app: Ardiq) -> None:
    @app.task
    async def fan_out(n: int) -> list[int]:
        async with asyncio.TaskGroup() as group:
            children = [group.create_task(asyncio.sleep(0.01, i)) for i in range(n)]
        return [child.result() for child in children]

    job = await fan_out.enqueue(3)
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == [0, 1, 2]


async def test_each_async_run_is_its_own_asyncio_task_from_its_start(app: Ardiq) -> None:
    tasks: list[tuple[asyncio.Task[Any] | None, asyncio.Task[Any] | None]] = []

    @app.task
    async def which(suspend: bool) -> None:
        first = asyncio.current_task()
        if suspend:
            await asyncio.sleep(0.01)
        tasks.append((first, asyncio.current_task()))

    jobs = [await which.enqueue(n % 2 == 0) for n in range(6)]
    await run_burst(app, concurrency=6)

    for job in jobs:
        await job.result(timeout_s=WAIT_S)
    assert all(first is not None and first is last for first, last in tasks)
    assert len({id(first) for first, _ in tasks}) == 6


async def test_keyboard_interrupt_or_system_exit_from_a_task_fails_its_job_and_the_worker_runs_on(
    app: Ardiq, spawn_worker: SpawnWorker
) -> None:
    cases = [(kind, suspend) for kind in ("KeyboardInterrupt", "SystemExit") for suspend in (False, True)]
    jobs = [await app.send("raise_exit", kind, suspend) for kind, suspend in cases]
    worker = spawn_worker("process_tasks:app")

    for (kind, _), job in zip(cases, jobs, strict=True):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)
        assert failed.value.remote_type == kind
    assert await (await app.send("greet", "next")).result(timeout_s=WAIT_S) == "hello next"
    assert worker.alive, worker.output()


async def test_sync_task_runs_in_a_worker_thread(app: Ardiq) -> None:
    threads: list[threading.Thread] = []

    @app.task
    def multiply(x: int, y: int) -> int:
        threads.append(threading.current_thread())
        return x * y

    job = await multiply.enqueue(4, 5)
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == 20
    assert len(threads) == 1
    assert threads[0] is not threading.main_thread()


async def test_keyword_arguments_reach_the_task(app: Ardiq) -> None:
    @app.task
    async def describe(name: str, *, times: int = 1, suffix: str = "") -> str:
        return name * times + suffix

    job = await describe.enqueue("ab", times=2, suffix="!")
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == "abab!"


async def test_values_of_every_table_type_reach_the_task_and_come_back(app: Ardiq) -> None:
    value = {
        "nil": None,
        "flag": True,
        "small": -1,
        "big": 2**63 - 1,
        "least": -(2**63),
        "x": 1.5,
        "s": "żółw",
        "b": b"\x00\xff",
        "list": [1, [2, {"k": "v"}]],
    }

    @app.task
    async def echo(value: Any) -> Any:
        return value

    job = await echo.enqueue(value)
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == value


async def test_tuples_arrive_as_lists(app: Ardiq) -> None:
    seen: list[Any] = []

    @app.task
    async def keep(value: Any) -> None:
        seen.append(value)

    await keep.enqueue((1, (2, 3)))
    await run_burst(app)

    assert seen == [[1, [2, 3]]]


async def test_task_registered_under_a_given_name_runs_by_that_name(app: Ardiq) -> None:
    @app.task(name="math.add")
    async def add(x: int, y: int) -> int:
        return x + y

    job = await app.send("math.add", 1, 1)
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == 2


async def test_no_more_jobs_run_at_once_than_the_concurrency(app: Ardiq) -> None:
    running = 0
    most = 0

    @app.task
    async def hold() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1

    await app.enqueue_many([hold.prepare() for _ in range(24)])
    await run_burst(app, concurrency=4)

    assert most == 4


async def test_sync_tasks_run_in_parallel_threads(app: Ardiq) -> None:
    barrier = threading.Barrier(3, timeout=WAIT_S)

    @app.task
    def meet() -> int:
        return barrier.wait()

    jobs = await app.enqueue_many([meet.prepare() for _ in range(3)])
    await run_burst(app, concurrency=3)

    assert sorted([await job.result(timeout_s=WAIT_S) for job in jobs]) == [0, 1, 2]


async def test_burst_worker_drains_the_queue_and_returns(app: Ardiq) -> None:
    @app.task
    async def square(x: int) -> int:
        return x * x

    jobs = await app.enqueue_many([square.prepare(i) for i in range(300)])

    await run_burst(app, concurrency=20)

    assert [await job.status() for job in jobs] == [JobStatus.COMPLETE] * 300


async def test_burst_worker_on_an_empty_queue_returns(app: Ardiq) -> None:
    @app.task
    async def noop() -> None:
        return None

    await run_burst(app)


async def test_finished_entries_are_acked_and_deleted(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    @app.task
    async def fail_on_odd(x: int) -> int:
        if x % 2:
            raise ValueError(x)
        return x

    await app.enqueue_many([fail_on_odd.options(priority=p).prepare(p) for p in range(10)])
    await run_burst(app)

    for stream in keys.streams:
        assert stream_length(inspector, stream) == 0
        assert pending_ids(inspector, stream) == []
    assert inspector.hlen(keys.running) == 0


async def test_running_worker_keeps_a_heartbeat_and_removes_it_when_stopped(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def noop() -> None:
        return None

    async with running_worker(app, heartbeat_ms=200) as worker:
        await eventually(
            lambda: inspector.zscore(keys.workers, worker.worker_id) is not None, "the worker is registered"
        )
        assert inspector.exists(keys.worker(worker.worker_id))
        ttl: Any = inspector.pttl(keys.worker(worker.worker_id))
        assert 0 < ttl <= 600

    await eventually(
        lambda: inspector.zscore(keys.workers, worker.worker_id) is None, "the worker is unregistered"
    )
    assert not inspector.exists(keys.worker(worker.worker_id))


async def test_running_worker_picks_up_jobs_enqueued_later(app: Ardiq) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    async with running_worker(app):
        await asyncio.sleep(0.3)
        job = await add.enqueue(20, 22)
        assert await job.result(timeout_s=WAIT_S) == 42


async def test_an_idle_worker_starts_a_lone_job_as_its_blocking_read_returns(app: Ardiq) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    # Long renewal and block periods: only the wake-up from the blocking read
    # can start the job within the wait below.
    async with running_worker(app, visibility_ms=120_000, block_ms=30_000):
        await asyncio.sleep(0.3)
        job = await add.enqueue(1, 1)
        assert await job.result(timeout_s=10) == 2


async def test_second_run_of_one_app_is_refused_and_the_first_keeps_working(app: Ardiq) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    async with running_worker(app):
        with pytest.raises(RuntimeError, match="already running"):
            await within(app.run_worker(burst=True), WAIT_S, "a second run to be refused")
        job = await add.enqueue(1, 2)
        assert await job.result(timeout_s=10) == 3


async def test_a_burst_waits_for_retries_and_delayed_jobs_only_when_told(app: Ardiq) -> None:
    attempts: list[int] = []

    @app.task(retries=2, backoff_ms=1500)
    async def flaky(n: int) -> int:
        attempts.append(n)
        if attempts.count(n) == 1:
            raise RuntimeError("the first attempt fails")
        return n

    left = [await flaky.enqueue(n) for n in range(20)]
    await run_burst(app)
    assert sorted(attempts) == list(range(20))
    assert {await job.status() for job in left} == {JobStatus.SCHEDULED}

    later = await flaky.options(delay_ms=300).enqueue(20)
    await run_burst(app, wait_delayed=True)

    assert [await job.result(timeout_s=WAIT_S) for job in left] == list(range(20))
    assert await later.result(timeout_s=WAIT_S) == 20


async def test_waiting_for_delayed_jobs_needs_a_burst(app: Ardiq) -> None:
    with pytest.raises(ValueError, match="burst"):
        await app.run_worker(wait_delayed=True)
