"""`choose_redis`: a URL from the environment first, else a redis-server of its own, else a container;
one error naming the three when none is there; ARDIQ_TEST_REDIS forces one; the wrapper hands the
chosen URL to a command.

"No binary" is a PATH holding no redis-server and "no Docker" is a DOCKER_HOST naming a socket that
does not exist: the same checks a machine without them fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from ardiq_testing import (
    ContainerRedis,
    ExternalRedis,
    RedisServer,
    RedisSourceError,
    choose_redis,
    docker_unreachable,
    free_port,
)

ENVIRONMENT = ("ARDIQ_TEST_REDIS", "ARDIQ_REDIS_URL", "REDIS_URL")


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No URL and nothing forced; the test sets what it needs."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def no_binary(clean: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A PATH with no redis-server on it."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    clean.setenv("PATH", str(empty))
    return clean


@pytest.fixture
def no_docker(clean: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A Docker host that is a socket path nothing listens on."""
    clean.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    return clean


def ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    finally:
        client.close()


def test_redis_url_is_used_when_set(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("REDIS_URL", "redis://example.invalid:6379/0")
    redis_ = choose_redis()
    assert isinstance(redis_, ExternalRedis)
    assert redis_.url == "redis://example.invalid:6379/0"


def test_ardiq_redis_url_comes_before_redis_url(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("REDIS_URL", "redis://example.invalid:6379/0")
    clean.setenv("ARDIQ_REDIS_URL", "redis://other.invalid:6380/2")
    assert choose_redis().url == "redis://other.invalid:6380/2"


def test_without_a_url_a_server_of_its_own_answers(clean: pytest.MonkeyPatch) -> None:
    with choose_redis() as redis_:
        assert isinstance(redis_, RedisServer)
        assert ping(redis_.url)


def test_without_url_binary_or_docker_one_error_names_the_three_ways(
    no_binary: pytest.MonkeyPatch, no_docker: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RedisSourceError) as raised:
        choose_redis()
    message = str(raised.value)
    assert "a URL in ARDIQ_REDIS_URL or REDIS_URL: not set" in message
    assert "redis-server on PATH: not on PATH" in message
    assert "a Docker engine for testcontainers: no Docker engine answers at unix://" in message
    assert "no-docker.sock" in message
    assert "ARDIQ_TEST_REDIS=server|container|URL forces one" in message


def test_without_docker_the_probe_says_why(no_docker: pytest.MonkeyPatch) -> None:
    why = docker_unreachable()
    assert why is not None
    assert why.startswith("no Docker engine answers at unix://")


def test_a_forced_server_wins_over_a_url(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("REDIS_URL", "redis://example.invalid:6379/0")
    clean.setenv("ARDIQ_TEST_REDIS", "server")
    with choose_redis() as redis_:
        assert isinstance(redis_, RedisServer)
        assert ping(redis_.url)


def test_a_forced_url_wins_over_the_environments_urls(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("REDIS_URL", "redis://example.invalid:6379/0")
    clean.setenv("ARDIQ_REDIS_URL", "redis://other.invalid:6379/0")
    clean.setenv("ARDIQ_TEST_REDIS", "rediss://user:secret@forced.invalid:6390/3")
    redis_ = choose_redis()
    assert isinstance(redis_, ExternalRedis)
    assert redis_.url == "rediss://user:secret@forced.invalid:6390/3"


def test_a_forced_server_without_the_binary_is_an_error_not_a_fall_back(
    no_binary: pytest.MonkeyPatch,
) -> None:
    no_binary.setenv("REDIS_URL", "redis://example.invalid:6379/0")
    no_binary.setenv("ARDIQ_TEST_REDIS", "server")
    with pytest.raises(
        RedisSourceError, match=r"ARDIQ_TEST_REDIS=server, but redis-server on PATH is missing: not on PATH"
    ):
        choose_redis()


def test_a_forced_container_without_docker_is_an_error_not_a_fall_back(no_docker: pytest.MonkeyPatch) -> None:
    # redis-server is on PATH here; a forced container must not quietly become a server.
    no_docker.setenv("ARDIQ_TEST_REDIS", "container")
    with pytest.raises(
        RedisSourceError,
        match=r"ARDIQ_TEST_REDIS=container, but a Docker engine for testcontainers is missing: "
        r"no Docker engine answers at unix://",
    ):
        choose_redis()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("localhost:6379", "the scheme must be one of redis://, rediss://, unix://"),
        ("http://localhost:6379/0", "the scheme must be one of redis://, rediss://, unix://"),
        ("redis://localhost:port/0", "the port is not a number from 0 to 65535"),
        ("redis://localhost:70000/0", "the port is not a number from 0 to 65535"),
        ("redis://[::1:6379/0", "it does not parse (Invalid IPv6 URL)"),
        ("redis://:6379/0", "it names no host"),
        ("redis://localhost:6379/zero", "the database 'zero' is not a number"),
        ("unix://", "a unix:// URL needs the socket's path"),
    ],
)
def test_a_bad_url_in_the_environment_is_a_clear_error(
    clean: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    clean.setenv("REDIS_URL", url)
    with pytest.raises(RedisSourceError) as raised:
        choose_redis()
    assert str(raised.value) == f"REDIS_URL={url!r} is not a Redis URL: {problem}"


def test_a_bad_forced_url_is_a_clear_error(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("ARDIQ_TEST_REDIS", "redis://localhost:6379/db0")
    with pytest.raises(
        RedisSourceError,
        match=r"^ARDIQ_TEST_REDIS='redis://localhost:6379/db0' is not a Redis URL: the database 'db0'",
    ):
        choose_redis()


def test_an_unknown_source_is_an_error_naming_the_choices(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("ARDIQ_TEST_REDIS", "process")
    with pytest.raises(
        RedisSourceError, match=r"ARDIQ_TEST_REDIS='process': choose server or container or a Redis URL"
    ):
        choose_redis()


def test_unix_and_tls_urls_are_accepted(clean: pytest.MonkeyPatch) -> None:
    for url in ("unix:///run/redis/redis.sock", "rediss://default:pw@[::1]:6380", "redis://localhost"):
        clean.setenv("REDIS_URL", url)
        assert choose_redis().url == url


def test_a_private_redis_is_never_the_shared_url(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("REDIS_URL", "redis://example.invalid:6379/0")
    clean.setenv("ARDIQ_TEST_REDIS", "redis://example.invalid:6379/1")
    with choose_redis(private=True) as redis_:
        assert isinstance(redis_, RedisServer)
        assert ping(redis_.url)


def test_a_private_redis_without_binary_or_docker_names_the_two_ways(
    no_binary: pytest.MonkeyPatch, no_docker: pytest.MonkeyPatch
) -> None:
    no_binary.setenv("REDIS_URL", "redis://example.invalid:6379/0")
    with pytest.raises(RedisSourceError) as raised:
        choose_redis(private=True)
    message = str(raised.value)
    assert "REDIS_URL" not in message
    assert "redis-server on PATH: not on PATH" in message
    assert "a Docker engine for testcontainers: no Docker engine answers" in message


def test_a_container_redis_answers_and_is_removed_after_its_block(clean: pytest.MonkeyPatch) -> None:
    why = docker_unreachable()
    if why is not None:
        pytest.skip(f"a Redis container cannot start here: {why}")
    clean.setenv("ARDIQ_TEST_REDIS", "container")
    with choose_redis() as redis_:
        assert isinstance(redis_, ContainerRedis)
        url = redis_.url
        client = redis.Redis.from_url(url)
        client.set("written", "in the container")
        assert client.get("written") == b"in the container"
        client.close()
    with pytest.raises(redis.ConnectionError):
        ping(url)


def test_a_container_that_cannot_start_raises_and_has_no_url(
    clean: pytest.MonkeyPatch,
) -> None:
    # A TCP port nothing listens on (a unix socket would do as well, but docker-py leaks its socket).
    clean.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    container = ContainerRedis()
    with pytest.raises(Exception, match="Connection refused"):
        container.__enter__()
    with pytest.raises(RuntimeError, match="has not been started"):
        _ = container.url


def test_a_container_has_no_url_before_it_starts() -> None:
    with pytest.raises(RuntimeError, match="has not been started"):
        _ = ContainerRedis().url


def test_a_restarted_server_keeps_its_url() -> None:
    with RedisServer() as server:
        url = server.url
        server.restart()
        assert server.url == url
        assert ping(url)


def test_the_wrapper_runs_the_command_with_redis_url_and_returns_its_code(clean: pytest.MonkeyPatch) -> None:
    command = 'import os, sys; print(os.environ["REDIS_URL"], os.environ["ARDIQ_TEST_REDIS"]); sys.exit(3)'
    done = subprocess.run(
        [sys.executable, "-m", "ardiq_testing.redis", "--", sys.executable, "-c", command],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 3
    url, forced = done.stdout.split()
    assert url.startswith("redis://127.0.0.1:")
    assert forced == url


def test_the_wrapper_without_any_redis_says_why_and_runs_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT}
    env.update(PATH=str(empty), DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    ran = tmp_path / "ran"
    done = subprocess.run(
        [sys.executable, "-m", "ardiq_testing.redis", "--", sys.executable, "-c", f"open({str(ran)!r}, 'w')"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("python -m ardiq_testing.redis: no Redis for the tests;")
    assert "redis-server on PATH: not on PATH" in done.stderr
    assert not ran.exists()
