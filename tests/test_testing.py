"""`ardiq.testing`: `drain` runs everything queued (many jobs, several
queues, delayed jobs and retries) inside the lifespan and stops; a drain
that cannot finish raises `TimeoutError` and hands its jobs back;
`use_redis` points an app elsewhere and back; the pytest plugin's fixtures
give a user's own suite a throwaway Redis (or the one its environment
names); and a user's test passes in a fresh virtual environment with only
the built packages installed."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis
from ardiq import Ardiq, JobStatus
from ardiq.testing import drain, flush, use_redis
from ardiq_testing import choose_redis

ROOT = Path(__file__).resolve().parents[1]


async def test_drain_runs_every_job_of_every_queue_then_returns(redis_url: str, queue: str) -> None:
    app = Ardiq(redis_url, queue=queue)
    other = f"{queue}-other"

    @app.task
    async def double(n: int) -> int:
        return 2 * n

    @app.task(queue=other)
    def triple(n: int) -> int:
        return 3 * n

    doubles = await app.enqueue_many([double.prepare(n) for n in range(300)])
    triples = await app.enqueue_many([triple.prepare(n) for n in range(200)])
    await drain(app)

    for jobs in (doubles, triples):
        assert {await job.status() for job in jobs} == {JobStatus.COMPLETE}
    assert [await job.result() for job in doubles] == [2 * n for n in range(300)]
    assert [await job.result() for job in triples] == [3 * n for n in range(200)]


async def test_drain_waits_for_delayed_jobs_and_retries_unless_told_not_to(
    redis_url: str, queue: str
) -> None:
    app = Ardiq(redis_url, queue=queue)
    attempts: list[int] = []

    @app.task(retries=2, backoff_ms=150)
    async def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return len(attempts)

    @app.task
    async def later(n: int) -> int:
        return n

    retried = await flaky.enqueue()
    soon = [await later.options(delay_ms=200 + 10 * n).enqueue(n) for n in range(20)]

    started = time.monotonic()
    await drain(app, delayed=False)
    # Ran once and failed: its retry waits out the backoff; the rest are not due.
    assert attempts == [1]
    assert await retried.status() is JobStatus.SCHEDULED
    assert {await job.status() for job in soon} == {JobStatus.SCHEDULED}

    await drain(app)
    assert await retried.result() == 3
    assert [await job.result() for job in soon] == list(range(20))
    assert time.monotonic() - started >= 0.39

    far = await later.options(delay_ms=3_600_000).enqueue(-1)
    await drain(app, delayed=False)
    with pytest.raises(TimeoutError):
        await drain(app, timeout_s=0.3)
    assert await far.status() is JobStatus.SCHEDULED


async def test_a_drain_that_cannot_finish_raises_and_hands_its_jobs_back(redis_url: str, queue: str) -> None:
    app = Ardiq(redis_url, queue=queue)

    @app.task
    async def slow() -> None:
        await asyncio.sleep(30)

    jobs = [await slow.enqueue() for _ in range(3)]
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"not drained within 0\.5 s"):
        await drain(app, timeout_s=0.5)
    assert time.monotonic() - started < 5
    # Handed back unacknowledged: a later worker runs them.
    assert {await job.status() for job in jobs} <= {JobStatus.QUEUED, JobStatus.RUNNING}


async def test_drain_enters_the_lifespan_once_and_its_tasks_see_the_context(
    redis_url: str, queue: str
) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Ardiq[str]) -> AsyncIterator[str]:
        events.append("enter")
        yield "the pool"
        events.append("exit")

    app = Ardiq(redis_url, queue=queue, lifespan=lifespan)

    @app.task
    async def uses() -> str:
        return app.context

    jobs = [await uses.enqueue() for _ in range(25)]
    await drain(app)
    assert events == ["enter", "exit"]
    assert {await job.result() for job in jobs} == {"the pool"}


async def test_use_redis_points_the_app_and_its_tasks_elsewhere_and_back(redis_url: str, queue: str) -> None:
    app = Ardiq(redis_url, queue=queue)

    @app.task
    async def echo(text: str) -> str:
        return text

    with choose_redis(private=True) as elsewhere:
        with use_redis(app, elsewhere.url) as bound:
            assert bound is app
            assert app.url == elsewhere.url
            job = await echo.enqueue("elsewhere")
            await drain(app)
            assert await job.result() == "elsewhere"
            other = redis.Redis.from_url(elsewhere.url)
            assert other.exists(f"ardiq:{{{queue}}}:job:{job.id}") or other.dbsize() > 0
            flush(app)
            assert other.dbsize() == 0
            other.close()
        assert app.url == redis_url
        # Back on the suite's Redis: the job enqueued elsewhere is unknown here.
        assert await app.job(job.id).status() is JobStatus.NOT_FOUND


# -- the pytest plugin, as a user's suite sees it ---------------------------

USER_APP = """
    import os
    from contextlib import asynccontextmanager
    from ardiq import Ardiq

    @asynccontextmanager
    async def lifespan(app):
        with open(os.environ["LIFESPAN_LOG"], "a") as log:
            log.write("enter\\n")
        yield {"rate": 3}

    app = Ardiq(lifespan=lifespan)
    tries = []

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    @app.task
    def scaled(x: int) -> int:
        return x * app.context["rate"]

    @app.task(retries=2, backoff_ms=100)
    async def flaky() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise RuntimeError("again")
        return "ok"
