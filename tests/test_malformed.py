"""Malformed stream entries, written raw the way a broken producer would:
each is dead-lettered with the reason SPEC.md section 9 names, and the
worker goes on with the good jobs behind it."""

from __future__ import annotations

import msgpack
import pytest
import redis
from ardiq import Ardiq, JobDead, JobStatus
from wire_records import Keys, add_entry, encode_job, pending_ids, stream_length
from worker_harness import WAIT_S, run_burst

MIB = 1_048_576


def entry(job_id: str, task: str, record: bytes) -> dict[str, bytes]:
    return {"id": job_id.encode(), "task": task.encode(), "job": record}


BAD_ENTRIES: list[tuple[str, dict[str, bytes], str]] = [
    ("missing-job", {"id": b"bad-1", "task": b"add"}, "malformed_entry"),
    ("missing-id", {"task": b"add", "job": encode_job("bad-1", "add")}, "malformed_entry"),
    ("missing-task", {"id": b"bad-1", "job": encode_job("bad-1", "add")}, "malformed_entry"),
    ("id-not-utf8", {"id": b"\xff\xfe", "task": b"add", "job": encode_job("x", "add")}, "malformed_entry"),
    (
        "task-not-utf8",
        {"id": b"bad-1", "task": b"\xc3", "job": encode_job("bad-1", "add")},
        "malformed_entry",
    ),
    ("job-not-protobuf", entry("bad-1", "add", b"\xff\xff\xff"), "undecodable_job"),
    ("record-id-disagrees", entry("bad-1", "add", encode_job("other", "add")), "undecodable_job"),
    ("record-task-disagrees", entry("bad-1", "add", encode_job("bad-1", "sub")), "undecodable_job"),
    (
        "version-2.0",
        entry("bad-1", "add", encode_job("bad-1", "add", spec_version="2.0")),
        "unsupported_version",
    ),
    ("no-version", entry("bad-1", "add", encode_job("bad-1", "add", spec_version="")), "unsupported_version"),
    ("unknown-task", entry("bad-1", "nope", encode_job("bad-1", "nope")), "unknown_task"),
    ("args-not-msgpack", entry("bad-1", "add", encode_job("bad-1", "add", args=b"\xc1")), "undecodable_args"),
    (
        "args-not-array",
        entry("bad-1", "add", encode_job("bad-1", "add", args=msgpack.packb(7))),
        "undecodable_args",
    ),
    (
        "kwargs-not-map",
        entry("bad-1", "add", encode_job("bad-1", "add", kwargs=msgpack.packb([1, 2]))),
        "undecodable_args",
    ),
    (
        "kwargs-int-key",
        entry("bad-1", "add", encode_job("bad-1", "add", kwargs=b"\x81\x01\x02")),
        "undecodable_args",
    ),
    (
        "args-ext-type",
        entry("bad-1", "add", encode_job("bad-1", "add", args=b"\x91\xd4\x01\x00")),
        "undecodable_args",
    ),
    (
        "args-truncated",
        entry("bad-1", "add", encode_job("bad-1", "add", args=msgpack.packb([1, 2])[:-1])),
        "undecodable_args",
    ),
    (
        "args-nested-65-deep",
        entry("bad-1", "add", encode_job("bad-1", "add", args=b"\x91" + b"\x91" * 65 + b"\x01")),
        "undecodable_args",
    ),
    (
        "result-ttl-2-63",
        entry("bad-1", "add", encode_job("bad-1", "add", result_ttl_ms=2**63)),
        "invalid_option",
    ),
    (
        "max-retries-over-1000",
        entry("bad-1", "add", encode_job("bad-1", "add", max_retries=1001)),
        "invalid_option",
    ),
    (
        "timeout-over-100-years",
        entry("bad-1", "add", encode_job("bad-1", "add", timeout_ms=3_155_760_000_001)),
        "invalid_option",
    ),
    ("oversize", entry("bad-1", "add", b"\x00" * (MIB + 1)), "oversize"),
    (
        "oversize-valid-record",
        entry("bad-1", "add", encode_job("bad-1", "add", args=b"\x90" * MIB)),
        "oversize",
    ),
]


