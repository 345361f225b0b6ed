"""Redis cost per task (design rule 3, SPEC.md section 11): enqueue,
execution and result together stay within the budget of 4 commands per
task, counted the way `INFO commandstats` counts them (commands inside
scripts included). A Redis of its own (`choose_redis(private=True)`: a
redis-server, or a container) keeps other tests' traffic out of the count."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from ardiq import Ardiq, JobStatus
from ardiq_testing import choose_redis
from worker_harness import run_burst

TASKS = 2_000
BUDGET = 4.0


@pytest.fixture
def own_redis() -> Iterator[str]:
    with choose_redis(private=True) as redis_:
        yield redis_.url


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats: Any = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(fields["calls"]) for name, fields in stats.items()}


async def test_enqueue_run_and_result_cost_at_most_4_commands_per_task(own_redis: str) -> None:
    inspector = redis.Redis.from_url(own_redis)
    app = Ardiq(own_redis, queue="commands-per-task")

    @app.task
    async def noop(n: int) -> None:
        return None

    try:
        await app.ping()
        before = command_calls(inspector)
        jobs = await app.enqueue_many([noop.prepare(n) for n in range(TASKS)])
        await run_burst(app)
        after = command_calls(inspector)
        assert await jobs[0].status() is JobStatus.COMPLETE
        assert await jobs[-1].status() is JobStatus.COMPLETE
    finally:
        await app.close()
        inspector.close()

    delta = {name: after[name] - before.get(name, 0) for name in after if name != "info"}
    delta = {name: calls for name, calls in delta.items() if calls}
    per_task = sum(delta.values()) / TASKS
    assert per_task <= BUDGET, f"{per_task:.2f} commands per task: {sorted(delta.items())}"
