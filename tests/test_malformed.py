"""Malformed stream entries, written raw the way a broken producer would:
each is dead-lettered with the reason SPEC.md section 9 names, and the
worker goes on with the good jobs behind it."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import msgpack
import pytest
import redis
from ardiq import Ardiq, Job, JobDead, JobStatus
from wire_records import Keys, add_entry, add_raw_entry, decode_fields, encode_job, pending_ids, stream_length
from worker_harness import WAIT_S, SpawnWorker, eventually, run_burst, running_worker, wait_for_status

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
    assert not inspector.exists(keys.running)


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


async def test_a_foreign_job_at_the_last_attempt_number_fails_without_wrapping(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def broken() -> None:
        raise ValueError("no")

    # `attempt` (field 9) at 2^32 - 1, as no producer of this project writes.
    record = encode_job("last-attempt", "broken", max_retries=0) + b"\x48\xff\xff\xff\xff\x0f"
    add_entry(inspector, keys.stream(5), entry("last-attempt", "broken", record))
    await run_burst(app)

    info = await app.job("last-attempt").info()
    assert (info.status, info.attempts) == (JobStatus.FAILED, 2**32 - 1)


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


async def test_entries_no_producer_may_write_leave_no_running_job_and_no_status_key(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    record = encode_job("x", "add", args=msgpack.packb([1, 2]))
    raw: list[list[bytes]] = [
        [b"id", b"\xff\xfe", b"task", b"add", b"job", record],
        [b"id", b"a b", b"task", b"add", b"job", encode_job("a b", "add")],
        [b"id", b"", b"task", b"add", b"job", encode_job("", "add")],
        [b"id", b"x" * 257, b"task", b"add", b"job", encode_job("x" * 257, "add")],
        # The id field twice: the last one counts, for `running` as for the dead letter.
        [b"id", b"first", b"task", b"add", b"job", b"\xff", b"id", b"second"],
    ]
    for fields in raw:
        add_raw_entry(inspector, keys.stream(5), fields)
    good = await add.enqueue(1, 2)
    await run_burst(app)

    assert await good.result(timeout_s=WAIT_S) == 3
    letters = [(letter.reason, letter.job_id) for letter in await app.dead_letters(count=100)]
    assert letters == [
        ("malformed_entry", ""),
        ("malformed_entry", "a b"),
        ("malformed_entry", ""),
        ("malformed_entry", ""),
        ("undecodable_job", "second"),
    ]
    assert inspector.hgetall(keys.running) == {}
    status_keys = {key.decode() for key in inspector.scan_iter(match=f"{keys.prefix}job:*")}
    assert status_keys == {keys.job(good.id), keys.job("second")}
    assert await app.job("second").status() is JobStatus.DEAD
    assert await app.job("first").status() is JobStatus.NOT_FOUND


def mutated(rng: random.Random, job_id: str) -> list[bytes]:
    """The fields of a `count_run` entry for `job_id`, broken one random way the way a foreign
    producer might (or, for some, still a valid job)."""
    record = encode_job(
        job_id, "count_run", args=msgpack.packb([1, "two", 3.5]), kwargs=msgpack.packb({"k": [1, None]})
    )
    fields: list[bytes] = [b"id", job_id.encode(), b"task", b"count_run", b"job", record]
    kind = rng.randrange(9)
    if kind == 0:  # a few bytes of the record flipped
        broken = bytearray(record)
        for _ in range(rng.randint(1, 3)):
            broken[rng.randrange(len(broken))] ^= rng.randint(1, 255)
        fields[5] = bytes(broken)
    elif kind == 1:  # the record cut short
        fields[5] = record[: rng.randrange(len(record))]
    elif kind == 2:  # bytes inserted into the record
        at = rng.randrange(len(record) + 1)
        fields[5] = record[:at] + rng.randbytes(rng.randint(1, 8)) + record[at:]
    elif kind == 3:  # no record at all, just bytes
        fields[5] = rng.randbytes(rng.randint(0, 64))
    elif kind == 4:  # a byte of the id field flipped (maybe not UTF-8 any more)
        broken = bytearray(fields[1])
        broken[rng.randrange(len(broken))] ^= rng.randint(1, 255)
        fields[1] = bytes(broken)
    elif kind == 5:  # a field left out
        drop = rng.randrange(3) * 2
        del fields[drop : drop + 2]
    elif kind == 6:  # the id field given twice, the first one different
        fields = [b"id", b"other-" + job_id.encode(), *fields]
    elif kind == 7:  # an id no producer may write, in the field and the record
        bad = rng.choice([b"", b"a b", b"x" * 300, b"\xff\xfe"])
        fields[1] = bad
        fields[5] = encode_job(bad.decode(errors="replace"), "count_run")
    else:  # arguments that are not MessagePack of the table
        fields[5] = encode_job(job_id, "count_run", args=rng.randbytes(rng.randint(1, 12)))
    return fields


async def test_mutated_entries_among_good_jobs_on_three_workers_lose_and_repeat_nothing(
    app: Ardiq, inspector: redis.Redis, keys: Keys, queue: str, spawn_worker: SpawnWorker
) -> None:
    # 1,500 entries broken at random (seeded) among 500 good jobs, read by three live workers:
    # each entry is dead-lettered or runs, once; nothing stays in a stream, pending or running.
    rng = random.Random(20261202)
    workers = [spawn_worker("process_tasks:app", "--concurrency", "20") for _ in range(3)]
    await eventually(lambda: inspector.zcard(keys.workers) == 3, "the three workers are up")
    written: dict[str, list[bytes]] = {}
    good: list[Job[Any]] = []
    for _ in range(10):
        for _ in range(150):
            fields = mutated(rng, f"m-{rng.getrandbits(64):016x}")
            written[add_raw_entry(inspector, keys.stream(5), fields)] = fields
        good += await app.enqueue_many([app.prepare("count_run", n) for n in range(50)])

    def settled() -> bool:
        streams = [stream for stream in keys.streams if inspector.exists(stream)]
        if any(stream_length(inspector, stream) or pending_ids(inspector, stream) for stream in streams):
            return False
        delayed: Any = inspector.zrange(keys.delayed, 0, -1, withscores=True)
        later = all(score > time.time() * 1000 + 5_000 for _, score in delayed)
        return later and not inspector.exists(keys.running)

    await eventually(settled, "every entry is dead-lettered or has run", 60)
    counts: Any = inspector.hgetall(f"ardiq-test:runs:{queue}")
    runs = {job_id.decode(): int(n) for job_id, n in counts.items()}
    for job in good:
        assert (await job.info()).status is JobStatus.COMPLETE
        assert runs.pop(job.id) == 1
    letters: dict[str, str] = {}
    by_workers = set()
    dead: Any = inspector.xrange(keys.dead)
    for _, letter in dead:
        record = decode_fields(letter[b"record"])
        [stream_id] = record[7]
        assert isinstance(stream_id, bytes)
        assert stream_id.decode() not in letters, "an entry was dead-lettered twice"
        letters[stream_id.decode()] = letter[b"reason"].decode()
        by_workers.add(record[9][0])
    assert len(by_workers) >= 2, "the bad entries were spread over several workers"
    assert set(letters.values()) <= {reason for _, _, reason in BAD_ENTRIES} - {"oversize"}
    ran = 0
    for entry_id, fields in written.items():
        if entry_id in letters:
            continue
        # Not dead-lettered: a valid job after all, which ran as its status says.
        job_id = dict(zip(fields[::2], fields[1::2], strict=True))[b"id"].decode()
        info = await app.job(job_id).info()
        # A flipped byte may give it a timeout (a retry, or FAILED), an expiry, or a result TTL
        # of a few ms (its result gone by now: it ran, as its count says).
        count = runs.pop(job_id, 0)
        if info.status is JobStatus.NOT_FOUND:
            assert count >= 1, (job_id, fields)
        elif info.status is not JobStatus.SCHEDULED:
            assert info.status in {JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.EXPIRED}, (job_id, fields)
            assert count == info.attempts, (job_id, info.status, count, info.attempts)
        ran += 1
    assert runs == {}, "runs of jobs that were never written"
    assert len(letters) + ran == len(written) == 1500
    # The mix is seeded: most entries are broken, and some are valid jobs after all.
    assert 300 < len(letters) < 1500, len(letters)
    assert ran > 50, ran
    assert all(worker.alive for worker in workers)


async def test_a_field_name_that_is_not_utf8_stalls_neither_the_idle_read_nor_the_reclaim(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    def odd(job_id: str, *, with_job: bool = True) -> list[bytes]:
        record = [b"job", encode_job(job_id, "add", args=msgpack.packb([2, 3]))] if with_job else []
        return [b"id", job_id.encode(), b"task", b"add", *record, b"\xff\xfe", b"extra"]

    # Reclaimed: entries a consumer that is gone read and never acked, among them
    # two with a field name that is not UTF-8 (one runnable, one without its job).
    stream = keys.stream(5)
    inspector.xgroup_create(stream, "ardiq", id="0", mkstream=True)
    stranded = [app.job(f"stranded-{n}") for n in range(20)]
    for job in stranded:
        add_raw_entry(
            inspector,
            stream,
            [
                b"id",
                job.id.encode(),
                b"task",
                b"add",
                b"job",
                encode_job(job.id, "add", args=msgpack.packb([1, 1])),
            ],
        )
    add_raw_entry(inspector, stream, odd("odd-stranded"))
    add_raw_entry(inspector, stream, odd("odd-stranded-bad", with_job=False))
    inspector.xreadgroup("ardiq", "gone", {stream: ">"}, count=100)
    async with running_worker(app, visibility_ms=300, block_ms=2_000):
        # Written raw, with no status key: waited for by status, then read.
        for job in stranded:
            await wait_for_status(job, JobStatus.COMPLETE)
            assert await job.result(timeout_s=WAIT_S) == 2
        await wait_for_status(app.job("odd-stranded"), JobStatus.COMPLETE)
        assert await app.job("odd-stranded").result(timeout_s=WAIT_S) == 5
        # Read by the idle worker's blocking read: one runnable, one without its job.
        await asyncio.sleep(0.3)
        add_raw_entry(inspector, stream, odd("odd-woken"))
        await wait_for_status(app.job("odd-woken"), JobStatus.COMPLETE)
        assert await app.job("odd-woken").result(timeout_s=WAIT_S) == 5
        add_raw_entry(inspector, stream, odd("odd-woken-bad", with_job=False))
        await eventually(
            lambda: stream_length(inspector, keys.dead) == 2, "both entries without a job are dead"
        )
        after = await add.enqueue(4, 4)
        assert await after.result(timeout_s=WAIT_S) == 8

    letters = [(letter.job_id, letter.reason) for letter in await app.dead_letters()]
    assert letters == [("odd-stranded-bad", "malformed_entry"), ("odd-woken-bad", "malformed_entry")]
    assert stream_length(inspector, stream) == 0
    assert pending_ids(inspector, stream) == []
    assert not inspector.exists(keys.running)


async def test_a_queue_holding_a_field_name_that_is_not_utf8_is_purged(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    good = await app.send("add", 1, 2)
    add_raw_entry(inspector, keys.stream(5), [b"id", b"raw", b"task", b"add", b"\xff\xfe", b"x"])
    add_raw_entry(inspector, keys.stream(5), [b"id", b"\xff", b"task", b"add"])

    assert await app.purge() == 3
    assert stream_length(inspector, keys.stream(5)) == 0
    assert await good.status() is JobStatus.NOT_FOUND
