"""ArdiQ's pure-Python producer: enqueue jobs on Redis streams for ArdiQ workers.

`AsyncClient` (asyncio) and `Client` (blocking) offer the same methods:
`send`, `send_many`, `job`, `status`, `progress`, `result`, `abort`, `close`.
They speak the wire spec version 1.1 (spec/SPEC.md) and need neither the
`ardiq` package nor its native module.
"""

from ardiq_client.client import AsyncClient, AsyncJob
from ardiq_client.errors import (
    ArdiqError,
    AuthenticationFailed,
    InvalidDelay,
    InvalidJobId,
    InvalidOption,
    InvalidPriority,
    InvalidQueueName,
    InvalidTaskName,
    JobAborted,
    JobDead,
    JobExpired,
    JobFailed,
    JobNotFound,
    MalformedRecord,
    NotConnected,
    PayloadTooLarge,
    RedisUnavailable,
    ResultTimeout,
    UnsupportedValue,
)
from ardiq_client.protocol import AbortOutcome, EnqueueOutcome, JobRequest
from ardiq_client.records import SPEC_VERSION, JobStatus, Progress
from ardiq_client.sync_client import Client, Job
from ardiq_client.values import decode_value, encode_value

__all__ = [
    "SPEC_VERSION",
    "AbortOutcome",
    "ArdiqError",
    "AsyncClient",
    "AsyncJob",
    "AuthenticationFailed",
    "Client",
    "EnqueueOutcome",
    "InvalidDelay",
    "InvalidJobId",
    "InvalidOption",
    "InvalidPriority",
    "InvalidQueueName",
    "InvalidTaskName",
    "Job",
    "JobAborted",
    "JobDead",
    "JobExpired",
    "JobFailed",
    "JobNotFound",
    "JobRequest",
    "JobStatus",
    "MalformedRecord",
    "NotConnected",
    "PayloadTooLarge",
    "Progress",
    "RedisUnavailable",
    "ResultTimeout",
    "UnsupportedValue",
    "decode_value",
    "encode_value",
]
__version__ = "1.0.0"
