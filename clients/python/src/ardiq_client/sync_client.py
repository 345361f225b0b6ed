"""The blocking producer: `Client` and its job handle `Job`.

The same surface and behaviour as `AsyncClient`/`AsyncJob` (see
`ardiq_client.client`), on redis-py's blocking client, for code without an
event loop. One `Client` may be shared by threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import redis
import redis.exceptions
from redis.retry import Retry

from ardiq_client import connection, limits, protocol
from ardiq_client.client import POLL_FIRST_S, POLL_GROWTH, POLL_MAX_S
from ardiq_client.errors import NotConnected, ResultTimeout
from ardiq_client.keys import QueueKeys
from ardiq_client.protocol import AbortOutcome, EnqueueOutcome, JobRequest, ScriptCall
from ardiq_client.records import DEFAULT_RESULT_TTL_MS, JobStatus


class Job:
    """A handle on one job of a `Client`'s queue.

    `outcome` says what enqueueing did (None for a handle made by `Client.job`).
    """

    __slots__ = ("_client", "id", "outcome")

    def __init__(self, client: Client, job_id: str, outcome: EnqueueOutcome | None = None) -> None:
        self._client = client
        self.id = job_id
        self.outcome = outcome

    @property
    def duplicate(self) -> bool:
        """Whether a job with this id existed already, so nothing was enqueued."""
        return self.outcome is EnqueueOutcome.DUPLICATE

    def status(self) -> JobStatus:
        """The job's current state."""
        return self._client.status(self.id)

    def result(self, timeout_s: float | None = None) -> Any:
        """Waits for the job to finish and returns its value (see `Client.result`)."""
        return self._client.result(self.id, timeout_s=timeout_s)

    def abort(self, result_ttl_ms: int = DEFAULT_RESULT_TTL_MS) -> AbortOutcome:
        """Aborts the job (see `Client.abort`)."""
        return self._client.abort(self.id, result_ttl_ms=result_ttl_ms)

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, outcome={self.outcome!r})"


