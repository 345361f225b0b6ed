"""The asyncio producer: `AsyncClient` and its job handle `AsyncJob`.

A client belongs to one queue. `send` enqueues one job in one round trip;
`send_many` validates every job first (so a bad one writes nothing), then
enqueues them with one `enqueue.lua` call per 1,000 jobs, all pipelined.
A single call runs through redis-py's script object (EVALSHA, and on
NOSCRIPT, SCRIPT LOAD and EVALSHA again); a batch sends again with EVAL
just the calls that found no script (see `ardiq_client.protocol` for why
batches bypass redis-py's pipeline).

On a Redis Cluster (``cluster=True``) every call goes to the node that
serves the queue's slot: all keys of a queue share one hash tag.

A call whose connection broke is sent once more on a new connection; one
that timed out is not (see `ardiq_client.connection`).

`result` is woken by the worker that ends the job (SPEC.md section 15; the
rules are in `ardiq_client.waiting`): the client's first wait subscribes to
the queue's events channel with redis-py's `PubSub`, read by one task and
shared by every later wait until the client closes.

Delivery is at least once: the worker may run a job more than once, and
the job id is the idempotency key. Enqueueing an id that exists already
writes nothing and returns a job whose `duplicate` is true.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import redis.asyncio
import redis.exceptions
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry

from ardiq_client import connection, inspect, limits, protocol, scripts, trace, waiting
from ardiq_client.errors import ArdiqError, NotConnected, ResultTimeout
from ardiq_client.inspect import JobPage, ListState, QueueInfo, WorkerInfo
from ardiq_client.keys import QueueKeys
from ardiq_client.protocol import AbortOutcome, EnqueueOutcome, JobRequest, ScriptCall
from ardiq_client.records import DEFAULT_RESULT_TTL_MS, JobStatus, Progress

T = TypeVar("T")


class _Events:
    """The async client's subscription to its queue's events channel (SPEC.md section 15): one
    redis-py `PubSub`, opened by the first wait and read by one task that wakes the waits."""

    def __init__(self, channel: str, timeout_s: float) -> None:
        self.state = waiting.Subscription()
        self._channel = channel
        self._timeout_s = timeout_s
        self._opening = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    async def ensure(self, redis_client: redis.asyncio.Redis | RedisCluster) -> int | None:
        """The live subscription's generation, subscribing first if there is none; None when
        there is none to be had (refused, or Redis unreachable: the waits poll)."""
        generation = self.state.generation
        if generation is not None or not self.state.may_open():
            return generation
        async with self._opening:
            generation = self.state.generation
            if generation is not None or not self.state.may_open():
                return generation
            pubsub: PubSub = redis_client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                await asyncio.wait_for(self._confirmed(pubsub), self._timeout_s)
            except (*connection.ERRORS, OSError, TimeoutError) as error:
                await self._close(pubsub)
                self.state.failed(error)
                return None
            if self.state.closed:
                await self._close(pubsub)
                return None
            generation = self.state.opened()
            self._reader = asyncio.create_task(self._read(pubsub, generation))
            return generation

    @staticmethod
    async def _confirmed(pubsub: PubSub) -> None:
        """Reads until Redis confirms the subscription (or refuses it: that raises)."""
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is not None and message["type"] == "subscribe":
                return

    async def _read(self, pubsub: PubSub, generation: int) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is not None and message["type"] == "message":
                    self.state.dispatch(message["data"])
        except Exception:  # the connection is gone (however it broke): the next wait subscribes again
            pass
        finally:
            self.state.lost(generation)
            await self._close(pubsub)

    @staticmethod
    async def _close(pubsub: PubSub) -> None:
        # redis-py leaves aclose untyped.
        aclose: Callable[[], Awaitable[None]] = pubsub.aclose
        with contextlib.suppress(*connection.ERRORS, OSError):
            await aclose()

    async def close(self) -> None:
        self.state.close()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class AsyncJob:
    """A handle on one job of an `AsyncClient`'s queue.

    `outcome` says what enqueueing did (None for a handle made by
    `AsyncClient.job`).
    """

    __slots__ = ("_client", "id", "outcome")

    def __init__(self, client: AsyncClient, job_id: str, outcome: EnqueueOutcome | None = None) -> None:
        self._client = client
        self.id = job_id
        self.outcome = outcome

    @property
    def duplicate(self) -> bool:
        """Whether a job with this id existed already, so nothing was enqueued."""
        return self.outcome is EnqueueOutcome.DUPLICATE

    async def status(self) -> JobStatus:
        """The job's current state."""
        return await self._client.status(self.id)

    async def result(self, timeout_s: float | None = None) -> Any:
        """Waits for the job to finish and returns its value (see `AsyncClient.result`)."""
        return await self._client.result(self.id, timeout_s=timeout_s)

    async def progress(self) -> Progress | None:
        """The job's last progress report (see `AsyncClient.progress`)."""
        return await self._client.progress(self.id)

    async def abort(self, result_ttl_ms: int = DEFAULT_RESULT_TTL_MS) -> AbortOutcome:
        """Aborts the job (see `AsyncClient.abort`)."""
        return await self._client.abort(self.id, result_ttl_ms=result_ttl_ms)

    def __repr__(self) -> str:
        return f"AsyncJob(id={self.id!r}, outcome={self.outcome!r})"


