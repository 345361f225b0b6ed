"""The blocking producer: `Client` and its job handle `Job`.

The same surface and behaviour as `AsyncClient`/`AsyncJob` (see
`ardiq_client.client`), on redis-py's blocking client, for code without an
event loop. One `Client` may be shared by threads.

redis-py's blocking cluster client reads the slot table when it is built,
so `Client.from_url(..., cluster=True)` builds it on first use (usually
`connect`), keeping `from_url` free of I/O as for a single Redis.

`result` is woken by the worker that ends the job, as in `AsyncClient`: the
client's first wait subscribes with redis-py's `PubSub`, read by redis-py's
worker thread (`run_in_thread`) and shared by every later wait.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import redis
import redis.exceptions
from redis.client import PubSub, PubSubWorkerThread
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.retry import Retry

from ardiq_client import connection, inspect, limits, protocol, scripts, trace, waiting
from ardiq_client.errors import ArdiqError, NotConnected, ResultTimeout
from ardiq_client.inspect import JobPage, ListState, QueueInfo, WorkerInfo
from ardiq_client.keys import QueueKeys
from ardiq_client.protocol import AbortOutcome, EnqueueOutcome, JobRequest, ScriptCall
from ardiq_client.records import DEFAULT_RESULT_TTL_MS, JobStatus, Progress

T = TypeVar("T")

#: How often the reader thread looks up from the socket (to notice that the client closed).
_READER_TICK_S = 1.0


class _Events:
    """The blocking client's subscription to its queue's events channel (SPEC.md section 15):
    one redis-py `PubSub`, opened by the first wait and read by redis-py's worker thread,
    which wakes the waits."""

    def __init__(self, channel: str, timeout_s: float) -> None:
        self.state = waiting.Subscription()
        self._channel = channel
        self._timeout_s = timeout_s
        self._opening = threading.Lock()
        self._reader: PubSubWorkerThread | None = None

    def ensure(self, redis_client: redis.Redis | RedisCluster) -> int | None:
        """The live subscription's generation, subscribing first if there is none; None when
        there is none to be had (refused, or Redis unreachable: the waits poll)."""
        generation = self.state.generation
        if generation is not None or not self.state.may_open():
            return generation
        with self._opening:
            generation = self.state.generation
            if generation is not None or not self.state.may_open():
                return generation
            # redis-py leaves the blocking clients' pubsub untyped.
            open_pubsub: Callable[[], PubSub] = redis_client.pubsub
            pubsub = open_pubsub()
            try:
                pubsub.subscribe(**{self._channel: self._on_message})
                self._confirm(pubsub)
            except (*connection.ERRORS, OSError, TimeoutError) as error:
                with contextlib.suppress(*connection.ERRORS, OSError):
                    pubsub.close()
                self.state.failed(error)
                return None
            generation = self.state.opened()
            self._reader = pubsub.run_in_thread(
                sleep_time=_READER_TICK_S,
                daemon=True,
                exception_handler=lambda error, _, thread: self._lost(generation, thread),
            )
            if self.state.closed:
                self._reader.stop()
                return None
            return generation

    def _confirm(self, pubsub: PubSub) -> None:
        """Reads until Redis confirms the subscription (or refuses it: that raises)."""
        deadline = time.monotonic() + self._timeout_s
        while (left := deadline - time.monotonic()) > 0:
            message = pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "subscribe":
                return
        raise TimeoutError(f"Redis did not confirm the subscription within {self._timeout_s} s")

    def _on_message(self, message: dict[str, Any]) -> None:
        self.state.dispatch(message["data"])

    def _lost(self, generation: int, thread: PubSubWorkerThread) -> None:
        # The connection is gone: the thread ends (closing the pubsub), the next wait subscribes.
        self.state.lost(generation)
        thread.stop()

    def close(self) -> None:
        self.state.close()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.stop()  # the thread closes its pubsub within one tick


def _register_scripts(redis_client: redis.Redis | RedisCluster) -> dict[str, Script]:
    """redis-py's script objects of the producer scripts, by file name (no I/O)."""
    return {script.name: redis_client.register_script(script.source) for script in scripts.PRODUCER}


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

    def progress(self) -> Progress | None:
        """The job's last progress report (see `AsyncClient.progress`)."""
        return self._client.progress(self.id)

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

    def __init__(self, redis_client: redis.Redis | RedisCluster, queue: str = "default") -> None:
        """Wraps a redis-py client, or its cluster client (it must not decode responses)."""
        connection_kwargs: Callable[[], dict[str, Any]] = redis_client.get_connection_kwargs
        kwargs = connection_kwargs()
        connection.check_connection_kwargs(kwargs)
        self._adopt(queue, redis_client, None, connection.command_timeout_s(kwargs))

    def _adopt(
        self,
        queue: str,
        redis_client: redis.Redis | RedisCluster | None,
        open_cluster: Callable[[], RedisCluster] | None,
        command_timeout_s: float,
    ) -> None:
        self._keys = QueueKeys(queue)
        self._events = _Events(self._keys.events, command_timeout_s)
        self._scripts = {} if redis_client is None else _register_scripts(redis_client)
        self._redis = redis_client
        # Builds the cluster client on first use (see the module doc); None once built or closed.
        self._open_cluster = open_cluster
        self._opening = threading.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        queue: str = "default",
        *,
        cluster: bool = False,
        connect_timeout_s: float = connection.DEFAULT_CONNECT_TIMEOUT_S,
        command_timeout_s: float = connection.DEFAULT_COMMAND_TIMEOUT_S,
        **redis_options: Any,
    ) -> Self:
        """A client for ``redis://`` or ``rediss://`` URLs, with ACL user and password in the URL.

        The options are `AsyncClient.from_url`'s; `redis_options` go to
        `redis.Redis.from_url`, or `redis.cluster.RedisCluster.from_url`.
        """
        limits.check_queue_name(queue)
        options = connection.redis_options(redis_options, connect_timeout_s, command_timeout_s)
        options.setdefault("retry", Retry(*connection.NO_RETRIES))
        if not cluster:
            return cls(redis.Redis.from_url(url, **options), queue)
        client = cls.__new__(cls)
        client._adopt(queue, None, lambda: RedisCluster.from_url(url, **options), command_timeout_s)
        return client

    @property
    def queue(self) -> str:
        """The queue this client enqueues to."""
        return self._keys.queue

    def _live(self) -> redis.Redis | RedisCluster:
        """The redis-py client; building a cluster client raises redis-py's errors (`connection.ERRORS`)."""
        if self._redis is None:
            with self._opening:
                if self._redis is None and self._open_cluster is not None:
                    cluster = self._open_cluster()
                    # The scripts first: a thread that sees the client uses them at once.
                    self._scripts = _register_scripts(cluster)
                    self._redis = cluster
                    self._open_cluster = None
            if self._redis is None:
                raise NotConnected("the client is closed")
        return self._redis

    def connect(self) -> Self:
        """Checks that Redis answers and accepts the credentials."""
        self._send(lambda: self._live().ping())
        return self

    def close(self) -> None:
        """Closes the connections; the client cannot be used afterwards."""
        self._events.close()
        with self._opening:
            redis_client, self._redis, self._open_cluster = self._redis, None, None
        if redis_client is not None:
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

    def _call(self, call: ScriptCall) -> Any:
        redis_client = self._live()
        return self._scripts[call.script.name](call.keys, call.args, client=redis_client)

    def _send(self, attempt: Callable[[], T]) -> T:
        """Runs `attempt`, once more when its connection broke (see `AsyncClient._send`)."""
        try:
            try:
                return attempt()
            except connection.ERRORS as error:
                if not connection.send_again(error):
                    raise
            # redis-py has dropped the broken connection: this attempt connects again.
            return attempt()
        except connection.ERRORS as error:
            raise connection.translate(error) from error

    def _run(self, call: ScriptCall) -> Any:
        return self._send(lambda: self._call(call))

    def _run_batch(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Runs many script calls over one connection (see `AsyncClient._run_batch`)."""
        settled: list[Any] = []
        self._send(lambda: self._send_batch(calls[len(settled) :], settled))
        for reply in settled:
            if isinstance(reply, redis.exceptions.RedisError):
                raise connection.translate(reply) from reply
        return settled

    def _send_batch(self, calls: Sequence[ScriptCall], settled: list[Any]) -> None:
        """Appends the replies to `calls` to `settled` (see `AsyncClient._exchange_calls`)."""
        redis_client = self._live()
        if isinstance(redis_client, RedisCluster):
            self._send_batch_on_cluster(redis_client, calls, settled)
        else:
            self._send_batch_on_pool(redis_client.connection_pool, calls, settled)

    def _send_batch_on_cluster(
        self, cluster: RedisCluster, calls: Sequence[ScriptCall], settled: list[Any]
    ) -> None:
        """`_send_batch` on the node that serves the queue's slot (as `AsyncClient` does)."""
        # redis-py leaves get_node_from_key untyped; it returns the slot's primary.
        node_of: Callable[[str], Any] = cluster.get_node_from_key
        node = node_of(self._keys.prefix)
        start = len(settled)
        try:
            self._send_batch_on_pool(cluster.get_redis_connection(node).connection_pool, calls, settled)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            # The node may have failed over: the next call must find the slot's new owner.
            with contextlib.suppress(*connection.ERRORS):
                cluster.nodes_manager.initialize()
            raise
        for i in range(start, len(settled)):
            if connection.ran_nothing_here(settled[i]):
                # The slot moved or is moving; the cluster client follows the redirect and
                # updates its slot table, so the next batch goes to the right node at once.
                try:
                    settled[i] = self._call(calls[i - start])
                except BaseException:
                    del settled[i:]  # from this call on, the batch is sent again if at all
                    raise

    def _send_batch_on_pool(self, pool: Any, calls: Sequence[ScriptCall], settled: list[Any]) -> None:
        """Appends to `settled` the replies to `calls` over one connection of `pool`, in order
        (see `AsyncClient._exchange_calls`)."""
        conn = pool.get_connection()
        replies: list[Any] = []
        try:
            self._exchange(conn, [call.pack() for call in calls], replies)
            missing = [
                i for i, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)
            ]
            if missing:
                # Only the calls that found no script ran nothing; run just those again.
                retried: list[Any] = []
                self._exchange(conn, [calls[i].pack(b"EVAL") for i in missing], retried)
                for i, reply in zip(missing, retried, strict=True):
                    replies[i] = reply
        except BaseException:
            # Failed or interrupted mid-exchange: unread replies would confuse the connection's next user.
            conn.disconnect()
            settled.extend(connection.final_replies(replies))
            raise
        finally:
            pool.release(conn)
        settled.extend(replies)

    @staticmethod
    def _exchange(conn: Any, commands: list[bytes], replies: list[Any]) -> None:
        """Sends `commands` at once, then appends each reply to `replies` as it is read."""
        conn.send_packed_command(commands)
        for _ in commands:
            try:
                replies.append(conn.read_response())
            except redis.exceptions.ResponseError as error:
                replies.append(error)

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
        expires_ms: int | None = None,
        headers: Mapping[str, str] | None = None,
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
            expires_ms=expires_ms,
            headers=headers,
        )
        job = protocol.encode_request(request, protocol.now_ms(), trace.current_headers())
        reply = self._run(protocol.enqueue_call(self._keys, [job]))
        (outcome,) = protocol.parse_enqueue_reply(reply, 1)
        return Job(self, job.job_id, outcome)

    def send_many(self, requests: Iterable[JobRequest]) -> list[Job]:
        """Enqueues many jobs in batches of 1,000, pipelined (see `AsyncClient.send_many`)."""
        clock_ms = protocol.now_ms()
        context = trace.current_headers()
        jobs = [protocol.encode_request(request, clock_ms, context) for request in requests]
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

    def progress(self, job_id: str) -> Progress | None:
        """The last progress the job reported (see `AsyncClient.progress`)."""
        _, record = self._status(job_id)
        return protocol.progress_of(record)

    def result(self, job_id: str, timeout_s: float | None = None) -> Any:
        """Waits until the job finishes and returns its return value (see `AsyncClient.result`)."""
        state, record = self._wait(limits.check_job_id(job_id), timeout_s)
        return protocol.result_of(job_id, state, record)

    def _wait(self, job_id: str, timeout_s: float | None) -> tuple[JobStatus, bytes | None]:
        """The job's final state and record once it has one (see `AsyncClient._wait`)."""
        plan = waiting.WaitPlan(timeout_s)
        woken = threading.Event()
        with self._events.state.listen(job_id, woken.set):
            while True:
                generation = self._events.ensure(self._live()) if plan.subscribes() else None
                if generation is not None:
                    clock_ms = protocol.now_ms()
                    deadline_ms = plan.registration(generation, clock_ms)
                    if deadline_ms is not None:
                        try:
                            self._run(protocol.wait_call(self._keys, job_id, clock_ms, deadline_ms))
                        except ArdiqError as error:
                            plan.forget_registration()
                            if not waiting.is_refusal(error):
                                raise
                            self._events.state.refuse()
                            generation = None
                woken.clear()
                state, record = self._status(job_id)
                if state.is_terminal or state is JobStatus.NOT_FOUND:
                    return state, record
                pause = plan.pause(subscribed=generation is not None)
                if pause is None:
                    raise ResultTimeout(job_id, timeout_s or 0.0)
                told = False
                if generation is None:
                    time.sleep(pause)
                else:
                    told = woken.wait(pause)
                plan.paused(woken=told)

    # -- inspection, read-only (SPEC.md section 20) ------------------------

    def queue_info(self) -> QueueInfo:
        """The queue at a glance: waiting and held jobs per priority, scheduled ones and
        the next due time, running, dead and kept-failed counts, workers (`inspect.lua`)."""
        return inspect.parse_inspect_reply(
            self.queue, self._run(inspect.inspect_call(self._keys, protocol.now_ms()))
        )

    def workers(self) -> list[WorkerInfo]:
        """The workers seen in the last minute, most recent first; gone ones have `alive` False."""
        live, since = self._live(), inspect.listed_since(protocol.now_ms())
        seen = self._send(
            lambda: live.zrange(self._keys.workers, "+inf", since, desc=True, withscores=True, byscore=True)
        )
        if not seen:
            return []
        keys = inspect.worker_keys(self._keys, seen)
        return inspect.parse_workers(seen, self._send(lambda: live.mget(keys)))

    def jobs(self, state: ListState | str, *, count: int = 100, cursor: str | None = None) -> JobPage:
        """One page of the queue's jobs in `state` (`running`, `scheduled`, `failed`,
        `dead`), at most `count` (1 to 1,000); the page's `next` is the following cursor."""
        state, count = ListState(state), inspect.check_page(count)
        live = self._live()
        if state is ListState.RUNNING:
            return inspect.parse_held_reply(self._run(inspect.held_call(self._keys, count, cursor)))
        if state is ListState.SCHEDULED:
            return inspect.parse_scheduled_reply(self._run(inspect.scheduled_call(self._keys, count, cursor)))
        start = inspect.store_start(cursor)
        stream = inspect.store_key(self._keys, state)
        entries = self._send(lambda: live.xrange(stream, start, "+", count))
        return inspect.parse_store(state, entries, count)

    def abort(self, job_id: str, result_ttl_ms: int = DEFAULT_RESULT_TTL_MS) -> AbortOutcome:
        """Aborts a job (see `AsyncClient.abort`)."""
        call = protocol.abort_call(self._keys, limits.check_job_id(job_id), result_ttl_ms, protocol.now_ms())
        return protocol.parse_abort_reply(self._run(call))