"""

USER_TESTS = """
    import os
    import pytest
    from ardiq import JobFailed
    from ardiq.testing import drain
    from myapp import add, app, flaky, scaled

    async def test_add(ardiq_app):
        assert ardiq_app is app
        job = await add.enqueue(1, 2)
        await drain(ardiq_app)
        assert await job.result() == 3

    async def test_many_and_the_context(ardiq_app):
        jobs = await ardiq_app.enqueue_many([scaled.prepare(n) for n in range(50)])
        await drain(ardiq_app)
        assert [await job.result() for job in jobs] == [3 * n for n in range(50)]

    async def test_retries(ardiq_app):
        job = await flaky.enqueue()
        await drain(ardiq_app)
        assert await job.result() == "ok"

    async def test_a_wrong_argument_fails_the_job(ardiq_app):
        job = await ardiq_app.send("add", 1)
        await drain(ardiq_app)
        with pytest.raises(JobFailed):
            await job.result()

    def test_the_url(ardiq_app, ardiq_redis_url):
        assert ardiq_app.url == ardiq_redis_url
        with open(os.environ["URL_LOG"], "w") as log:
            log.write(ardiq_redis_url)
"""


def write_user_project(directory: Path, *, ini: bool = True) -> None:
    (directory / "myapp.py").write_text(textwrap.dedent(USER_APP))
    (directory / "test_myapp.py").write_text(textwrap.dedent(USER_TESTS))
    if ini:
        (directory / "pytest.ini").write_text(
            "[pytest]\nardiq_app = myapp:app\nasyncio_mode = auto\n"
            "asyncio_default_fixture_loop_scope = function\n"
        )


def user_environment(directory: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "ARDIQ_REDIS_URL", "ARDIQ_TEST_REDIS", "PYTEST_ADDOPTS", "PYTHONPATH")
    }
    env["LIFESPAN_LOG"] = str(directory / "lifespan.log")
    env["URL_LOG"] = str(directory / "url.log")
    env.update(extra)
    return env


def run_user_suite(python: str, directory: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_users_suite_gets_a_throwaway_redis_of_its_own(tmp_path: Path) -> None:
    write_user_project(tmp_path)
    done = run_user_suite(sys.executable, tmp_path, user_environment(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    # One lifespan per drain: four tests drained.
    assert (tmp_path / "lifespan.log").read_text().split() == ["enter"] * 4
    url = (tmp_path / "url.log").read_text()
    assert url.startswith("redis://127.0.0.1:")
    # The session's server is gone with the session.
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()


def test_a_users_suite_uses_the_redis_its_environment_names_and_empties_it(tmp_path: Path) -> None:
    write_user_project(tmp_path)
    with choose_redis(private=True) as theirs:
        client = redis.Redis.from_url(theirs.url)
        client.set("left-over", "from an earlier run")
        done = run_user_suite(
            sys.executable, tmp_path, user_environment(tmp_path, ARDIQ_REDIS_URL=theirs.url)
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / "url.log").read_text() == theirs.url
        assert client.get("left-over") is None
        client.close()


def test_a_forced_server_wins_over_the_url_a_users_environment_names(tmp_path: Path) -> None:
    write_user_project(tmp_path)
    env = user_environment(
        tmp_path, ARDIQ_REDIS_URL="redis://example.invalid:6379/0", ARDIQ_TEST_REDIS="server"
    )
    done = run_user_suite(sys.executable, tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "url.log").read_text().startswith("redis://127.0.0.1:")


def test_a_users_suite_with_no_way_to_a_redis_says_the_three_ways(tmp_path: Path) -> None:
    write_user_project(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = user_environment(tmp_path, PATH=str(empty), DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    done = run_user_suite(sys.executable, tmp_path, env)
    assert done.returncode == 1
    assert "5 errors" in done.stdout
    assert "RedisSourceError: no Redis for the tests" in done.stdout
    for way in ("ARDIQ_REDIS_URL or REDIS_URL: not set", "redis-server on PATH", "a Docker engine"):
        assert way in done.stdout


def test_the_app_fixture_without_its_ini_option_says_what_to_set(tmp_path: Path) -> None:
    write_user_project(tmp_path, ini=False)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    done = run_user_suite(sys.executable, tmp_path, user_environment(tmp_path))
    assert done.returncode != 0
    assert "the ardiq_app fixture needs the ini option ardiq_app = module:app" in done.stdout + done.stderr


def test_a_users_test_passes_in_a_fresh_venv_from_the_built_packages(tmp_path: Path) -> None:
    maturin = shutil.which("maturin", path=str(Path(sys.executable).parent))
    assert maturin is not None, "maturin is in requirements-dev.txt"
    wheels = tmp_path / "wheels"
    subprocess.run(
        [maturin, "build", "--release", "--quiet", "--out", str(wheels)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parents[1])},
    )
    [wheel] = wheels.glob("ardiq-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [
            python,
            *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            # The lock as constraints: the fresh venv gets the locked versions of everything it installs.
            *("--constraint", str(ROOT / "requirements-dev.txt")),
            f"ardiq[testing] @ {wheel.as_uri()}",
            str(ROOT / "testing"),
            *("pytest", "pytest-asyncio"),
        ],
        check=True,
        capture_output=True,
    )
    # The extra brings testcontainers: the container source is there (whether an engine answers or not).
    probe = subprocess.run(
        [python, "-c", "from ardiq_testing import docker_unreachable; print(docker_unreachable())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "testcontainers is not installed" not in probe.stdout
    # The README's own configuration and test, next to the app they name.
    project = tmp_path / "project"
    project.mkdir()
    write_user_project(project, ini=False)
    (project / "pyproject.toml").write_text(readme_block("toml"))
    (project / "test_readme.py").write_text(readme_block("python"))
    done = run_user_suite(python, project, user_environment(project))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout


def readme_block(language: str) -> str:
    """The first `language` code block of the README's "Testing your tasks"."""
    section = (ROOT / "README.md").read_text().split("### Testing your tasks", 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]