class Client:
    """A blocking ArdiQ producer for one queue.

    Create it with `from_url` (no I/O yet), then `client.connect()` or use
    ``with``; close it with `close`.
    """

    def __init__(self, redis_client: redis.Redis, queue: str = "default") -> None:
        """Wraps a redis-py client (it must not decode responses)."""
        connection_kwargs: Callable[[], dict[str, Any]] = redis_client.get_connection_kwargs
        connection.check_connection_kwargs(connection_kwargs())
        self._keys = QueueKeys(queue)
        self._redis: redis.Redis | None = redis_client

    @classmethod
    def from_url(cls, url: str, queue: str = "default", **redis_options: Any) -> Self:
        """A client for ``redis://`` or ``rediss://`` URLs, with ACL user and password in the URL.

        `redis_options` go to `redis.Redis.from_url` (e.g. ``ssl_ca_certs``).
        """
        limits.check_queue_name(queue)
        redis_options.setdefault("retry", Retry(connection.BACKOFF, connection.RETRIES))
        return cls(redis.Redis.from_url(url, **redis_options), queue)

    @property
    def queue(self) -> str:
        """The queue this client enqueues to."""
        return self._keys.queue

    def _live(self) -> redis.Redis:
        if self._redis is None:
            raise NotConnected("the client is closed")
        return self._redis

    def connect(self) -> Self:
        """Checks that Redis answers and accepts the credentials."""
        try:
            self._live().ping()
        except redis.exceptions.RedisError as error:
            raise connection.translate(error) from error
        return self

    def close(self) -> None:
        """Closes the connections; the client cannot be used afterwards."""
        if self._redis is not None:
            redis_client, self._redis = self._redis, None
            redis_client.close()

    def __enter__(self) -> Self:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, call: ScriptCall) -> Any:
        # redis-py leaves execute_command untyped; name the type it has.
        execute: Callable[..., Any] = self._live().execute_command
        try:
            try:
                return execute("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)
            except redis.exceptions.NoScriptError:
                return execute("EVAL", call.script.source, len(call.keys), *call.keys, *call.args)
        except redis.exceptions.RedisError as error:
            raise connection.translate(error) from error

    def _run_batch(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Runs many script calls over one connection (see `AsyncClient._run_batch`)."""
        pool = self._live().connection_pool
        # redis-py leaves get_connection untyped; the connection is used through its documented methods.
        acquire: Callable[[], Any] = pool.get_connection
        conn = acquire()
        try:
            replies = self._exchange(conn, [call.pack() for call in calls])
            missing = [
                i for i, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)
            ]
            if missing:
                # Only the calls that found no script ran nothing; run just those again.
                retried = self._exchange(conn, [calls[i].pack(b"EVAL") for i in missing])
                for i, reply in zip(missing, retried, strict=True):
                    replies[i] = reply
        except redis.exceptions.RedisError as error:
            conn.disconnect()
            raise connection.translate(error) from error
        except BaseException:
            # Interrupted mid-exchange: unread replies would confuse the next user of the connection.
            conn.disconnect()
            raise
        finally:
            pool.release(conn)
        for reply in replies:
            if isinstance(reply, redis.exceptions.RedisError):
                raise connection.translate(reply) from reply
        return replies

    @staticmethod
    def _exchange(conn: Any, commands: list[bytes]) -> list[Any]:
        conn.send_packed_command(commands)
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(conn.read_response())
            except redis.exceptions.ResponseError as error:
                replies.append(error)
        return replies

    def send(
        self,
        task: str,
        args: Sequence[object] = (),
        kwargs: Mapping[str, object] | None = None,
        *,
        priority: int | None = None,
        delay_ms: int | None = None,
        schedule_ms: int | None = None,
        job_id: str | None = None,
        max_retries: int | None = None,
        timeout_ms: int | None = None,
        backoff_ms: int | None = None,
        result_ttl_ms: int | None = None,
    ) -> Job:
        """Enqueues one call of `task` and returns its handle (see `AsyncClient.send`)."""
        request = JobRequest(
            task,
            args,
            kwargs,
            priority=priority,
            delay_ms=delay_ms,
            schedule_ms=schedule_ms,
            job_id=job_id,
            max_retries=max_retries,
            timeout_ms=timeout_ms,
            backoff_ms=backoff_ms,
            result_ttl_ms=result_ttl_ms,
        )
        job = protocol.encode_request(request, protocol.now_ms())
        reply = self._run(protocol.enqueue_call(self._keys, [job]))
        (outcome,) = protocol.parse_enqueue_reply(reply, 1)
        return Job(self, job.job_id, outcome)

    def send_many(self, requests: Iterable[JobRequest]) -> list[Job]:
        """Enqueues many jobs in batches of 1,000, pipelined (see `AsyncClient.send_many`)."""
        clock_ms = protocol.now_ms()
        jobs = [protocol.encode_request(request, clock_ms) for request in requests]
        if not jobs:
            return []
        batches = [jobs[i : i + limits.MAX_BATCH] for i in range(0, len(jobs), limits.MAX_BATCH)]
        replies = self._run_batch([protocol.enqueue_call(self._keys, batch) for batch in batches])
        handles: list[Job] = []
        for batch, reply in zip(batches, replies, strict=True):
            outcomes = protocol.parse_enqueue_reply(reply, len(batch))
            handles.extend(
                Job(self, job.job_id, outcome) for job, outcome in zip(batch, outcomes, strict=True)
            )
        return handles

    def job(self, job_id: str) -> Job:
        """A handle on the job with this id (no I/O)."""
        return Job(self, limits.check_job_id(job_id))

    def _status(self, job_id: str) -> tuple[JobStatus, bytes | None]:
        reply = self._run(protocol.status_call(self._keys, limits.check_job_id(job_id)))
        return protocol.parse_status_reply(reply)

    def status(self, job_id: str) -> JobStatus:
        """The job's current state (``not_found`` once its result expired)."""
        state, _ = self._status(job_id)
        return state

    def result(self, job_id: str, timeout_s: float | None = None) -> Any:
        """Waits until the job finishes and returns its return value (see `AsyncClient.result`)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        pause = POLL_FIRST_S
        while True:
            state, record = self._status(job_id)
            if state.is_terminal or state is JobStatus.NOT_FOUND:
                return protocol.result_of(job_id, state, record)
            if deadline is None:
                time.sleep(pause)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ResultTimeout(job_id, timeout_s or 0.0)
                time.sleep(min(pause, remaining))
            pause = min(pause * POLL_GROWTH, POLL_MAX_S)

    def abort(self, job_id: str, result_ttl_ms: int = DEFAULT_RESULT_TTL_MS) -> AbortOutcome:
        """Aborts a job (see `AsyncClient.abort`)."""
        call = protocol.abort_call(self._keys, limits.check_job_id(job_id), result_ttl_ms, protocol.now_ms())
        return protocol.parse_abort_reply(self._run(call))
