# mypy: disable-error-code="type-arg"
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATE_UNSPECIFIED: _ClassVar[State]
    STATE_QUEUED: _ClassVar[State]
    STATE_SCHEDULED: _ClassVar[State]
    STATE_RUNNING: _ClassVar[State]
    STATE_COMPLETE: _ClassVar[State]
    STATE_FAILED: _ClassVar[State]
    STATE_ABORTED: _ClassVar[State]
    STATE_DEAD: _ClassVar[State]
    STATE_EXPIRED: _ClassVar[State]
STATE_UNSPECIFIED: State
STATE_QUEUED: State
STATE_SCHEDULED: State
STATE_RUNNING: State
STATE_COMPLETE: State
STATE_FAILED: State
STATE_ABORTED: State
STATE_DEAD: State
STATE_EXPIRED: State

class Job(_message.Message):
    __slots__ = ("spec_version", "id", "task", "args", "kwargs", "priority", "enqueued_ms", "due_ms", "attempt", "max_retries", "timeout_ms", "backoff_ms", "result_ttl_ms", "expires_ms", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    KWARGS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ENQUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    DUE_MS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    RESULT_TTL_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    spec_version: str
    id: str
    task: str
    args: bytes
    kwargs: bytes
    priority: int
    enqueued_ms: int
    due_ms: int
    attempt: int
    max_retries: int
    timeout_ms: int
    backoff_ms: int
    result_ttl_ms: int
    expires_ms: int
    headers: _containers.ScalarMap[str, str]
    def __init__(self, spec_version: _Optional[str] = ..., id: _Optional[str] = ..., task: _Optional[str] = ..., args: _Optional[bytes] = ..., kwargs: _Optional[bytes] = ..., priority: _Optional[int] = ..., enqueued_ms: _Optional[int] = ..., due_ms: _Optional[int] = ..., attempt: _Optional[int] = ..., max_retries: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., backoff_ms: _Optional[int] = ..., result_ttl_ms: _Optional[int] = ..., expires_ms: _Optional[int] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("type", "message", "traceback")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    traceback: str
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("fraction", "message", "updated_ms")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    message: str
    updated_ms: int
    def __init__(self, fraction: _Optional[float] = ..., message: _Optional[str] = ..., updated_ms: _Optional[int] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("spec_version", "state", "value", "error", "attempts", "enqueued_ms", "started_ms", "finished_ms", "worker_id", "task", "progress")
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ENQUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    STARTED_MS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_MS_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    spec_version: str
    state: State
    value: bytes
    error: Error
    attempts: int
    enqueued_ms: int
    started_ms: int
    finished_ms: int
    worker_id: str
    task: str
    progress: Progress
    def __init__(self, spec_version: _Optional[str] = ..., state: _Optional[_Union[State, str]] = ..., value: _Optional[bytes] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., attempts: _Optional[int] = ..., enqueued_ms: _Optional[int] = ..., started_ms: _Optional[int] = ..., finished_ms: _Optional[int] = ..., worker_id: _Optional[str] = ..., task: _Optional[str] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("spec_version", "job_id", "task", "reason", "detail", "job", "stream_id", "dead_ms", "worker_id", "error")
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    DEAD_MS_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    spec_version: str
    job_id: str
    task: str
    reason: str
    detail: str
    job: bytes
    stream_id: str
    dead_ms: int
    worker_id: str
    error: Error
    def __init__(self, spec_version: _Optional[str] = ..., job_id: _Optional[str] = ..., task: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ..., job: _Optional[bytes] = ..., stream_id: _Optional[str] = ..., dead_ms: _Optional[int] = ..., worker_id: _Optional[str] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class Failure(_message.Message):
    __slots__ = ("spec_version", "job_id", "task", "job", "error", "attempts", "started_ms", "failed_ms", "worker_id")
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    STARTED_MS_FIELD_NUMBER: _ClassVar[int]
    FAILED_MS_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    spec_version: str
    job_id: str
    task: str
    job: bytes
    error: Error
    attempts: int
    started_ms: int
    failed_ms: int
    worker_id: str
    def __init__(self, spec_version: _Optional[str] = ..., job_id: _Optional[str] = ..., task: _Optional[str] = ..., job: _Optional[bytes] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., attempts: _Optional[int] = ..., started_ms: _Optional[int] = ..., failed_ms: _Optional[int] = ..., worker_id: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("spec_version", "worker_id", "hostname", "pid", "started_ms", "seen_ms", "concurrency", "running", "completed", "failed", "queues")
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STARTED_MS_FIELD_NUMBER: _ClassVar[int]
    SEEN_MS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    spec_version: str
    worker_id: str
    hostname: str
    pid: int
    started_ms: int
    seen_ms: int
    concurrency: int
    running: int
    completed: int
    failed: int
    queues: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, spec_version: _Optional[str] = ..., worker_id: _Optional[str] = ..., hostname: _Optional[str] = ..., pid: _Optional[int] = ..., started_ms: _Optional[int] = ..., seen_ms: _Optional[int] = ..., concurrency: _Optional[int] = ..., running: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., queues: _Optional[_Iterable[str]] = ...) -> None: ...
