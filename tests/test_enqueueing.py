"""Enqueueing through the `ardiq` package: every path (task, options, batch,
by name), job ids and their dedup, what lands in Redis, and the typed errors
for bad input, raised before anything is written."""

from __future__ import annotations

import asyncio
import collections
import datetime
import enum
import uuid
from typing import Any, NamedTuple

import pytest
import redis
from ardiq import (
    Ardiq,
    EnqueueOutcome,
    InvalidDelay,
    InvalidJobId,
    InvalidOption,
    InvalidPriority,
    InvalidQueueName,
    InvalidTaskName,
    JobStatus,
    PayloadTooLarge,
    RedisUnavailable,
    UnsupportedValue,
)
from ardiq_client import UnsupportedValue as ClientUnsupportedValue
from ardiq_client import values as client_values
from ardiq_testing import free_port
from wire_records import Keys, decode_fields, entry_job_ids, stream_length
from worker_harness import WAIT_S, run_burst, within

QUEUED_STATUS = bytes.fromhex("0a03312e301001")
MIB = 1_048_576


def queue_keys(inspector: redis.Redis, keys: Keys) -> list[bytes]:
    found: Any = inspector.keys(keys.prefix + "*")
    return sorted(found)


async def test_job_without_given_id_gets_a_lowercase_uuid7(app: Ardiq) -> None:
    @app.task
    async def noop() -> None:
        return None

    job = await noop.enqueue()

    parsed = uuid.UUID(job.id)
    assert parsed.version == 7
    assert job.id == str(parsed)
    assert job.duplicate is False


