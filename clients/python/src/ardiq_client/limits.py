"""Producer-side limits and input checks (SPEC.md sections 1 and 5).

Each check raises the typed error the spec names for that input; none
coerces. `bool` is never accepted where an integer is expected.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from ardiq_client.errors import (
    InvalidDelay,
    InvalidJobId,
    InvalidOption,
    InvalidPriority,
    InvalidQueueName,
    InvalidTaskName,
    PayloadTooLarge,
)

MAX_RECORD_BYTES = 1_048_576
MAX_NAME_BYTES = 256
MAX_QUEUE_NAME_BYTES = 128
MAX_BATCH = 1_000
PRIORITY_LEVELS = 10
DEFAULT_PRIORITY = 5
#: 100 years of 365.25 days: the longest `delay_ms`, timeout, backoff and result TTL.
MAX_DURATION_MS = 3_155_760_000_000
#: 9999-12-31T23:59:59.999Z: the latest `schedule_ms` and `expires_ms`.
MAX_SCHEDULE_MS = 253_402_300_799_999
MAX_RETRIES = 1_000

#: Unicode's White_Space property, the spec's "white space" (Python's str.isspace also
#: counts U+001C..U+001F, which other implementations accept in ids).
WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _utf8_size(text: str) -> int | None:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def check_queue_name(queue: object) -> str:
    """Returns `queue` if it is 1 to 128 bytes of UTF-8 without ``{``, ``}`` or white space."""
    if type(queue) is not str:
        raise InvalidQueueName(f"queue name must be a str, not {type(queue).__name__}")
    size = _utf8_size(queue)
    if (
        size is None
        or not 1 <= size <= MAX_QUEUE_NAME_BYTES
        or any(c in "{}" or c in WHITE_SPACE for c in queue)
    ):
        raise InvalidQueueName(
            f"invalid queue name {queue!r}: it must be 1 to {MAX_QUEUE_NAME_BYTES} bytes of UTF-8 "
            "without '{', '}' or white space"
        )
    return queue


def check_task_name(task: object) -> str:
    """Returns `task` if it is 1 to 256 bytes of UTF-8."""
    if type(task) is not str:
        raise InvalidTaskName(f"task name must be a str, not {type(task).__name__}")
    size = _utf8_size(task)
    if size is None or not 1 <= size <= MAX_NAME_BYTES:
        raise InvalidTaskName(f"invalid task name {task!r}: it must be 1 to {MAX_NAME_BYTES} bytes of UTF-8")
    return task


@functools.lru_cache(maxsize=1024)
def _known_task_name(task: str) -> str:
    return check_task_name(task)


def check_task_name_cached(task: object) -> str:
    """`check_task_name`, remembering valid names: batches repeat the same few tasks."""
    if type(task) is str:
        return _known_task_name(task)
    return check_task_name(task)


def check_job_id(job_id: object) -> str:
    """Returns `job_id` if it is 1 to 256 bytes of UTF-8 without white space."""
    if type(job_id) is not str:
        raise InvalidJobId(f"job id must be a str, not {type(job_id).__name__}")
    size = _utf8_size(job_id)
    if size is None or not 1 <= size <= MAX_NAME_BYTES or not WHITE_SPACE.isdisjoint(job_id):
        raise InvalidJobId(
            f"invalid job id {job_id!r}: it must be 1 to {MAX_NAME_BYTES} bytes of UTF-8 without white space"
        )
    return job_id


MAX_HEADERS = 64
MAX_HEADER_VALUE_BYTES = 8_192


def check_headers(headers: object) -> dict[str, str]:
    """Spec 1.1 headers: a mapping of at most 64 names (1 to 256 bytes of
    UTF-8 without white space) to values (1 to 8192 bytes of UTF-8)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidOption(f"invalid headers {headers!r}: they must be a mapping of str to str")
    if len(headers) > MAX_HEADERS:
        raise InvalidOption(f"invalid headers: {len(headers)} headers, at most {MAX_HEADERS} are allowed")
    for name, value in headers.items():
        size = _utf8_size(name) if isinstance(name, str) else None
        if size is None or not 1 <= size <= MAX_NAME_BYTES or not WHITE_SPACE.isdisjoint(name):
            raise InvalidOption(
                f"invalid headers: header name {name!r} must be 1 to {MAX_NAME_BYTES} bytes of UTF-8 "
                "without white space"
            )
        size = _utf8_size(value) if isinstance(value, str) else None
        if size is None or not 1 <= size <= MAX_HEADER_VALUE_BYTES:
            raise InvalidOption(
                f"invalid headers: the value of header {name!r} must be a str of 1 to "
                f"{MAX_HEADER_VALUE_BYTES} bytes of UTF-8, not {value!r:.60}"
            )
    return dict(headers)


