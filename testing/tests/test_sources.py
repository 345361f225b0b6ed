"""`choose_redis`: REDIS_URL when it is set, a process of its own otherwise, and a source named
by ARDIQ_TEST_REDIS; the wrapper hands the chosen URL to a command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ardiq_testing import ExternalRedis, RedisServer, choose_redis


def test_redis_url_is_used_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARDIQ_TEST_REDIS", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://example.invalid:6379/0")
    redis = choose_redis()
    assert isinstance(redis, ExternalRedis)
    assert redis.url == "redis://example.invalid:6379/0"


def test_without_redis_url_a_server_of_its_own_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARDIQ_TEST_REDIS", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with choose_redis() as redis:
        assert isinstance(redis, RedisServer)
        assert subprocess.run(["redis-cli", "-u", redis.url, "ping"], capture_output=True).stdout == b"PONG\n"


def test_the_source_can_be_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example.invalid:6379/0")
    monkeypatch.setenv("ARDIQ_TEST_REDIS", "process")
    assert isinstance(choose_redis(), RedisServer)


def test_an_unknown_source_is_an_error_naming_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARDIQ_TEST_REDIS", "container")
    with pytest.raises(
        RuntimeError, match=r"unknown Redis source 'container'; choose from \['process', 'url'\]"
    ):
        choose_redis()


def test_a_restarted_server_keeps_its_url() -> None:
    with RedisServer() as server:
        url = server.url
        server.restart()
        assert server.url == url
        assert subprocess.run(["redis-cli", "-u", url, "ping"], capture_output=True).stdout == b"PONG\n"


def test_the_wrapper_runs_the_command_with_redis_url_and_returns_its_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("ARDIQ_TEST_REDIS", raising=False)
    command = 'import os, sys; print(os.environ["REDIS_URL"]); sys.exit(3)'
    done = subprocess.run(
        [sys.executable, "-m", "ardiq_testing.redis", "--", sys.executable, "-c", command],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 3
    assert done.stdout.startswith("redis://127.0.0.1:")
