"""The dead-letter store from Python: listed oldest first, replayed (attempts
reset, same id, same priority) and deleted."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from ardiq import Ardiq, ArdiqError, JobStatus
from wire_records import Keys, add_entry, stream_length
from worker_harness import WAIT_S, run_burst, running_worker, wait_for_status


def take_as_ghost(inspector: redis.Redis, stream: str, deliveries: int) -> str:
    """Fetches the stream's first entry as a consumer that then vanished,
    as if `deliveries` runs had each ended their worker."""
    inspector.xgroup_create(stream, "ardiq", id="0", mkstream=True)
    reply: Any = inspector.xreadgroup("ardiq", "ghost", {stream: ">"}, count=1)
    entry_id: str = reply[0][1][0][0].decode()
    inspector.xclaim(stream, "ardiq", "ghost", 0, [entry_id], idle=60_000, retrycount=deliveries)
    return entry_id


async def test_dead_letters_are_listed_oldest_first(app: Ardiq) -> None:
    @app.task
    async def known() -> None:
        return None

    jobs = [await app.send(f"missing_{n}") for n in range(3)]
    await run_burst(app)

    letters = await app.dead_letters()
    assert [letter.job_id for letter in letters] == [job.id for job in jobs]
    assert [letter.task for letter in letters] == ["missing_0", "missing_1", "missing_2"]
    assert {letter.reason for letter in letters} == {"unknown_task"}
    assert letters == sorted(letters, key=lambda letter: letter.dead_ms)
    assert all(letter.dead_ms > 0 and letter.entry_id for letter in letters)


async def test_dead_letters_count_limits_the_listing(app: Ardiq) -> None:
    @app.task
    async def known() -> None:
        return None

    for n in range(5):
        await app.send(f"missing_{n}")
    await run_burst(app)

    assert len(await app.dead_letters(count=2)) == 2
    assert len(await app.dead_letters()) == 5


async def test_job_dead_for_an_unknown_task_runs_when_replayed_to_a_worker_that_has_it(
    redis_url: str, queue: str, app: Ardiq
) -> None:
    @app.task
    async def other() -> None:
        return None

    job = await app.send("greet", "ada")
    await run_burst(app)
    assert await job.status() is JobStatus.DEAD
    [letter] = await app.dead_letters()

    upgraded = Ardiq(redis_url, queue=queue)

    @upgraded.task
    async def greet(name: str) -> str:
        return f"hello {name}"

    try:
        replayed = await upgraded.replay_dead_letter(letter.entry_id)
        assert replayed is not None
        assert replayed.id == job.id
        assert await replayed.status() is JobStatus.QUEUED
        assert await upgraded.dead_letters() == []
        await run_burst(upgraded)
        assert await replayed.result(timeout_s=WAIT_S) == "hello ada"
        assert (await replayed.info()).attempts == 1
    finally:
        await upgraded.close()


async def test_job_dead_at_its_delivery_limit_completes_when_replayed(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    runs: list[int] = []

    @app.task
    async def fragile(x: int) -> int:
        runs.append(x)
        return x

    job = await fragile.enqueue(7)
    take_as_ghost(inspector, keys.stream(5), deliveries=3)
    async with running_worker(app, visibility_ms=500, max_deliveries=3):
        await wait_for_status(job, JobStatus.DEAD)
        [letter] = await app.dead_letters()
        assert letter.reason == "delivery_limit"
        assert letter.job_id == job.id
        assert runs == []

        replayed = await app.replay_dead_letter(letter.entry_id)
        assert replayed is not None
        assert await replayed.result(timeout_s=WAIT_S) == 7

    assert runs == [7]
    assert await app.dead_letters() == []


async def test_replayed_job_keeps_its_priority(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    @app.task
    async def known() -> None:
        return None

    job = await app.options(priority=8).send("missing")
    await run_burst(app)
    [letter] = await app.dead_letters()

    await app.replay_dead_letter(letter.entry_id)

    entries: Any = inspector.xrange(keys.stream(8))
    assert [fields[b"id"].decode() for _, fields in entries] == [job.id]


async def test_replay_of_a_dead_letter_that_is_gone_returns_none(app: Ardiq) -> None:
    assert await app.replay_dead_letter("1-0") is None


async def test_dead_letter_without_a_job_cannot_be_replayed_and_stays(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def known() -> None:
        return None

    add_entry(inspector, keys.stream(5), {"id": b"no-job", "task": b"known"})
    await run_burst(app)
    [letter] = await app.dead_letters()

    with pytest.raises(ArdiqError):
        await app.replay_dead_letter(letter.entry_id)
    assert [d.entry_id for d in await app.dead_letters()] == [letter.entry_id]
    assert stream_length(inspector, keys.stream(5)) == 0


async def test_deleted_dead_letters_are_gone_and_counted(app: Ardiq) -> None:
    @app.task
    async def known() -> None:
        return None

    for n in range(3):
        await app.send(f"missing_{n}")
    await run_burst(app)
    letters = await app.dead_letters()

    removed = await app.delete_dead_letters([letters[0].entry_id, letters[2].entry_id, "1-0"])

    assert removed == 2
    assert [d.entry_id for d in await app.dead_letters()] == [letters[1].entry_id]


async def test_deleting_no_dead_letters_removes_nothing(app: Ardiq) -> None:
    assert await app.delete_dead_letters([]) == 0