@pytest.mark.parametrize(("fields", "reason"), [pytest.param(f, r, id=i) for i, f, r in BAD_ENTRIES])
async def test_malformed_entry_is_dead_lettered_with_its_reason_and_the_next_job_runs(
    app: Ardiq, inspector: redis.Redis, keys: Keys, fields: dict[str, bytes], reason: str
) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    add_entry(inspector, keys.stream(5), fields)
    good = await add.enqueue(1, 2)
    await run_burst(app)

    assert await good.result(timeout_s=WAIT_S) == 3
    letters = await app.dead_letters()
    assert [letter.reason for letter in letters] == [reason]
    assert letters[0].detail
    assert stream_length(inspector, keys.stream(5)) == 0
    assert pending_ids(inspector, keys.stream(5)) == []


async def test_dead_letter_of_a_readable_entry_names_its_job_and_task(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    add_entry(
        inspector, keys.stream(5), entry("bad-v2", "add", encode_job("bad-v2", "add", spec_version="2.0"))
    )
    await run_burst(app)

    [letter] = await app.dead_letters()
    assert letter.job_id == "bad-v2"
    assert letter.task == "add"
    assert letter.reason == "unsupported_version"
    assert "2.0" in letter.detail


async def test_dead_lettered_job_with_a_known_id_is_dead(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    add_entry(
        inspector, keys.stream(5), entry("bad-args", "add", encode_job("bad-args", "add", args=b"\xc1"))
    )
    await run_burst(app)

    job = app.job("bad-args")
    assert await job.status() is JobStatus.DEAD
    with pytest.raises(JobDead) as dead:
        await job.result(timeout_s=1)
    assert dead.value.remote_type == "DeadLetter"
    assert "undecodable_args" in dead.value.remote_message


async def test_job_enqueued_for_an_unregistered_task_is_dead_with_unknown_task(app: Ardiq) -> None:
    @app.task
    async def known() -> None:
        return None

    job = await app.send("not_registered_here", 1)
    await run_burst(app)

    assert await job.status() is JobStatus.DEAD
    [letter] = await app.dead_letters()
    assert (letter.job_id, letter.task, letter.reason) == (job.id, "not_registered_here", "unknown_task")


async def test_minor_version_1_x_runs_as_1_0(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    record = encode_job("v1-7", "add", spec_version="1.7", args=msgpack.packb([2, 3]))
    # Fields a later 1.x may add are ignored: field 99, a varint.
    add_entry(inspector, keys.stream(5), entry("v1-7", "add", record + b"\x98\x06\x01"))
    await run_burst(app)

    assert await app.job("v1-7").result(timeout_s=WAIT_S) == 5
    assert await app.dead_letters() == []


async def test_every_kind_of_malformed_entry_in_one_batch_is_dead_lettered_and_good_jobs_run(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    before = await add.enqueue(1, 1)
    for _, fields, _ in BAD_ENTRIES:
        add_entry(inspector, keys.stream(5), fields)
    after = await add.enqueue(2, 2)
    await run_burst(app, concurrency=100)

    assert await before.result(timeout_s=WAIT_S) == 2
    assert await after.result(timeout_s=WAIT_S) == 4
    reasons = [letter.reason for letter in await app.dead_letters(count=1000)]
    assert reasons == [reason for _, _, reason in BAD_ENTRIES]


async def test_an_argument_nested_64_deep_runs_the_args_array_is_not_a_level(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def depth(value: object) -> int:
        levels = 0
        while isinstance(value, list):
            value, levels = value[0], levels + 1
        return levels

    # The producer's own encoding, and a raw record from a foreign producer.
    job = await depth.enqueue(nested(64))
    args = b"\x91" + b"\x91" * 64 + b"\x01"
    add_entry(inspector, keys.stream(5), entry("raw-64", "depth", encode_job("raw-64", "depth", args=args)))
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == 64
    assert await app.job("raw-64").result(timeout_s=WAIT_S) == 64
    assert await app.dead_letters() == []


async def test_a_job_with_an_unbounded_result_ttl_is_dead_and_the_rest_of_its_batch_completes(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    # The record a producer without bounds writes: a result TTL Redis cannot keep.
    for n in range(5):
        record = encode_job(
            f"j{n}", "add", args=msgpack.packb([n, n]), result_ttl_ms=2**63 if n == 2 else None
        )
        add_entry(inspector, keys.stream(5), entry(f"j{n}", "add", record))
    await run_burst(app)

    for n in (0, 1, 3, 4):
        assert await app.job(f"j{n}").result(timeout_s=WAIT_S) == 2 * n
    poisoned = app.job("j2")
    assert await poisoned.status() is JobStatus.DEAD
    with pytest.raises(JobDead, match="invalid_option: invalid result_ttl_ms 9223372036854775808"):
        await poisoned.result(timeout_s=1)
    assert inspector.hlen(keys.running) == 0


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value
