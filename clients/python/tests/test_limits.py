"""The bounds of every input (SPEC.md sections 1, 4 and 5): each accepted at its limit, refused one past
it with the typed error the spec names, and never coerced."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from ardiq_client import (
    AsyncClient,
    Client,
    InvalidDelay,
    InvalidJobId,
    InvalidOption,
    InvalidPriority,
    InvalidQueueName,
    InvalidTaskName,
    JobRequest,
    UnsupportedValue,
    encode_value,
)
from ardiq_client._proto import records_pb2
from ardiq_client.protocol import encode_request

NOW_MS = 1_700_000_000_000
CENTURY_MS = 3_155_760_000_000
LAST_MS_OF_9999 = 253_402_300_799_999
LONE_SURROGATE = "\udcff"


def record_of(request: JobRequest) -> records_pb2.Job:
    record = records_pb2.Job()
    record.ParseFromString(encode_request(request, NOW_MS).record)
    return record


def nested(depth: int) -> Any:
    """An int enclosed by `depth` arrays."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("priority", [0, 9])
def test_priority_0_and_9_are_accepted(priority: int) -> None:
    assert encode_request(JobRequest("t", priority=priority), NOW_MS).priority == priority


@pytest.mark.parametrize("priority", [-1, 10, True, False, 2.0, 1.5, "5"])
def test_a_priority_outside_0_to_9_or_not_an_int_is_invalid(priority: Any) -> None:
    with pytest.raises(InvalidPriority):
        encode_request(JobRequest("t", priority=priority), NOW_MS)


def test_the_longest_delay_is_accepted() -> None:
    assert record_of(JobRequest("t", delay_ms=CENTURY_MS)).due_ms == NOW_MS + CENTURY_MS


@pytest.mark.parametrize("delay_ms", [-1, CENTURY_MS + 1, 2**64, True, 1.0])
def test_a_delay_outside_100_years_or_not_an_int_is_invalid(delay_ms: Any) -> None:
    with pytest.raises(InvalidDelay, match="delay_ms"):
        encode_request(JobRequest("t", delay_ms=delay_ms), NOW_MS)


def test_the_latest_schedule_is_accepted() -> None:
    assert record_of(JobRequest("t", schedule_ms=LAST_MS_OF_9999)).due_ms == LAST_MS_OF_9999


@pytest.mark.parametrize("schedule_ms", [-1, LAST_MS_OF_9999 + 1, 2**64, True, 1.0])
def test_a_schedule_outside_year_0_to_9999_or_not_an_int_is_invalid(schedule_ms: Any) -> None:
    with pytest.raises(InvalidDelay, match="schedule_ms"):
        encode_request(JobRequest("t", schedule_ms=schedule_ms), NOW_MS)


def test_delay_and_schedule_together_are_invalid() -> None:
    with pytest.raises(InvalidDelay, match="not both"):
        encode_request(JobRequest("t", delay_ms=0, schedule_ms=0), NOW_MS)


def test_the_largest_overrides_are_written_as_given() -> None:
    record = record_of(
        JobRequest(
            "t", max_retries=1_000, timeout_ms=CENTURY_MS, backoff_ms=CENTURY_MS, result_ttl_ms=CENTURY_MS
        )
    )
    assert (record.max_retries, record.timeout_ms, record.backoff_ms, record.result_ttl_ms) == (
        1_000,
        CENTURY_MS,
        CENTURY_MS,
        CENTURY_MS,
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_retries", 1_001),
        ("max_retries", -1),
        ("max_retries", True),
        ("max_retries", 3.0),
        ("timeout_ms", CENTURY_MS + 1),
        ("timeout_ms", -1),
        ("timeout_ms", 2**64),
        ("backoff_ms", CENTURY_MS + 1),
        ("backoff_ms", False),
        ("result_ttl_ms", CENTURY_MS + 1),
        ("result_ttl_ms", 2**63),
        ("result_ttl_ms", "60000"),
    ],
)
def test_an_override_out_of_range_or_not_an_int_is_invalid(option: str, value: Any) -> None:
    with pytest.raises(InvalidOption, match=option):
        encode_request(JobRequest("t", **{option: value}), NOW_MS)


