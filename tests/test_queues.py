"""Several queues: tasks route to their `queue=`, sends by name follow the
registered task; one worker consumes every queue of its app (or the ones
named), one worker per queue works too; weights share the slots under
contention; on a Redis Cluster the queues may live on different masters."""

from __future__ import annotations

import asyncio
import binascii
import uuid
from collections.abc import Iterator

import pytest
import redis
from ardiq import Ardiq, EnqueueOutcome, InvalidQueueName, current_job
from ardiq_testing import RedisCluster
from wire_records import Keys, stream_length
from worker_harness import WAIT_S, SpawnWorker, run_burst, run_cli, running_worker

APP = "app_tasks:app"


async def test_a_task_goes_to_its_queue_and_a_send_by_name_follows_it(
    app: Ardiq, inspector: redis.Redis, queue: str
) -> None:
    mail_queue = f"{queue}-mail"

    @app.task(queue=mail_queue)
    async def mail(to: str) -> str:
        return to

    @app.task
    async def plain() -> None:
        return None

    await mail.enqueue("a@example.com")
    await app.send("mail", "b@example.com")
    await app.enqueue_many([mail.prepare("c@example.com"), plain.prepare(), app.prepare("unknown")])
    await app.options(priority=9).send("mail", "d@example.com")

    assert stream_length(inspector, Keys(mail_queue).stream(5)) == 3
    assert stream_length(inspector, Keys(mail_queue).stream(9)) == 1
    assert stream_length(inspector, Keys(queue).stream(5)) == 2
    assert app.queues == [mail_queue, queue]


async def test_an_interleaved_batch_over_two_queues_gives_each_job_its_own_outcome_and_queue(
    app: Ardiq, inspector: redis.Redis, queue: str
) -> None:
    # More than a script call's batch in one queue, the queues interleaved,
    # and duplicates of both queues' jobs among them: each handle keeps its
    # place in the batch.
    other = f"{queue}-other"

    @app.task(queue=other)
    async def far(n: int) -> int:
        return n

    @app.task
    async def near(n: int) -> int:
        return n

    first = await app.enqueue_many([far.options(job_id=f"far-{n}").prepare(n) for n in range(0, 1_500, 3)])
    assert {job.outcome for job in first} == {EnqueueOutcome.QUEUED}
    prepared = []
    for n in range(1_500):
        task = far if n % 2 else near
        prepared.append(task.options(job_id=f"{task.name}-{n}").prepare(n))
    jobs = await app.enqueue_many(prepared)

    assert [job.id for job in jobs] == [f"{'far' if n % 2 else 'near'}-{n}" for n in range(1_500)]
    assert [job.queue for job in jobs] == [other if n % 2 else None for n in range(1_500)]  # None: the app's
    duplicate = {f"far-{n}" for n in range(0, 1_500, 3)}
    assert [job.outcome for job in jobs] == [
        EnqueueOutcome.DUPLICATE if job.id in duplicate else EnqueueOutcome.QUEUED for job in jobs
    ]
    assert stream_length(inspector, Keys(queue).stream(5)) == 750
    assert stream_length(inspector, Keys(other).stream(5)) == 500 + 750 - 250


async def test_one_worker_consumes_every_queue_of_its_app(app: Ardiq, queue: str) -> None:
    @app.task(queue=f"{queue}-a")
    async def in_a() -> str:
        return current_job().queue

    @app.task(queue=f"{queue}-b")
    async def in_b() -> str:
        return current_job().queue

    jobs = [await in_a.enqueue() for _ in range(5)] + [await in_b.enqueue() for _ in range(5)]
    await run_burst(app)

    assert [await job.result(timeout_s=WAIT_S) for job in jobs] == [f"{queue}-a"] * 5 + [f"{queue}-b"] * 5


