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

from ardiq._core import SPEC_VERSION, VERSION
from ardiq.app import Ardiq, Lifespan
from ardiq.context import JobContext, current_job
from ardiq.cron import CatchUp, CronDecorator, Schedule, ScheduleState
from ardiq.errors import (
    ArdiqError,
    AuthenticationFailed,
    ContextUnavailable,
    InvalidDelay,
    InvalidJobId,
    InvalidOption,
    InvalidPriority,
    InvalidQueueName,
    InvalidSchedule,
    InvalidTaskName,
    JobAborted,
    JobDead,
    JobExpired,
    JobFailed,
    LifespanFailed,
    PayloadTooLarge,
    RedisUnavailable,
    Retry,
    UnknownTask,
    UnsupportedValue,
)
from ardiq.job import (
    AbortReply,
    BlockingJob,
    DeadLetter,
    EnqueueOutcome,
    Job,
    JobEvent,
    JobInfo,
    JobStatus,
    Progress,
    RemoteError,
)
from ardiq.task import AsyncTask, JobOptions, PreparedJob, SyncTask, Task
from ardiq.worker import Middleware

__all__ = [
    "SPEC_VERSION",
    "AbortReply",
    "Ardiq",
    "ArdiqError",
    "AsyncTask",
    "AuthenticationFailed",
    "BlockingJob",
    "CatchUp",
    "ContextUnavailable",
    "CronDecorator",
    "DeadLetter",
    "EnqueueOutcome",
    "InvalidDelay",
    "InvalidJobId",
    "InvalidOption",
    "InvalidPriority",
    "InvalidQueueName",
    "InvalidSchedule",
    "InvalidTaskName",
    "Job",
    "JobAborted",
    "JobContext",
    "JobDead",
    "JobEvent",
    "JobExpired",
    "JobFailed",
    "JobInfo",
    "JobOptions",
    "JobStatus",
    "Lifespan",
    "LifespanFailed",
    "Middleware",
    "PayloadTooLarge",
    "PreparedJob",
    "Progress",
    "RedisUnavailable",
    "RemoteError",
    "Retry",
    "Schedule",
    "ScheduleState",
    "SyncTask",
    "Task",
    "UnknownTask",
    "UnsupportedValue",
    "current_job",
]

#: The installed distribution's version (its one source is the workspace version in Cargo.toml).
__version__ = VERSION