def test_names_at_their_longest_are_accepted() -> None:
    # "ż" is two bytes of UTF-8: the limits count bytes, not characters.
    job = encode_request(JobRequest("ż" * 128, job_id="i" * 255 + "j"), NOW_MS)
    assert (len(job.task.encode()), len(job.job_id.encode())) == (256, 256)


@pytest.mark.parametrize("task", ["", "t" * 257, "ż" * 128 + "t", f"add{LONE_SURROGATE}", 7])
def test_an_invalid_task_name_is_refused(task: Any) -> None:
    with pytest.raises(InvalidTaskName):
        encode_request(JobRequest(task), NOW_MS)


@pytest.mark.parametrize("job_id", ["", "i" * 257, "ż" * 128 + "i", f"id{LONE_SURROGATE}", "a\u3000b", 7])
def test_an_invalid_job_id_is_refused(job_id: Any) -> None:
    with pytest.raises(InvalidJobId):
        encode_request(JobRequest("t", job_id=job_id), NOW_MS)


def test_a_queue_name_of_128_bytes_is_accepted(redis_url: str) -> None:
    assert Client.from_url(redis_url, queue="ż" * 64).queue == "ż" * 64


@pytest.mark.parametrize("queue", ["q" * 129, "ż" * 64 + "q", f"q{LONE_SURROGATE}", "a\u00a0b", "a}b"])
def test_an_invalid_queue_name_is_refused(redis_url: str, queue: str) -> None:
    with pytest.raises(InvalidQueueName):
        Client.from_url(redis_url, queue=queue)
    with pytest.raises(InvalidQueueName):
        AsyncClient.from_url(redis_url, queue=queue)


def test_a_lone_surrogate_in_a_job_id_to_look_up_is_an_invalid_job_id(sync_client: Client) -> None:
    with pytest.raises(InvalidJobId):
        sync_client.status(f"x{LONE_SURROGATE}")
    with pytest.raises(InvalidJobId):
        sync_client.abort(f"x{LONE_SURROGATE}")
    with pytest.raises(InvalidJobId):
        sync_client.job(f"x{LONE_SURROGATE}")


def test_a_lone_surrogate_in_a_value_is_an_unsupported_value_with_its_path() -> None:
    with pytest.raises(UnsupportedValue, match=r"args\[1\]"):
        encode_request(JobRequest("t", (1, LONE_SURROGATE)), NOW_MS)
    with pytest.raises(UnsupportedValue, match=r"kwargs"):
        encode_request(JobRequest("t", (), {LONE_SURROGATE: 1}), NOW_MS)


def test_an_argument_and_a_keyword_argument_may_nest_64_deep() -> None:
    record = record_of(JobRequest("t", (nested(64),), {"deep": nested(64)}))
    assert record.args == bytes([0x91]) * 65 + b"\x01"
    assert record.kwargs == b"\x81\xa4deep" + bytes([0x91]) * 64 + b"\x01"


@pytest.mark.parametrize(
    ("request_", "path"),
    [
        (JobRequest("t", (nested(65),)), r"args\[0\]"),
        (JobRequest("t", (1, {"a": nested(64)})), r"args\[1\]\.a"),
        (JobRequest("t", (), {"deep": nested(65)}), r"kwargs\.deep"),
    ],
)
def test_a_value_nested_65_deep_is_unsupported(request_: JobRequest, path: str) -> None:
    with pytest.raises(UnsupportedValue, match=path) as raised:
        encode_request(request_, NOW_MS)
    assert "nesting deeper than 64" in str(raised.value)


def test_a_single_value_counts_its_own_arrays() -> None:
    assert encode_value(nested(64)) == bytes([0x91]) * 64 + b"\x01"
    with pytest.raises(UnsupportedValue, match="nesting deeper than 64"):
        encode_value(nested(65))


