"""The `ardiq` command (`python -m ardiq`): burst runs, clear one-line
errors with exit code 1, and the dead-letter commands."""

from __future__ import annotations

import os
import subprocess

import pytest
from ardiq import Ardiq, JobFailed, JobStatus
from ardiq_testing import free_port
from worker_harness import WAIT_S, run_burst, run_cli

APP = "process_tasks:app"


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ardiq: error: "), done.stderr
    return lines[0]


async def dead_letter_greetings(app: Ardiq, names: list[str]) -> list[str]:
    """Dead-letters `greet` jobs: `app` has no task of that name."""

    @app.task
    async def unrelated() -> None:
        return None

    jobs = [await app.send("greet", name) for name in names]
    await run_burst(app)
    return [job.id for job in jobs]


async def test_burst_run_drains_the_queue_and_exits_zero(redis_url: str, queue: str, app: Ardiq) -> None:
    jobs = [await app.send("greet", f"n{n}") for n in range(20)]

    done = run_cli(redis_url, queue, "run", APP, "--burst")

    assert done.returncode == 0, done.stderr
    assert [await job.result(timeout_s=WAIT_S) for job in jobs] == [f"hello n{n}" for n in range(20)]


async def test_process_tasks_run_in_child_processes_of_the_cli_worker(
    redis_url: str, queue: str, app: Ardiq
) -> None:
    quick = await app.send("pid_or_nap", 0.0)
    slow = await app.send("pid_or_nap", 30.0)

    done = run_cli(
        redis_url, queue, "run", APP, "--burst", "--process-concurrency", "2", "--sync-concurrency", "2"
    )

    assert done.returncode == 0, done.stderr
    pid = await quick.result(timeout_s=WAIT_S)
    assert isinstance(pid, int)
    assert pid != os.getpid()
    with pytest.raises(JobFailed) as failed:
        await slow.result(timeout_s=WAIT_S)
    assert failed.value.remote_type == "TimeoutError"


async def test_burst_run_of_an_empty_queue_exits_zero(redis_url: str, queue: str) -> None:
    done = run_cli(redis_url, queue, "run", APP, "--burst", "--concurrency", "2")

    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("spec", "mentions"),
    [
        pytest.param("no_such_module:app", "no_such_module", id="missing-module"),
        pytest.param("process_tasks:nothing_here", "process_tasks:nothing_here", id="missing-attribute"),
        pytest.param("process_tasks:counters", "process_tasks:counters", id="not-an-app"),
        pytest.param("process_tasks", "process_tasks", id="no-colon"),
    ],
)
def test_bad_app_path_exits_1_with_one_clear_line(
    redis_url: str, queue: str, spec: str, mentions: str
) -> None:
    done = run_cli(redis_url, queue, "run", spec, "--burst")

    assert done.returncode == 1
    assert mentions in one_error_line(done)


def test_unreachable_redis_exits_1_with_one_clear_line(queue: str) -> None:
    # A refused connection is known at once; the bound only keeps a hang
    # from stalling the suite.
    try:
        done = run_cli(f"redis://127.0.0.1:{free_port()}/0", queue, "run", APP, "--burst", timeout_s=15)
    except subprocess.TimeoutExpired:
        pytest.fail("`ardiq run` against a closed port still ran after 15 s")

    assert done.returncode == 1
    assert "unreachable" in one_error_line(done).lower()


def test_unknown_command_exits_non_zero(redis_url: str, queue: str) -> None:
    done = run_cli(redis_url, queue, "fly", APP)

    assert done.returncode != 0


async def test_dead_list_prints_one_line_per_dead_letter(redis_url: str, queue: str, app: Ardiq) -> None:
    job_ids = await dead_letter_greetings(app, ["ada", "bob"])
    letters = await app.dead_letters()

    done = run_cli(redis_url, queue, "dead", "list", APP)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, letter, job_id in zip(lines, letters, job_ids, strict=True):
        fields = line.split("\t")
        assert fields[0] == letter.entry_id
        assert fields[2] == job_id
        assert fields[3] == "greet"
        assert fields[4] == "unknown_task"
    assert "2 dead letters" in done.stderr


async def test_dead_list_of_an_empty_store_prints_nothing(redis_url: str, queue: str) -> None:
    done = run_cli(redis_url, queue, "dead", "list", APP)

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "0 dead letters" in done.stderr


async def test_dead_replay_queues_the_job_for_a_worker_that_has_its_task(
    redis_url: str, queue: str, app: Ardiq
) -> None:
    [job_id] = await dead_letter_greetings(app, ["ada"])
    [letter] = await app.dead_letters()

    replayed = run_cli(redis_url, queue, "dead", "replay", APP, letter.entry_id)

    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == f"{letter.entry_id}\treplayed as job {job_id}"
    assert await app.job(job_id).status() is JobStatus.QUEUED
    assert run_cli(redis_url, queue, "run", APP, "--burst").returncode == 0
    assert await app.job(job_id).result(timeout_s=WAIT_S) == "hello ada"
    assert await app.dead_letters() == []


async def test_dead_replay_of_an_unknown_entry_says_not_found(redis_url: str, queue: str) -> None:
    done = run_cli(redis_url, queue, "dead", "replay", APP, "1-0")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1-0\tnot found"


async def test_dead_delete_removes_the_given_letters(redis_url: str, queue: str, app: Ardiq) -> None:
    await dead_letter_greetings(app, ["ada", "bob", "cy"])
    letters = await app.dead_letters()

    done = run_cli(redis_url, queue, "dead", "delete", APP, letters[0].entry_id, letters[2].entry_id)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 dead letters deleted"
    assert [d.entry_id for d in await app.dead_letters()] == [letters[1].entry_id]
