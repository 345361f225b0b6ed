"""Both clients on a three-master Redis Cluster (``cluster=True``).

Each test's queue lives on a node other than the one named in the URL, so
every call must be routed by the queue's hash tag (SPEC.md section 2). A
worker's side is played by writing a terminal `Status` record at the
status key; the conformance matrix runs a real worker on a cluster.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
import redis.cluster
from ardiq_client import (
    AbortOutcome,
    ArdiqError,
    AsyncClient,
    Client,
    EnqueueOutcome,
    JobAborted,
    JobFailed,
    JobRequest,
    JobStatus,
    RedisUnavailable,
)
from ardiq_client._proto import records_pb2
from ardiq_client.records import STATUS_QUEUED
from ardiq_client.values import encode_value
from ardiq_client.waiting import FALLBACK_POLL_S
from ardiq_testing import RedisCluster, free_port
from redis_view import stream_entries, value_of


@pytest.fixture(scope="module")
def cluster_urls() -> Iterator[list[str]]:
    """The node URLs of a cluster started for this module (and stopped after it)."""
    with RedisCluster() as cluster:
        yield cluster.urls


@pytest.fixture(scope="module")
def masters(cluster_urls: list[str]) -> Iterator[list[redis.Redis]]:
    """A plain client on each master, which sees only the slots that master serves."""
    clients = [redis.Redis.from_url(url) for url in cluster_urls]
    yield clients
    for client in clients:
        client.close()


@pytest.fixture
def entry_url(cluster_urls: list[str]) -> str:
    """The node the clients are given; it learns the others from it."""
    return cluster_urls[0]


def serves(node: redis.Redis, queue: str) -> bool:
    """Whether `node` serves the slot of `queue` (else it answers MOVED)."""
    try:
        node.exists(f"ardiq:{{{queue}}}:job:probe")
    except redis.exceptions.MovedError:
        return False
    return True


def owner(masters: list[redis.Redis], queue: str) -> redis.Redis:
    (node,) = [node for node in masters if serves(node, queue)]
    return node


@pytest.fixture
def queue(masters: list[redis.Redis]) -> str:
    """A fresh queue whose slot the entry node (the first master) does not serve."""
    while True:
        name = f"client-cluster-{uuid.uuid4().hex[:12]}"
        if not serves(masters[0], name):
            return name


@pytest.fixture
def inspector(entry_url: str) -> Iterator[redis.cluster.RedisCluster]:
    """A redis-py cluster client to look at what the client wrote."""
    client = redis.cluster.RedisCluster.from_url(entry_url)
    yield client
    client.close()


@pytest.fixture
async def client(entry_url: str, queue: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient.from_url(entry_url, queue=queue, cluster=True) as connected:
        yield connected


@pytest.fixture
def sync_client(entry_url: str, queue: str) -> Iterator[Client]:
    with Client.from_url(entry_url, queue=queue, cluster=True) as connected:
        yield connected


def finish(
    inspector: redis.cluster.RedisCluster, queue: str, job_id: str, record: records_pb2.Status
) -> None:
    """Writes a terminal status as a worker's `finish.lua` would."""
    record.spec_version = "1.0"
    inspector.set(f"ardiq:{{{queue}}}:job:{job_id}", record.SerializeToString(), px=60_000)


def command(node: redis.Redis, *args: object) -> Any:
    """One raw command on one node (redis-py leaves execute_command untyped)."""
    execute: Callable[..., Any] = node.execute_command
    return execute(*args)