async def test_generated_job_ids_sort_by_enqueue_time(app: Ardiq) -> None:
    @app.task
    async def noop() -> None:
        return None

    ids = []
    for _ in range(3):
        ids.append((await noop.enqueue()).id)
        await asyncio.sleep(0.003)

    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_enqueue_writes_a_readable_entry_and_a_queued_status(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    job = await add.enqueue(1, 2)

    entries: Any = inspector.xrange(keys.stream(5))
    assert len(entries) == 1
    fields = entries[0][1]
    assert list(fields) == [b"id", b"task", b"job"]
    assert fields[b"id"] == job.id.encode()
    assert fields[b"task"] == b"add"
    record = decode_fields(fields[b"job"])
    assert record[1] == [b"1.0"]
    assert record[2] == [job.id.encode()]
    assert record[3] == [b"add"]
    assert record[6] == [5]
    assert inspector.get(keys.job(job.id)) == QUEUED_STATUS
    assert await job.status() is JobStatus.QUEUED


async def test_given_job_id_is_the_job_id(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    @app.task
    async def noop() -> None:
        return None

    job = await noop.options(job_id="order-17").enqueue()

    assert job.id == "order-17"
    assert entry_job_ids(inspector, keys.stream(5)) == ["order-17"]


async def test_same_job_id_twice_is_a_duplicate_and_runs_once(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    runs: list[int] = []

    @app.task
    async def record(value: int) -> int:
        runs.append(value)
        return value

    first = await record.options(job_id="once").enqueue(1)
    second = await record.options(job_id="once").enqueue(2)

    assert first.duplicate is False
    assert second.duplicate is True
    assert second.id == "once"
    assert stream_length(inspector, keys.stream(5)) == 1
    await run_burst(app)
    assert runs == [1]
    assert await first.result(timeout_s=WAIT_S) == 1


async def test_duplicate_job_id_is_rejected_while_its_result_is_kept(app: Ardiq) -> None:
    @app.task
    async def noop() -> None:
        return None

    await noop.options(job_id="kept").enqueue()
    await run_burst(app)

    again = await noop.options(job_id="kept").enqueue()

    assert again.duplicate is True
    assert await again.status() is JobStatus.COMPLETE


async def test_job_id_can_be_used_again_once_its_result_expired(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task
    async def record(value: int) -> None:
        runs.append(value)

    await record.options(job_id="reused", result_ttl_ms=0).enqueue(1)
    await run_burst(app)
    again = await record.options(job_id="reused").enqueue(2)
    await run_burst(app)

    assert again.duplicate is False
    assert runs == [1, 2]


async def test_duplicate_inside_one_batch_is_flagged(app: Ardiq) -> None:
    @app.task
    async def noop() -> None:
        return None

    jobs = await app.enqueue_many(
        [noop.options(job_id="twice").prepare(), noop.options(job_id="twice").prepare()]
    )

    assert [job.duplicate for job in jobs] == [False, True]


async def test_enqueue_many_returns_one_handle_per_job_in_order(app: Ardiq) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    jobs = await app.enqueue_many([add.prepare(i, i) for i in range(2_500)])
    await run_burst(app)

    assert len({job.id for job in jobs}) == 2_500
    assert [await jobs[i].result(timeout_s=WAIT_S) for i in (0, 999, 1000, 2499)] == [0, 1998, 2000, 4998]


async def test_a_batch_lands_in_its_stream_in_the_order_given(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    # 1,000 jobs go out as several script calls in one pipeline.
    jobs = await app.enqueue_many([app.prepare("noop", i) for i in range(1_000)])

    assert entry_job_ids(inspector, keys.stream(5)) == [job.id for job in jobs]


async def test_enqueue_after_the_script_cache_is_flushed_loads_it_again(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    first = await app.send("noop")
    inspector.script_flush()

    single = await app.send("noop")
    inspector.script_flush()
    batch = await app.enqueue_many([app.prepare("noop", i) for i in range(450)])

    assert [job.outcome for job in (first, single, *batch)] == [EnqueueOutcome.QUEUED] * 452
    assert entry_job_ids(inspector, keys.stream(5)) == [first.id, single.id, *(job.id for job in batch)]


async def test_enqueue_many_of_nothing_returns_nothing(app: Ardiq) -> None:
    assert await app.enqueue_many([]) == []


async def test_send_enqueues_by_task_name(app: Ardiq) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    job = await app.send("add", 1, y=2)
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == 3


async def test_send_with_options_uses_them(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    job = await app.options(priority=1, job_id="by-name").send("anything", 1)

    assert job.id == "by-name"
    assert entry_job_ids(inspector, keys.stream(1)) == ["by-name"]


async def test_prepare_by_name_enqueues_in_a_batch(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    jobs = await app.enqueue_many([app.prepare("a"), app.options(priority=9).prepare("b")])

    assert entry_job_ids(inspector, keys.stream(5)) == [jobs[0].id]
    assert entry_job_ids(inspector, keys.stream(9)) == [jobs[1].id]


async def test_task_priority_picks_the_stream_and_options_override_it(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task(priority=8)
    async def urgent() -> None:
        return None

    default = await urgent.enqueue()
    overridden = await urgent.options(priority=2).enqueue()

    assert entry_job_ids(inspector, keys.stream(8)) == [default.id]
    assert entry_job_ids(inspector, keys.stream(2)) == [overridden.id]


async def test_enqueue_options_are_written_into_the_job_record(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def noop() -> None:
        return None

    await noop.options(max_retries=4, timeout_ms=1500, backoff_ms=20, result_ttl_ms=0).enqueue()

    entries: Any = inspector.xrange(keys.stream(5))
    record = decode_fields(entries[0][1][b"job"])
    assert record[10] == [4]
    assert record[11] == [1500]
    assert record[12] == [20]
    assert record[13] == [0]


class Number(enum.IntEnum):
    ONE = 1


class Word(enum.StrEnum):
    A = "a"


class Point(NamedTuple):
    x: int
    y: int


class Ratio(float):
    pass


@pytest.mark.parametrize(
    ("args", "kwargs", "path"),
    [
        pytest.param((1, {"when": datetime.datetime(2024, 1, 1)}), {}, "args[1].when", id="datetime"),
        pytest.param(({1, 2},), {}, "args[0]", id="set"),
        pytest.param((2**63,), {}, "args[0]", id="int-beyond-int64"),
        pytest.param(([0, {1: "x"}],), {}, "args[0][1]", id="non-str-key"),
        pytest.param((), {"y": [object()]}, "kwargs.y[0]", id="object-in-kwargs"),
        pytest.param((Number.ONE,), {}, "args[0]", id="IntEnum"),
        pytest.param((1, [Word.A]), {}, "args[1][0]", id="StrEnum"),
        pytest.param((Point(1, 2),), {}, "args[0]", id="namedtuple"),
        pytest.param(({"a": collections.OrderedDict(b=1)},), {}, "args[0].a", id="OrderedDict"),
        pytest.param((), {"d": collections.defaultdict(int, a=1)}, "kwargs.d", id="defaultdict"),
        pytest.param(({Word.A: 1},), {}, "args[0]", id="StrEnum-key"),
        pytest.param((Ratio(0.5),), {}, "args[0]", id="float-subclass"),
    ],
)
async def test_value_outside_the_type_table_is_unsupported_with_its_path(
    app: Ardiq, inspector: redis.Redis, keys: Keys, args: tuple[Any, ...], kwargs: dict[str, Any], path: str
) -> None:
    with pytest.raises(UnsupportedValue, match=path.replace("[", r"\[").replace("]", r"\]")):
        await app.send("echo", *args, **kwargs)
    assert queue_keys(inspector, keys) == []
    # The pure-Python producer refuses the same values (SPEC.md section 4: no coercion).
    with pytest.raises(ClientUnsupportedValue, match=path.replace("[", r"\[").replace("]", r"\]")):
        (client_values.encode_args(args), client_values.encode_kwargs(kwargs))


async def test_nesting_deeper_than_64_is_unsupported(app: Ardiq) -> None:
    value: list[Any] = []
    for _ in range(70):
        value = [value]

    with pytest.raises(UnsupportedValue):
        await app.send("echo", value)


@pytest.mark.parametrize("name", ["", "t" * 257], ids=["empty", "257-bytes"])
async def test_bad_task_name_is_invalid_task_name(app: Ardiq, name: str) -> None:
    with pytest.raises(InvalidTaskName):
        await app.send(name)


async def test_task_name_of_256_bytes_is_accepted(app: Ardiq) -> None:
    job = await app.send("t" * 256)

    assert await job.status() is JobStatus.QUEUED


@pytest.mark.parametrize(
    "job_id", ["", "has space", "tab\tbed", "x" * 257], ids=["empty", "space", "tab", "257"]
)
async def test_bad_job_id_is_invalid_job_id(app: Ardiq, job_id: str) -> None:
    with pytest.raises(InvalidJobId):
        await app.options(job_id=job_id).send("noop")


@pytest.mark.parametrize("priority", [-1, 10, 100])
async def test_priority_outside_0_to_9_is_invalid_priority(app: Ardiq, priority: int) -> None:
    with pytest.raises(InvalidPriority):
        await app.options(priority=priority).send("noop")


async def test_negative_delay_is_invalid_delay(app: Ardiq) -> None:
    with pytest.raises(InvalidDelay):
        await app.options(delay_ms=-1).send("noop")


async def test_negative_schedule_is_invalid_delay(app: Ardiq) -> None:
    with pytest.raises(InvalidDelay):
        await app.options(schedule_ms=-1).send("noop")


async def test_delay_and_schedule_together_are_invalid_delay(app: Ardiq) -> None:
    with pytest.raises(InvalidDelay):
        await app.options(delay_ms=10, schedule_ms=10**13).send("noop")


async def test_job_over_one_mib_is_payload_too_large_and_writes_nothing(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    with pytest.raises(PayloadTooLarge):
        await app.send("echo", b"x" * MIB)
    assert queue_keys(inspector, keys) == []


async def test_one_bad_job_in_a_batch_writes_none_of_it(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    with pytest.raises(InvalidPriority):
        await app.enqueue_many([app.prepare("good"), app.options(priority=12).prepare("bad")])
    assert queue_keys(inspector, keys) == []


async def test_a_task_name_with_a_lone_surrogate_is_invalid_task_name(app: Ardiq) -> None:
    with pytest.raises(InvalidTaskName):
        await app.send("\udcff")


async def test_a_job_id_with_a_lone_surrogate_is_invalid_job_id(app: Ardiq) -> None:
    with pytest.raises(InvalidJobId):
        await app.options(job_id="a\udcffb").send("noop")


@pytest.mark.parametrize("priority", [True, False, 1.0, "1"], ids=["true", "false", "float", "str"])
async def test_a_priority_that_is_no_int_is_invalid_priority(app: Ardiq, priority: Any) -> None:
    with pytest.raises(InvalidPriority):
        await app.options(priority=priority).send("noop")


@pytest.mark.parametrize(
    "options",
    [{"delay_ms": 2**64}, {"delay_ms": 3_155_760_000_001}, {"schedule_ms": 253_402_300_800_000}],
    ids=["delay-2-64", "delay-over-100-years", "schedule-after-9999"],
)
async def test_a_delay_past_its_bound_is_invalid_delay(app: Ardiq, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidDelay):
        await app.options(**options).send("noop")


@pytest.mark.parametrize(
    "options",
    [
        {"max_retries": 1001},
        {"max_retries": -1},
        {"max_retries": True},
        {"timeout_ms": 3_155_760_000_001},
        {"backoff_ms": -1},
        {"result_ttl_ms": 2**63},
        {"result_ttl_ms": 2**64},
        {"result_ttl_ms": 1.5},
    ],
    ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items()),
)
async def test_an_override_past_its_bound_is_invalid_option(
    app: Ardiq, inspector: redis.Redis, keys: Keys, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidOption):
        await app.options(**options).send("noop")
    assert queue_keys(inspector, keys) == []


async def test_the_largest_bounds_are_accepted(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    job = await app.options(
        max_retries=1000,
        timeout_ms=3_155_760_000_000,
        backoff_ms=3_155_760_000_000,
        result_ttl_ms=3_155_760_000_000,
        schedule_ms=253_402_300_799_999,
    ).send("noop")
    assert await job.status() is JobStatus.SCHEDULED


@pytest.mark.parametrize("queue_name", ["", "a b", "a\u3000b", "a{b", "q" * 129], ids=repr)
def test_an_invalid_queue_name_is_refused_when_the_app_is_made(queue_name: str) -> None:
    with pytest.raises(InvalidQueueName):
        Ardiq("redis://127.0.0.1:1/0", queue=queue_name)


async def test_an_argument_nested_64_deep_is_accepted_65_is_not(app: Ardiq) -> None:
    value: Any = 1
    for _ in range(64):
        value = [value]
    assert (await app.send("echo", value)).outcome is not None
    with pytest.raises(UnsupportedValue, match=r"args\[0\]"):
        await app.send("echo", [value])


async def test_enqueue_to_a_closed_port_raises_redis_unavailable() -> None:
    app = Ardiq(f"redis://127.0.0.1:{free_port()}/0", queue="unreachable")
    try:
        # A refused connection is known at once; the bound only keeps a hang
        # from stalling the suite.
        with pytest.raises(RedisUnavailable):
            await within(app.send("noop"), 10, "enqueue to a closed port to fail")
    finally:
        await app.close()
