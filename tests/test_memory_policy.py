"""A worker warns at start when Redis's `maxmemory-policy` lets Redis evict
the queue's keys (SPEC.md section 14), and again when Redis comes back
without the queues' data under such a policy; it says nothing under
`noeviction`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from ardiq import Ardiq
from ardiq_testing import RedisServer
from ardiq_testing.cluster import RedisCluster
from worker_harness import WAIT_S, eventually, run_burst, running_worker


def warnings_about_eviction(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "maxmemory-policy" in r.getMessage()
    ]


@pytest.fixture
def policy(inspector: redis.Redis) -> Iterator[redis.Redis]:
    """The server's policy and maxmemory, set back after the test."""
    before = cast(dict[str, Any], inspector.config_get("maxmemory*"))
    yield inspector
    inspector.config_set("maxmemory-policy", before["maxmemory-policy"])
    inspector.config_set("maxmemory", before["maxmemory"])


@pytest.mark.parametrize(
    ("setting", "evicts"),
    [("allkeys-lru", "queued jobs"), ("volatile-ttl", "results"), ("allkeys-random", "queued jobs")],
)
async def test_a_policy_that_evicts_is_named_in_a_warning_at_start(
    app: Ardiq, policy: redis.Redis, caplog: pytest.LogCaptureFixture, setting: str, evicts: str
) -> None:
    policy.config_set("maxmemory-policy", setting)
    policy.config_set("maxmemory", "1gb")
    with caplog.at_level(logging.INFO, logger="ardiq"):
        await run_burst(app)

    [warning] = warnings_about_eviction(caplog)
    assert f"maxmemory-policy is {setting}" in warning
    assert "maxmemory is 1073741824 bytes" in warning
    assert evicts in warning
    assert "noeviction" in warning


async def test_noeviction_gets_no_warning(
    app: Ardiq, policy: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    policy.config_set("maxmemory-policy", "noeviction")
    with caplog.at_level(logging.INFO, logger="ardiq"):
        await run_burst(app)

    assert warnings_about_eviction(caplog) == []


async def test_on_a_cluster_each_master_is_read_and_an_evicting_one_is_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with RedisCluster() as cluster:
        redis.Redis.from_url(cluster.urls[1]).config_set("maxmemory-policy", "volatile-lru")
        app = Ardiq(cluster.urls[0], queue="evict", cluster=True)
        try:
            with caplog.at_level(logging.INFO, logger="ardiq"):
                await run_burst(app)
        finally:
            await app.close()

    [warning] = warnings_about_eviction(caplog)
    assert "maxmemory-policy is volatile-lru (no maxmemory is set yet)" in warning
    assert "results" in warning


async def test_redis_back_empty_under_an_evicting_policy_is_warned_of_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Redis replaced by one with another policy (a failover, a fresh
    # instance): the worker that creates its consumer groups again reads the
    # policy again; both queues of the run find them gone, one warning.
    with RedisServer() as server:
        app = Ardiq(server.url, queue="evict-later")
        client = redis.Redis.from_url(server.url)

        @app.task
        async def plain() -> None:
            return None

        @app.task(queue="evict-later-mail")
        async def mail(to: str) -> str:
            return to

        def worker_up() -> bool:
            return client.zcard("ardiq:{evict-later}:workers") == 1

        try:
            with caplog.at_level(logging.INFO, logger="ardiq"):
                async with running_worker(app, queues=["evict-later", "evict-later-mail"]):
                    await eventually(
                        lambda: client.zcard("ardiq:{evict-later}:workers") == 1, "the worker is up"
                    )
                    assert warnings_about_eviction(caplog) == []
                    client.config_set("maxmemory-policy", "allkeys-lfu")
                    client.flushall()
                    await eventually(lambda: warnings_about_eviction(caplog) != [], "a warning")
                    assert (
                        await (await mail.enqueue("a@example.com")).result(timeout_s=WAIT_S)
                        == "a@example.com"
                    )
                    await asyncio.sleep(1.0)  # more reads of both queues
        finally:
            await app.close()
            client.close()

    [warning] = warnings_about_eviction(caplog)
    assert "maxmemory-policy is allkeys-lfu (no maxmemory is set yet)" in warning
    assert "queued jobs" in warning
