"""Waiting for results without polling (SPEC.md section 15): the rules both clients follow.

A wait registers itself with `wait.lua`, reads the status once, and reads it
again on each ``done:<id>`` message for its job and every `FALLBACK_POLL_S`
whatever it hears, so a lost message costs latency, never a hang. Every wait
of a client shares one subscription to the queue's events channel. Without a
subscription (the server refused it, or it could not be opened) waits poll
as a 1.0 client does.

No I/O happens here: `WaitPlan` decides what one wait does next,
`Subscription` keeps the state of a client's subscription and wakes the
waits its messages are for. `AsyncClient` and `Client` do the I/O, each with
its own kind of wake-up (an `asyncio.Event`, a `threading.Event`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import redis.exceptions

from ardiq_client.errors import ArdiqError

#: Status reads while subscribed, whatever the messages say: what a lost message costs at most.
FALLBACK_POLL_S = 1.0
#: The longest wait one `wait.lua` call registers; a longer wait registers again.
LONGEST_REGISTRATION_S = 60.0
#: A registration outlives its wait by this much, so a job that ends right at the deadline
#: still wakes it.
REGISTRATION_SLACK_S = 1.0
#: Without a subscription, status polling: the first pause, its growth per poll, and its cap.
POLL_FIRST_S = 0.005
POLL_GROWTH = 1.5
POLL_MAX_S = 0.25
#: After a subscription could not be opened, this long passes before another try.
RESUBSCRIBE_AFTER_S = 1.0

#: The message prefix of a job that ended.
DONE = b"done:"


def is_refusal(error: BaseException) -> bool:
    """Whether `error` is Redis refusing this user pub/sub or `wait.lua` (an ACL, say), rather
    than Redis being unreachable: then the client's waits poll instead. `error` is redis-py's,
    or the client's own error raised from it."""
    cause = error.__cause__ if isinstance(error, ArdiqError) else error
    return isinstance(cause, redis.exceptions.ResponseError)


class WaitPlan:
    """What one wait does next, from its start to its deadline (monotonic clock, seconds)."""

    __slots__ = ("_deadline", "_last", "_pause", "_registered", "_to_deadline")

    def __init__(self, timeout_s: float | None) -> None:
        self._deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self._registered: tuple[int, float] | None = None  # (generation, until)
        self._pause = POLL_FIRST_S
        self._to_deadline = False  # the pause given last runs to the deadline
        self._last = False  # the next read is the last

    def subscribes(self) -> bool:
        """Whether the wait should use the subscription before its next read (it has time left)."""
        return not self._last and (self._deadline is None or time.monotonic() < self._deadline)

    def registration(self, generation: int, clock_ms: int) -> int | None:
        """The deadline (ms on the producer's clock `clock_ms`) to register with `wait.lua` now,
        or None when the wait is registered already. It registers again under a new
        subscription (messages may have been missed), and before a registration shorter than
        the wait runs out."""
        now = time.monotonic()
        if self._registered is not None:
            registered_under, until = self._registered
            runs_out = (self._deadline is None or until < self._deadline) and until <= now + (
                LONGEST_REGISTRATION_S / 2
            )
            if registered_under == generation and not runs_out:
                return None
        length = LONGEST_REGISTRATION_S if self._deadline is None else self._deadline - now
        length = min(length, LONGEST_REGISTRATION_S) + REGISTRATION_SLACK_S
        self._registered = (generation, now + length)
        return clock_ms + round(length * 1000)

    def forget_registration(self) -> None:
        """The registration failed: the next one is tried from scratch."""
        self._registered = None

    def pause(self, subscribed: bool) -> float | None:
        """How long to wait before the next read, or None when the wait is over (the read just
        made was its last). Subscribed, the pause ends early when the job's message comes;
        either way the caller says how it ended with `paused`."""
        if self._last:
            return None
        left = None if self._deadline is None else self._deadline - time.monotonic()
        if left is not None and left <= 0:
            return None
        if subscribed:
            pause = FALLBACK_POLL_S
        else:
            pause, self._pause = self._pause, min(self._pause * POLL_GROWTH, POLL_MAX_S)
        self._to_deadline = left is not None and left <= pause
        return left if left is not None and self._to_deadline else pause

    def paused(self, woken: bool) -> None:
        """The pause ended, by a message (`woken`) or in full: a full pause to the deadline
        makes the next read the last."""
        self._last = self._to_deadline and not woken


class Subscription:
    """The state of a client's subscription to its queue's events channel, and the waits it
    wakes. Thread-safe: a blocking client's reader thread dispatches while callers listen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wakes: dict[bytes, set[Callable[[], None]]] = {}
        self._generation = 0
        self._live = False
        self._refused = False
        self._closed = False
        self._retry_at = 0.0

    @contextlib.contextmanager
    def listen(self, job_id: str, wake: Callable[[], None]) -> Iterator[None]:
        """Calls `wake` on each ``done:<job_id>`` message while the block runs."""
        key = job_id.encode()
        with self._lock:
            self._wakes.setdefault(key, set()).add(wake)
        try:
            yield
        finally:
            with self._lock:
                wakes = self._wakes.get(key)
                if wakes is not None:
                    wakes.discard(wake)
                    if not wakes:
                        del self._wakes[key]

    def dispatch(self, message: object) -> None:
        """Wakes the waits a message on the channel is for (only ``done:<id>`` wakes anyone)."""
        if isinstance(message, bytes) and message.startswith(DONE):
            with self._lock:
                wakes = list(self._wakes.get(message[len(DONE) :], ()))
            for wake in wakes:
                wake()

    @property
    def generation(self) -> int | None:
        """The live subscription's number (a new one after each subscribe), or None."""
        return self._generation if self._live else None

    def may_open(self) -> bool:
        """Whether a client without a live subscription should try to open one now."""
        return not (self._closed or self._refused) and time.monotonic() >= self._retry_at

    def opened(self) -> int:
        """A subscription is live; returns its generation."""
        self._generation += 1
        self._live = True
        return self._generation

    def failed(self, error: BaseException) -> None:
        """Opening a subscription failed: refused for good, or tried again after a pause."""
        if is_refusal(error):
            self._refused = True
        else:
            self._retry_at = time.monotonic() + RESUBSCRIBE_AFTER_S

    def lost(self, generation: int) -> None:
        """The subscription `generation` ended (its connection broke, or it was closed)."""
        if self._generation == generation:
            self._live = False

    def refuse(self) -> None:
        """Redis refused `wait.lua`: the client's waits poll from now on."""
        self._refused = True
        self._live = False

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """The client closes: no subscription from now on, and every wait is woken (its next
        read then fails)."""
        self._closed = True
        self._live = False
        with self._lock:
            wakes = [wake for group in self._wakes.values() for wake in group]
        for wake in wakes:
            wake()
