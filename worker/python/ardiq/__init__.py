"""ArdiQ: a distributed task queue on Redis streams, with a Rust worker core.

```python
from ardiq import Ardiq

app = Ardiq("redis://localhost:6379/0")

@app.task
async def add(x: int, y: int) -> int:
    return x + y

job = await add.enqueue(1, 2)
assert await job.result(timeout_s=5) == 3
```
Run workers with `ardiq run module:app`. Delivery is at least once; the
job id is the idempotency key.
"""

from ardiq._core import SPEC_VERSION
from ardiq.app import Ardiq
from ardiq.errors import (
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
    JobFailed,
    PayloadTooLarge,
    RedisUnavailable,
    Retry,
    UnknownTask,
    UnsupportedValue,
)
from ardiq.job import AbortReply, DeadLetter, EnqueueOutcome, Job, JobInfo, JobStatus, RemoteError
from ardiq.task import JobOptions, PreparedJob, Task

__all__ = [
    "SPEC_VERSION",
    "AbortReply",
    "Ardiq",
    "ArdiqError",
    "AuthenticationFailed",
    "DeadLetter",
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
    "JobFailed",
    "JobInfo",
    "JobOptions",
    "JobStatus",
    "PayloadTooLarge",
    "PreparedJob",
    "RedisUnavailable",
    "RemoteError",
    "Retry",
    "Task",
    "UnknownTask",
    "UnsupportedValue",
]
