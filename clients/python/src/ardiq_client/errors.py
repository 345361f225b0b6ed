"""The typed errors of the ArdiQ client.

Every error derives from `ArdiqError`. Input errors are also `ValueError`s,
connection errors also builtin `ConnectionError`s, and a result wait that
runs out also a builtin `TimeoutError`, so callers may catch either the
ArdiQ type or the familiar builtin. Class names follow the spec's error
names (conformance/PROTOCOL.md) where the spec names one, hence without the
usual ``Error`` suffix (N818).
"""

from __future__ import annotations


class ArdiqError(Exception):
    """Base class of every error this package raises."""


class UnsupportedValue(ArdiqError, ValueError):
    """A user value outside the spec's type table (SPEC.md section 4).

    `path` names where the value sits, like ``args[1].when``.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"unsupported value at {path}: {reason}")
        self.path = path
        self.reason = reason


class InvalidTaskName(ArdiqError, ValueError):
    """The task name is not 1 to 256 bytes of UTF-8."""


class InvalidJobId(ArdiqError, ValueError):
    """The job id is not 1 to 256 bytes of UTF-8 without white space."""


class InvalidQueueName(ArdiqError, ValueError):
    """The queue name is not 1 to 128 bytes of UTF-8 without ``{``, ``}`` or white space."""


class InvalidPriority(ArdiqError, ValueError):
    """The priority is not an integer from 0 to 9."""


class InvalidDelay(ArdiqError, ValueError):
    """`delay_ms` is not an int from 0 to 100 years, `schedule_ms` not an int from 0 to the end
    of year 9999 (SPEC.md section 5), or both are given."""


class InvalidOption(ArdiqError, ValueError):
    """A job override is not an int in its range: `max_retries` 0..1,000; `timeout_ms`,
    `backoff_ms` and `result_ttl_ms` 0..3,155,760,000,000 (100 years); `expires_ms`
    1..253,402,300,799,999 and later than now and than a delayed job's due time."""


class PayloadTooLarge(ArdiqError, ValueError):
    """The encoded `Job` record is larger than 1,048,576 bytes (SPEC.md section 5)."""


class MalformedRecord(ArdiqError, ValueError):
    """Bytes read from Redis are not a valid record or MessagePack value."""


class RedisUnavailable(ArdiqError, ConnectionError):
    """Redis cannot be reached (refused, reset, timed out, or TLS failed), or is still loading its data."""


class AuthenticationFailed(ArdiqError, ConnectionError):
    """Redis rejected the URL's username or password."""


class NotConnected(ArdiqError, RuntimeError):
    """The client was used after `close()`."""


class JobNotFound(ArdiqError, LookupError):
    """The job has no status key: never enqueued, or its result expired (or had a TTL of 0)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} not found")
        self.job_id = job_id


class JobFailed(ArdiqError):
    """The job raised in the worker and has no retry left.

    The remote exception crosses languages as text: `remote_type` (the
    exception's type name, e.g. ``ValueError``), `remote_message` and
    `remote_traceback`.
    """

    def __init__(self, job_id: str, remote_type: str, remote_message: str, remote_traceback: str) -> None:
        super().__init__(f"{remote_type}: {remote_message}")
        self.job_id = job_id
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback


class JobDead(JobFailed):
    """The job was dead-lettered; `remote_type` is ``DeadLetter`` and the message holds the reason."""


class JobAborted(ArdiqError):
    """The job was aborted before it finished."""

    def __init__(self, job_id: str, message: str = "") -> None:
        super().__init__(f"job {job_id!r} was aborted" + (f": {message}" if message else ""))
        self.job_id = job_id


class JobExpired(ArdiqError):
    """No worker started the job before its `expires_ms`: it never ran."""

    def __init__(self, job_id: str, message: str = "") -> None:
        super().__init__(f"job {job_id!r} expired" + (f": {message}" if message else ""))
        self.job_id = job_id


class ResultTimeout(ArdiqError, TimeoutError):
    """The job did not reach a terminal state within the wait."""

    def __init__(self, job_id: str, timeout_s: float) -> None:
        super().__init__(f"job {job_id!r} did not finish within {timeout_s} s")
        self.job_id = job_id
        self.timeout_s = timeout_s