async def test_one_worker_per_queue_each_runs_only_its_queue(
    app: Ardiq, queue: str, spawn_worker: SpawnWorker
) -> None:
    mail_worker = spawn_worker(APP, "--queues", f"{queue}-mail")
    main_worker = spawn_worker(APP, "--queues", queue)
    # This app does not register `mail`: its queue is given by hand.
    mails = await app.enqueue_many(
        [app.prepare("mail", f"m{n}")._replace(queue=f"{queue}-mail") for n in range(6)]
    )
    slows = await app.enqueue_many([app.prepare("slow", 0.0) for _ in range(6)])

    for n, job in enumerate(mails):
        assert await job.result(timeout_s=WAIT_S) == f"m{n}"
        assert f"-{mail_worker.pid}-" in (await job.info()).worker_id
    for job in slows:
        assert await job.result(timeout_s=WAIT_S) == "done"
        assert f"-{main_worker.pid}-" in (await job.info()).worker_id


async def test_weights_share_the_slots_under_contention(app: Ardiq, queue: str) -> None:
    started: list[str] = []

    @app.task(queue=f"{queue}-heavy")
    async def heavy() -> None:
        started.append("heavy")
        await asyncio.sleep(0.001)

    @app.task(queue=f"{queue}-light")
    async def light() -> None:
        started.append("light")
        await asyncio.sleep(0.001)

    await app.enqueue_many([heavy.prepare() for _ in range(300)] + [light.prepare() for _ in range(300)])
    await run_burst(
        app,
        queues={f"{queue}-heavy": 3, f"{queue}-light": 1},
        concurrency=1,
        prefetch=100,
    )

    assert len(started) == 600
    first = started[:200]
    assert 140 <= first.count("heavy") <= 160, f"heavy started {first.count('heavy')} of the first 200"


def test_a_task_routed_to_an_invalid_queue_fails_when_it_is_registered() -> None:
    app = Ardiq("redis://127.0.0.1:1/0")
    with pytest.raises(InvalidQueueName):

        @app.task(queue="has space")
        async def bad() -> None:
            return None


def test_an_unknown_queue_on_the_command_line_lists_the_apps_queues(redis_url: str, queue: str) -> None:
    done = run_cli(redis_url, queue, "run", APP, "--queues", "nope=2", "--burst")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"ardiq: error: unknown queue 'nope': the app's queues are {queue}, {queue}-mail"
    )


def test_an_unknown_queue_in_run_worker_is_a_clear_error() -> None:
    app = Ardiq("redis://127.0.0.1:1/0", queue="main")

    @app.task
    async def noop() -> None:
        return None

    with pytest.raises(ValueError, match="its queues are main"):
        asyncio.run(app.run_worker(queues=["elsewhere"]))


# ---------------------------------------------------------------- cluster


def key_slot(key: str) -> int:
    start, end = key.find("{"), key.find("}")
    if start != -1 and end > start + 1:
        key = key[start + 1 : end]
    return binascii.crc_hqx(key.encode(), 0) % 16384


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    running = RedisCluster().start()
    try:
        yield running
    finally:
        running.close()


def queues_on_two_masters(cluster: RedisCluster) -> tuple[str, str]:
    client = redis.Redis.from_url(cluster.urls[0])
    try:
        owner: dict[int, object] = {}
        slots: list[list[object]] = client.execute_command("CLUSTER", "SLOTS")  # type: ignore[no-untyped-call]
        for start, end, master, *_ in slots:
            assert isinstance(start, int)
            assert isinstance(end, int)
            assert isinstance(master, list)
            for slot in range(start, end + 1):
                owner[slot] = (master[0], master[1])
    finally:
        client.close()
    first = f"c-{uuid.uuid4().hex[:6]}"
    for n in range(10_000):
        second = f"c2-{n}"
        if owner[key_slot(f"ardiq:{{{first}}}:x")] != owner[key_slot(f"ardiq:{{{second}}}:x")]:
            return first, second
    raise AssertionError("no two queues on different masters")


async def test_one_worker_consumes_queues_on_different_cluster_masters(cluster: RedisCluster) -> None:
    first, second = queues_on_two_masters(cluster)
    app = Ardiq(cluster.urls[0], queue=first, cluster=True)

    @app.task
    async def here() -> str:
        return current_job().queue

    @app.task(queue=second)
    async def there() -> str:
        return current_job().queue

    try:
        jobs = [await here.enqueue() for _ in range(3)] + [await there.enqueue() for _ in range(3)]
        async with running_worker(app):
            got = [await job.result(timeout_s=WAIT_S) for job in jobs]
        assert got == [first] * 3 + [second] * 3
    finally:
        await app.close()