def check_priority(priority: object) -> int:
    """Returns the priority level, `DEFAULT_PRIORITY` for None; else it must be an int 0..9."""
    if priority is None:
        return DEFAULT_PRIORITY
    if type(priority) is not int or not 0 <= priority < PRIORITY_LEVELS:
        raise InvalidPriority(f"invalid priority {priority!r}: it must be an int from 0 to 9")
    return priority


def due_ms(delay_ms: object, schedule_ms: object, now_ms: int) -> int:
    """The job's `due_ms` (SPEC.md section 7): 0 means run now.

    `delay_ms` is relative to `now_ms` (0 to 100 years), `schedule_ms`
    absolute (0 to the end of year 9999); at most one may be given.
    """
    if delay_ms is not None and schedule_ms is not None:
        raise InvalidDelay("give delay_ms or schedule_ms, not both")
    if delay_ms is not None:
        if type(delay_ms) is not int or not 0 <= delay_ms <= MAX_DURATION_MS:
            raise InvalidDelay(
                f"invalid delay_ms {delay_ms!r}: it must be an int from 0 to {MAX_DURATION_MS:,} (100 years)"
            )
        return now_ms + delay_ms if delay_ms > 0 else 0
    if schedule_ms is not None:
        if type(schedule_ms) is not int or not 0 <= schedule_ms <= MAX_SCHEDULE_MS:
            raise InvalidDelay(
                f"invalid schedule_ms {schedule_ms!r}: it must be an int from 0 to {MAX_SCHEDULE_MS:,} "
                "(ms since the Unix epoch, at the latest 9999-12-31T23:59:59.999Z)"
            )
        return schedule_ms if schedule_ms > now_ms else 0
    return 0


def check_override(name: str, value: object, maximum: int) -> int | None:
    """Returns an optional job override if it is None or an int in 0..maximum."""
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= maximum:
        raise InvalidOption(f"invalid {name} {value!r}: it must be an int from 0 to {maximum:,}")
    return value


def check_expires(expires_ms: object, now_ms: int, due_ms: int) -> int | None:
    """Returns the job's `expires_ms` (1.1), None when not given: an int from 1 to the end of
    year 9999, later than `now_ms` and, for a delayed job (`due_ms` > 0), later than its due
    time (SPEC.md sections 5 and 17). The rules and their order are the Rust core's.
    """
    if expires_ms is None:
        return None
    if type(expires_ms) is not int or not 1 <= expires_ms <= MAX_SCHEDULE_MS:
        rule = f"it must be an int from 1 to {MAX_SCHEDULE_MS:,}"
    elif expires_ms <= now_ms:
        rule = f"it must be later than now ({now_ms})"
    elif due_ms > 0 and expires_ms <= due_ms:
        rule = f"it must be later than the job's due time ({due_ms})"
    else:
        return expires_ms
    raise InvalidOption(f"invalid expires_ms {expires_ms!r}: {rule}")


def check_record_size(size: int) -> None:
    """Rejects a `Job` record over the limit, before anything is written."""
    if size > MAX_RECORD_BYTES:
        raise PayloadTooLarge(f"job of {size} bytes is larger than the limit of {MAX_RECORD_BYTES} bytes")