def test_an_abort_ttl_past_100_years_is_invalid(sync_client: Client) -> None:
    with pytest.raises(InvalidOption, match="result_ttl_ms"):
        sync_client.abort("some-job", result_ttl_ms=CENTURY_MS + 1)


async def test_a_batch_with_one_job_out_of_bounds_writes_nothing(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    good = [JobRequest("t", delay_ms=CENTURY_MS), JobRequest("t", max_retries=1_000)]
    with pytest.raises(InvalidOption, match="max_retries"):
        await client.send_many([*good, JobRequest("t", max_retries=1_001)])
    assert inspector.keys(f"ardiq:{{{queue}}}:*") == []


@pytest.mark.parametrize("expires_ms", [NOW_MS + 1, LAST_MS_OF_9999])
def test_an_expiry_after_now_up_to_the_end_of_9999_is_field_14_of_a_1_1_record(expires_ms: int) -> None:
    record = record_of(JobRequest("t", expires_ms=expires_ms))
    assert record.HasField("expires_ms")
    assert record.expires_ms == expires_ms
    assert record.spec_version == "1.1"


def test_without_an_expiry_the_record_is_the_1_0_record() -> None:
    record = record_of(JobRequest("t"))
    assert not record.HasField("expires_ms")
    assert record.spec_version == "1.0"


RULE = f"it must be an int from 1 to {LAST_MS_OF_9999:,}"


@pytest.mark.parametrize(
    ("expires_ms", "message"),
    [
        (LAST_MS_OF_9999 + 1, f"invalid expires_ms {LAST_MS_OF_9999 + 1}: {RULE}"),
        (NOW_MS + 0.5, f"invalid expires_ms {NOW_MS + 0.5}: {RULE}"),
        (float(NOW_MS + 1), f"invalid expires_ms {float(NOW_MS + 1)}: {RULE}"),
        (True, f"invalid expires_ms True: {RULE}"),
        (str(NOW_MS + 1), f"invalid expires_ms '{NOW_MS + 1}': {RULE}"),
        (0, f"invalid expires_ms 0: {RULE}"),
        (-1, f"invalid expires_ms -1: {RULE}"),
        (NOW_MS, f"invalid expires_ms {NOW_MS}: it must be later than now ({NOW_MS})"),
        (NOW_MS - 1, f"invalid expires_ms {NOW_MS - 1}: it must be later than now ({NOW_MS})"),
    ],
)
def test_an_expiry_past_9999_not_an_int_or_not_after_now_is_invalid(expires_ms: Any, message: str) -> None:
    with pytest.raises(InvalidOption) as raised:
        encode_request(JobRequest("t", expires_ms=expires_ms), NOW_MS)
    assert str(raised.value) == message


def test_a_delayed_jobs_expiry_must_be_after_its_due_time() -> None:
    due = NOW_MS + 1_000
    with pytest.raises(InvalidOption) as raised:
        encode_request(JobRequest("t", delay_ms=1_000, expires_ms=due), NOW_MS)
    assert str(raised.value) == f"invalid expires_ms {due}: it must be later than the job's due time ({due})"
    with pytest.raises(InvalidOption):
        encode_request(JobRequest("t", schedule_ms=due, expires_ms=due - 1), NOW_MS)
    record = record_of(JobRequest("t", delay_ms=1_000, expires_ms=due + 1))
    assert (record.due_ms, record.expires_ms) == (due, due + 1)
    # A due time already past means run now: only the clock bounds the expiry.
    assert record_of(JobRequest("t", schedule_ms=NOW_MS - 5, expires_ms=NOW_MS + 1)).due_ms == 0


async def test_a_batch_with_one_job_expiring_in_the_past_writes_nothing(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    later = NOW_MS * 2
    with pytest.raises(InvalidOption):
        await client.send_many([JobRequest("ok", expires_ms=later), JobRequest("bad", expires_ms=NOW_MS)])
    assert inspector.keys(f"ardiq:{{{queue}}}:*") == []