def move_slot(masters: list[redis.Redis], queue: str) -> redis.Redis:
    """Moves the queue's slot, keys included, to another master as a resharding does; returns it."""
    source = owner(masters, queue)
    target = next(node for node in masters if node is not source)
    slot = int(command(source, "CLUSTER", "KEYSLOT", f"ardiq:{{{queue}}}:"))
    source_id, target_id = (command(node, "CLUSTER", "MYID") for node in (source, target))
    command(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    command(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    keys = command(source, "CLUSTER", "GETKEYSINSLOT", slot, 100_000)
    if keys:
        address = target.connection_pool.connection_kwargs
        command(source, "MIGRATE", address["host"], address["port"], "", 0, 10_000, "KEYS", *keys)
    for node in (target, source, *(node for node in masters if node not in (source, target))):
        command(node, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
    return target


async def test_send_reaches_the_node_that_serves_the_queue(
    client: AsyncClient, inspector: redis.cluster.RedisCluster, masters: list[redis.Redis], queue: str
) -> None:
    job = await client.send("add", [1, 2], priority=7)
    assert job.outcome is EnqueueOutcome.QUEUED
    assert value_of(owner(masters, queue), f"ardiq:{{{queue}}}:job:{job.id}") == STATUS_QUEUED
    (fields,) = stream_entries(inspector, f"ardiq:{{{queue}}}:stream:7")
    assert (fields[b"id"], fields[b"task"]) == (job.id.encode(), b"add")
    assert await job.status() is JobStatus.QUEUED


async def test_send_many_enqueues_every_batch_on_the_queue_node(
    client: AsyncClient, inspector: redis.cluster.RedisCluster, queue: str
) -> None:
    requests = [JobRequest("t", (n,)) for n in range(2_500)] + [JobRequest("t", job_id="only-once")] * 2
    jobs = await client.send_many(requests)
    assert [job.outcome for job in jobs] == [EnqueueOutcome.QUEUED] * 2_501 + [EnqueueOutcome.DUPLICATE]
    assert inspector.xlen(f"ardiq:{{{queue}}}:stream:5") == 2_501
    assert await jobs[-1].status() is JobStatus.QUEUED


async def test_scripts_are_loaded_again_after_a_flush(
    client: AsyncClient, masters: list[redis.Redis]
) -> None:
    for node in masters:
        node.script_flush()
    assert [job.outcome for job in await client.send_many([JobRequest("one")])] == [EnqueueOutcome.QUEUED]
    for node in masters:
        node.script_flush()
    assert (await client.send("two")).outcome is EnqueueOutcome.QUEUED


async def test_send_many_follows_the_queue_slot_to_another_node(
    client: AsyncClient, masters: list[redis.Redis], queue: str
) -> None:
    before = await client.send("t")  # the client now knows the slot's first node
    new_owner = move_slot(masters, queue)
    jobs = await client.send_many([JobRequest("t", (n,)) for n in range(2_500)])
    assert {job.outcome for job in jobs} == {EnqueueOutcome.QUEUED}
    assert new_owner.xlen(f"ardiq:{{{queue}}}:stream:5") == 2_501
    assert (await client.send_many([JobRequest("t")]))[0].outcome is EnqueueOutcome.QUEUED
    assert await before.status() is JobStatus.QUEUED


def test_blocking_send_many_follows_the_queue_slot_to_another_node(
    sync_client: Client, masters: list[redis.Redis], queue: str
) -> None:
    before = sync_client.send("t")
    new_owner = move_slot(masters, queue)
    jobs = sync_client.send_many([JobRequest("t", (n,)) for n in range(2_500)])
    assert {job.outcome for job in jobs} == {EnqueueOutcome.QUEUED}
    assert new_owner.xlen(f"ardiq:{{{queue}}}:stream:5") == 2_501
    assert sync_client.send_many([JobRequest("t")])[0].outcome is EnqueueOutcome.QUEUED
    assert before.status() is JobStatus.QUEUED


async def test_abort_of_scheduled_and_queued_jobs(
    client: AsyncClient, inspector: redis.cluster.RedisCluster, queue: str
) -> None:
    scheduled = await client.send("later", schedule_ms=2**45)
    queued = await client.send("now")
    assert await scheduled.status() is JobStatus.SCHEDULED
    assert await scheduled.abort() is AbortOutcome.ABORTED
    assert await scheduled.status() is JobStatus.ABORTED
    with pytest.raises(JobAborted):
        await scheduled.result(timeout_s=5)
    assert await queued.abort() is AbortOutcome.ABORT_REQUESTED
    assert inspector.sismember(f"ardiq:{{{queue}}}:abort", queued.id)


async def test_result_reads_the_status_a_worker_wrote(
    client: AsyncClient, inspector: redis.cluster.RedisCluster, queue: str
) -> None:
    done, failed = await client.send_many([JobRequest("add", (1, 2)), JobRequest("fail")])
    finish(
        inspector, queue, done.id, records_pb2.Status(state=records_pb2.STATE_COMPLETE, value=encode_value(3))
    )
    error = records_pb2.Error(type="KeyError", message="'x'", traceback="tb")
    finish(inspector, queue, failed.id, records_pb2.Status(state=records_pb2.STATE_FAILED, error=error))
    assert await done.result(timeout_s=5) == 3
    with pytest.raises(JobFailed) as raised:
        await failed.result(timeout_s=5)
    assert (raised.value.remote_type, raised.value.remote_message) == ("KeyError", "'x'")


def test_blocking_client_enqueues_reads_and_aborts(
    sync_client: Client, inspector: redis.cluster.RedisCluster, queue: str
) -> None:
    done = sync_client.send("add", (1, 2))
    scheduled, duplicate = sync_client.send_many(
        [JobRequest("later", delay_ms=60_000), JobRequest("add", job_id=done.id)]
    )
    assert (scheduled.outcome, duplicate.outcome) == (EnqueueOutcome.SCHEDULED, EnqueueOutcome.DUPLICATE)
    assert sync_client.status(done.id) is JobStatus.QUEUED
    finish(
        inspector, queue, done.id, records_pb2.Status(state=records_pb2.STATE_COMPLETE, value=encode_value(3))
    )
    assert done.result(timeout_s=5) == 3
    assert scheduled.abort() is AbortOutcome.ABORTED
    with pytest.raises(JobAborted):
        scheduled.result(timeout_s=5)


async def test_a_client_not_in_cluster_mode_is_told_to_use_it(entry_url: str, queue: str) -> None:
    async with AsyncClient.from_url(entry_url, queue=queue) as single:
        with pytest.raises(ArdiqError, match="cluster=True"):
            await single.send("t")
    with Client.from_url(entry_url, queue=queue) as blocking, pytest.raises(ArdiqError, match="cluster=True"):
        blocking.send_many([JobRequest("t")])


async def test_an_unreachable_cluster_is_unavailable() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    unreachable = AsyncClient.from_url(url, cluster=True)
    with pytest.raises(RedisUnavailable):
        await unreachable.connect()
    await unreachable.close()
    blocking = Client.from_url(url, cluster=True)  # no I/O until used
    with pytest.raises(RedisUnavailable):
        blocking.connect()
    blocking.close()


async def test_waits_on_a_cluster_are_told_by_a_message_published_on_any_node(
    client: AsyncClient,
    sync_client: Client,
    inspector: redis.cluster.RedisCluster,
    masters: list[redis.Redis],
    queue: str,
) -> None:
    # A worker publishes on the node it talks to; Redis Cluster carries it to every node.
    publisher = next(node for node in masters if node is not owner(masters, queue))
    waiters = f"ardiq:{{{queue}}}:waiters"
    jobs = [await client.send("add", (i,)) for i in range(3)]
    blocking_job = sync_client.send("add")
    pendings = [asyncio.ensure_future(job.result(timeout_s=30)) for job in jobs]
    blocking = asyncio.ensure_future(asyncio.to_thread(blocking_job.result, 30))
    deadline = time.monotonic() + 10
    while command(owner(masters, queue), "ZCARD", waiters) < 4:
        assert time.monotonic() < deadline, "the waits were never registered"
        await asyncio.sleep(0.005)
    started = time.monotonic()
    for i, job_id in enumerate([*(job.id for job in jobs), blocking_job.id]):
        record = records_pb2.Status(state=records_pb2.STATE_COMPLETE, value=encode_value(i))
        finish(inspector, queue, job_id, record)
        command(publisher, "PUBLISH", f"ardiq:{{{queue}}}:events", f"done:{job_id}")
    assert await asyncio.gather(*pendings) == [0, 1, 2]
    assert await blocking == 3
    # Told, not found by the fallback read a second later.
    assert time.monotonic() - started < FALLBACK_POLL_S