class AsyncClient:
    """An asyncio ArdiQ producer for one queue.

    Create it with `from_url` (no I/O yet), then `await client.connect()` or
    use ``async with``; close it with `close`.
    """

    def __init__(self, redis_client: redis.asyncio.Redis | RedisCluster, queue: str = "default") -> None:
        """Wraps a redis-py asyncio client, or its cluster client (it must not decode responses)."""
        connection_kwargs: Callable[[], dict[str, Any]] = redis_client.get_connection_kwargs
        kwargs = connection_kwargs()
        connection.check_connection_kwargs(kwargs)
        self._keys = QueueKeys(queue)
        self._redis: redis.asyncio.Redis | RedisCluster | None = redis_client
        self._scripts = {
            script.name: redis_client.register_script(script.source) for script in scripts.PRODUCER
        }
        self._events = _Events(self._keys.events, connection.command_timeout_s(kwargs))

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

        With `cluster`, the URL names any node of a Redis Cluster, and the
        client learns the others from it. Connecting waits at most
        `connect_timeout_s`, each reply at most `command_timeout_s`; past
        either, a call raises `RedisUnavailable`. `redis_options` go to
        `redis.asyncio.Redis.from_url`, or `redis.asyncio.cluster.RedisCluster.from_url`:
        e.g. ``ssl_ca_certs`` (a PEM file of the CA that signed the server's
        certificate) or ``ssl_cert_reqs="none"``, which redis-py also reads
        from the URL's query (``rediss://host/0?ssl_ca_certs=/etc/ca.pem``).
        """
        limits.check_queue_name(queue)
        options = connection.redis_options(redis_options, connect_timeout_s, command_timeout_s)
        options.setdefault("retry", Retry(*connection.NO_RETRIES))
        if cluster:
            return cls(RedisCluster.from_url(url, **options), queue)
        return cls(redis.asyncio.Redis.from_url(url, **options), queue)

    @property
    def queue(self) -> str:
        """The queue this client enqueues to."""
        return self._keys.queue

    def _live(self) -> redis.asyncio.Redis | RedisCluster:
        if self._redis is None:
            raise NotConnected("the client is closed")
        return self._redis

    async def connect(self) -> Self:
        """Checks that Redis answers and accepts the credentials."""
        await self._send(lambda: self._live().ping())
        return self

    async def close(self) -> None:
        """Closes the connections; the client cannot be used afterwards."""
        await self._events.close()
        if self._redis is not None:
            redis_client, self._redis = self._redis, None
            await redis_client.aclose()

    async def __aenter__(self) -> Self:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _call(self, call: ScriptCall) -> Any:
        return await self._scripts[call.script.name](call.keys, call.args, client=self._live())

    async def _send(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Runs `attempt`, once more when its connection broke; raises ArdiQ's typed errors."""
        try:
            try:
                return await attempt()
            except connection.ERRORS as error:
                if not connection.send_again(error):
                    raise
            # redis-py has dropped the broken connection: this attempt connects again.
            return await attempt()
        except connection.ERRORS as error:
            raise connection.translate(error) from error

    async def _run(self, call: ScriptCall) -> Any:
        return await self._send(lambda: self._call(call))

    async def _run_batch(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Runs many script calls over one connection: all written at once, then all replies read.

        The calls are packed by `ScriptCall.pack` and sent with redis-py's
        connection primitives, which skips redis-py's per-argument encoding.
        When the connection breaks, the calls that got no reply are sent once
        more on a new connection.
        """
        settled: list[Any] = []
        await self._send(lambda: self._send_batch(calls[len(settled) :], settled))
        for reply in settled:
            if isinstance(reply, redis.exceptions.RedisError):
                raise connection.translate(reply) from reply
        return settled

    async def _send_batch(self, calls: Sequence[ScriptCall], settled: list[Any]) -> None:
        """Appends the replies to `calls` to `settled` (see `_exchange_calls`)."""
        redis_client = self._live()
        if isinstance(redis_client, RedisCluster):
            await self._send_batch_on_cluster(redis_client, calls, settled)
            return
        pool = redis_client.connection_pool
        # redis-py leaves get_connection untyped; the connection is used through its
        # documented methods.
        acquire: Callable[[], Awaitable[Any]] = pool.get_connection
        conn = await acquire()
        try:
            await self._exchange_calls(conn, calls, settled)
        finally:
            await pool.release(conn)

    async def _send_batch_on_cluster(
        self, cluster: RedisCluster, calls: Sequence[ScriptCall], settled: list[Any]
    ) -> None:
        """`_send_batch` on the node that serves the queue's slot."""
        await cluster.initialize()  # reads the slot table once, and again after a node failed
        node = cluster.get_node_from_key(self._keys.prefix)
        assert node is not None  # None only when a replica is asked for
        conn = node.acquire_connection()
        start = len(settled)
        try:
            await node.disconnect_if_needed(conn)
            await self._exchange_calls(conn, calls, settled)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            # The node may have failed over: the next call must find the slot's new owner.
            with contextlib.suppress(*connection.ERRORS):
                await cluster.nodes_manager.initialize()
            raise
        finally:
            node.release(conn)
        for i in range(start, len(settled)):
            if connection.ran_nothing_here(settled[i]):
                # The slot moved or is moving; the cluster client follows the redirect and
                # updates its slot table, so the next batch goes to the right node at once.
                try:
                    settled[i] = await self._call(calls[i - start])
                except BaseException:
                    del settled[i:]  # from this call on, the batch is sent again if at all
                    raise

    async def _exchange_calls(self, conn: Any, calls: Sequence[ScriptCall], settled: list[Any]) -> None:
        """Appends to `settled` the replies to `calls` over one connection, in order.

        A call that failed has its `ResponseError`. When the exchange fails,
        `settled` gets the replies that are final (those read before the first
        NOSCRIPT), so a caller can send the rest again.
        """
        replies: list[Any] = []
        try:
            await self._exchange(conn, [call.pack() for call in calls], replies)
            missing = [
                i for i, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)
            ]
            if missing:
                # Only the calls that found no script ran nothing; run just those again.
                retried: list[Any] = []
                await self._exchange(conn, [calls[i].pack(b"EVAL") for i in missing], retried)
                for i, reply in zip(missing, retried, strict=True):
                    replies[i] = reply
        except BaseException:
            # Failed or cancelled mid-exchange: unread replies would confuse the connection's next user.
            await conn.disconnect()
            settled.extend(connection.final_replies(replies))
            raise
        settled.extend(replies)

    @staticmethod
    async def _exchange(conn: Any, commands: list[bytes], replies: list[Any]) -> None:
        """Sends `commands` at once, then appends each reply to `replies` as it is read."""
        await conn.send_packed_command(commands)
        for _ in commands:
            try:
                replies.append(await conn.read_response())
            except redis.exceptions.ResponseError as error:
                replies.append(error)

    async def send(
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
    ) -> AsyncJob:
        """Enqueues one call of `task` and returns its handle.

        `args` and `kwargs` are the task's arguments (values of the spec's
        type table); the options are keyword-only, as in `JobRequest`.
        """
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
        reply = await self._run(protocol.enqueue_call(self._keys, [job]))
        (outcome,) = protocol.parse_enqueue_reply(reply, 1)
        return AsyncJob(self, job.job_id, outcome)

    async def send_many(self, requests: Iterable[JobRequest]) -> list[AsyncJob]:
        """Enqueues many jobs in batches of 1,000, pipelined; returns their handles in order.

        Every request is validated and encoded before anything is sent, so an
        invalid one raises and writes nothing.
        """
        clock_ms = protocol.now_ms()
        context = trace.current_headers()
        jobs = [protocol.encode_request(request, clock_ms, context) for request in requests]
        if not jobs:
            return []
        batches = [jobs[i : i + limits.MAX_BATCH] for i in range(0, len(jobs), limits.MAX_BATCH)]
        replies = await self._run_batch([protocol.enqueue_call(self._keys, batch) for batch in batches])
        handles: list[AsyncJob] = []
        for batch, reply in zip(batches, replies, strict=True):
            outcomes = protocol.parse_enqueue_reply(reply, len(batch))
            handles.extend(
                AsyncJob(self, job.job_id, outcome) for job, outcome in zip(batch, outcomes, strict=True)
            )
        return handles

    def job(self, job_id: str) -> AsyncJob:
        """A handle on the job with this id (no I/O)."""
        return AsyncJob(self, limits.check_job_id(job_id))

    async def _status(self, job_id: str) -> tuple[JobStatus, bytes | None]:
        reply = await self._run(protocol.status_call(self._keys, limits.check_job_id(job_id)))
        return protocol.parse_status_reply(reply)

    async def status(self, job_id: str) -> JobStatus:
        """The job's current state (``not_found`` once its result expired)."""
        state, _ = await self._status(job_id)
        return state

    async def progress(self, job_id: str) -> Progress | None:
        """The last progress the job reported (SPEC.md section 16), while it runs and after it
        ended; None when it reported none (or is not found)."""
        _, record = await self._status(job_id)
        return protocol.progress_of(record)

    async def result(self, job_id: str, timeout_s: float | None = None) -> Any:
        """Waits until the job finishes and returns its return value.

        The worker that ends the job wakes the wait: the status is read when
        the wait starts, when told, and every second anyway (SPEC.md section
        15); a client whose user may not subscribe polls it (5 ms, growing to
        250 ms). Raises `JobFailed` (with the remote type, message and
        traceback), `JobDead`, `JobAborted`, `JobExpired`, `JobNotFound`, or
        `ResultTimeout` (a `TimeoutError`) when `timeout_s` passes first;
        None waits without limit.
        """
        state, record = await self._wait(limits.check_job_id(job_id), timeout_s)
        return protocol.result_of(job_id, state, record)

    async def _wait(self, job_id: str, timeout_s: float | None) -> tuple[JobStatus, bytes | None]:
        """The job's final state and record once it has one (or is not found); see `waiting`."""
        plan = waiting.WaitPlan(timeout_s)
        woken = asyncio.Event()
        with self._events.state.listen(job_id, woken.set):
            while True:
                generation = await self._events.ensure(self._live()) if plan.subscribes() else None
                if generation is not None:
                    clock_ms = protocol.now_ms()
                    deadline_ms = plan.registration(generation, clock_ms)
                    if deadline_ms is not None:
                        try:
                            await self._run(protocol.wait_call(self._keys, job_id, clock_ms, deadline_ms))
                        except ArdiqError as error:
                            plan.forget_registration()
                            if not waiting.is_refusal(error):
                                raise
                            self._events.state.refuse()
                            generation = None
                woken.clear()
                state, record = await self._status(job_id)
                if state.is_terminal or state is JobStatus.NOT_FOUND:
                    return state, record
                pause = plan.pause(subscribed=generation is not None)
                if pause is None:
                    raise ResultTimeout(job_id, timeout_s or 0.0)
                told = False
                if generation is None:
                    await asyncio.sleep(pause)
                else:
                    with contextlib.suppress(TimeoutError):
                        told = await asyncio.wait_for(woken.wait(), pause)
                plan.paused(woken=told)

    # -- inspection, read-only (SPEC.md section 20) ------------------------

    async def queue_info(self) -> QueueInfo:
        """The queue at a glance: waiting and held jobs per priority, scheduled ones and
        the next due time, running, dead and kept-failed counts, workers (`inspect.lua`)."""
        return inspect.parse_inspect_reply(
            self.queue, await self._run(inspect.inspect_call(self._keys, protocol.now_ms()))
        )

    async def workers(self) -> list[WorkerInfo]:
        """The workers seen in the last minute, most recent first; gone ones have `alive` False."""
        live, since = self._live(), inspect.listed_since(protocol.now_ms())
        seen = await self._send(
            lambda: live.zrange(self._keys.workers, "+inf", since, desc=True, withscores=True, byscore=True)
        )
        if not seen:
            return []
        keys = inspect.worker_keys(self._keys, seen)
        return inspect.parse_workers(seen, await self._send(lambda: live.mget(keys)))

    async def jobs(self, state: ListState | str, *, count: int = 100, cursor: str | None = None) -> JobPage:
        """One page of the queue's jobs in `state` (`running`, `scheduled`, `failed`,
        `dead`), at most `count` (1 to 1,000); the page's `next` is the following cursor."""
        state, count = ListState(state), inspect.check_page(count)
        live = self._live()
        if state is ListState.RUNNING:
            return inspect.parse_held_reply(await self._run(inspect.held_call(self._keys, count, cursor)))
        if state is ListState.SCHEDULED:
            return inspect.parse_scheduled_reply(
                await self._run(inspect.scheduled_call(self._keys, count, cursor))
            )
        start = inspect.store_start(cursor)
        stream = inspect.store_key(self._keys, state)
        entries = await self._send(lambda: live.xrange(stream, start, "+", count))
        return inspect.parse_store(state, entries, count)

    async def abort(self, job_id: str, result_ttl_ms: int = DEFAULT_RESULT_TTL_MS) -> AbortOutcome:
        """Aborts a job: at once when scheduled, else by asking the worker that holds or fetches it.

        `result_ttl_ms` is how long the aborted status of a scheduled job is
        kept (0 deletes it). A finished job is left alone; the outcome says
        which state it had.
        """
        call = protocol.abort_call(self._keys, limits.check_job_id(job_id), result_ttl_ms, protocol.now_ms())
        return protocol.parse_abort_reply(await self._run(call))
