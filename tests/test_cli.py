"""The `ardiq` command (`python -m ardiq`): burst runs, clear one-line
errors with exit code 1, and the operator commands (info, queues,
workers, jobs, job, failed, dead, purge), each as a table and as JSON."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import socket
import subprocess
import sys

import pytest
import redis
from ardiq import Ardiq, JobFailed, JobStatus
from ardiq_testing import free_port
from wire_records import add_entry
from worker_harness import WAIT_S, SpawnWorker, eventually, run_burst, run_cli

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


async def test_burst_run_waits_for_delayed_jobs_with_wait_delayed(
    redis_url: str, queue: str, app: Ardiq
) -> None:
    later = [await app.options(delay_ms=2500).send("greet", f"n{n}") for n in range(5)]

    first = run_cli(redis_url, queue, "run", APP, "--burst")
    assert first.returncode == 0, first.stderr
    assert {await job.status() for job in later} == {JobStatus.SCHEDULED}
    done = run_cli(redis_url, queue, "run", APP, "--burst", "--wait-delayed")

    assert done.returncode == 0, done.stderr
    assert [await job.result(timeout_s=WAIT_S) for job in later] == [f"hello n{n}" for n in range(5)]


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


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["jobs", "--state", "running", "--count", "-1"], "argument --count: -1 is out of range"),
        (["jobs", "--state", "dead", "--count", str(2**70)], f"argument --count: {2**70} is out of range"),
        (["dead", "list", "--count", "1001"], "argument --count: 1001 is out of range"),
        (["failed", "list", "--count", "many"], "argument --count: 'many' is not an integer"),
        (["dashboard", "--port", "99999"], "argument --port: 99999 is out of range"),
        (["--log-level", "bogus", "info"], "argument --log-level: no log level 'bogus'"),
    ],
)
def test_an_argument_out_of_range_is_a_usage_error_without_a_traceback(
    redis_url: str, queue: str, args: list[str], error: str
) -> None:
    done = run_cli(redis_url, queue, *args)

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert error in line, done.stderr
    assert done.stderr.strip().splitlines()[-1] == line


def test_a_log_level_from_the_environment_is_checked_too(redis_url: str, queue: str) -> None:
    env = dict(os.environ, ARDIQ_REDIS_URL=redis_url, ARDIQ_QUEUE=queue, ARDIQ_LOG_LEVEL="loud")
    done = subprocess.run(
        [sys.executable, "-m", "ardiq", "info"],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )

    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("argument --log-level: no log level 'loud': DEBUG, INFO, WARNING, ERROR or CRITICAL")
    )


def test_a_log_level_is_taken_in_any_case(redis_url: str, queue: str) -> None:
    done = run_cli(redis_url, queue, "--log-level", "warning", "queues", "--json")

    assert done.returncode == 0, done.stderr


async def test_dead_list_prints_one_row_per_dead_letter(redis_url: str, queue: str, app: Ardiq) -> None:
    job_ids = await dead_letter_greetings(app, ["ada", "bob"])
    letters = await app.dead_letters()

    done = run_cli(redis_url, queue, "dead", "list", APP)

    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.strip().splitlines()
    assert header.split() == ["ENTRY", "JOB", "TASK", "PRIORITY", "AT", "WORKER", "DETAIL"]
    assert len(rows) == 2
    for row, letter, job_id in zip(rows, letters, job_ids, strict=True):
        fields = row.split()
        assert fields[:3] == [letter.entry_id, job_id, "greet"]
        assert "unknown_task" in row
    assert "2 dead letters" in done.stderr


async def test_dead_list_takes_the_url_and_queue_alone(redis_url: str, queue: str, app: Ardiq) -> None:
    job_ids = await dead_letter_greetings(app, ["ada"])

    done = run_cli(redis_url, "unused", "dead", "list", "--url", redis_url, "--queue", queue, "--json")

    assert done.returncode == 0, done.stderr
    page = json.loads(done.stdout)
    assert [job["job_id"] for job in page["jobs"]] == job_ids
    assert page["jobs"][0]["reason"] == "unknown_task"


async def test_dead_list_shows_a_malformed_letter_and_pages_past_it(
    redis_url: str, queue: str, app: Ardiq
) -> None:
    job_ids = await dead_letter_greetings(app, ["ada"])
    inspector = redis.Redis.from_url(redis_url)
    bad = add_entry(inspector, f"ardiq:{{{queue}}}:dead", {"id": b"x", "task": b"t", "record": b"\xff\xff"})
    inspector.close()
    job_ids.append((await app.send("greet", "bob")).id)
    await run_burst(app)

    first = run_cli(redis_url, queue, "dead", "list", "--count", "2", "--json")
    cursor = json.loads(first.stdout)["next"]
    rest = run_cli(redis_url, queue, "dead", "list", "--count", "2", "--cursor", cursor, "--json")
    text = run_cli(redis_url, queue, "dead", "list")

    assert first.returncode == rest.returncode == text.returncode == 0, first.stderr + rest.stderr
    listed = json.loads(first.stdout)["jobs"] + json.loads(rest.stdout)["jobs"]
    assert [job["job_id"] for job in listed] == [job_ids[0], "x", job_ids[1]]
    row = next(line for line in text.stdout.splitlines() if line.startswith(bad))
    assert "malformed: malformed record: dead letter" in row


async def test_dead_list_of_an_empty_store_prints_nothing(redis_url: str, queue: str, app: Ardiq) -> None:
    await app.send("greet", "x")  # the queue exists

    done = run_cli(redis_url, queue, "dead", "list", APP)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
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


# -- the operator commands, with only a URL and a queue -----------------------


def test_version_is_the_package_version(redis_url: str, queue: str) -> None:
    done = run_cli(redis_url, queue, "--version")

    assert done.returncode == 0
    assert done.stdout.strip() == f"ardiq {importlib.metadata.version('ardiq')}"


@pytest.mark.parametrize(
    "command", ["run", "info", "queues", "workers", "jobs", "job", "failed", "dead", "purge"]
)
def test_every_command_has_a_help_text(redis_url: str, queue: str, command: str) -> None:
    done = run_cli(redis_url, queue, command, "--help")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ardiq " + command)
    assert len(done.stdout.splitlines()) > 4


async def scheduled_and_queued(app: Ardiq) -> list[str]:
    for priority in (9, 9, 1):
        await app.options(priority=priority).send("greet", "now")
    return [(await app.options(delay_ms=60_000).send("greet", f"later{n}")).id for n in range(2)]


async def test_info_shows_the_queue_at_a_glance(redis_url: str, queue: str, app: Ardiq) -> None:
    await scheduled_and_queued(app)

    text = run_cli(redis_url, queue, "info")
    as_json = run_cli(redis_url, queue, "info", "--json")

    assert text.returncode == 0, text.stderr
    assert f"queue {queue}" in text.stdout
    assert "waiting    3" in text.stdout
    assert "scheduled  2" in text.stdout
    assert "workers    0 alive, 0 gone" in text.stdout
    rows = [line.split() for line in text.stdout.splitlines() if line[:1].isdigit()]
    assert [row[:3] for row in rows] == [["9", "2", "0"], ["1", "1", "0"]]
    info = json.loads(as_json.stdout)
    assert info["queue"]["waiting"] == 3
    assert info["queue"]["scheduled"] == 2
    assert info["queue"]["exists"] is True


async def test_a_queue_that_does_not_exist_is_one_line_and_exit_1(redis_url: str, queue: str) -> None:
    for command in (["info"], ["workers"], ["jobs", "--state", "failed"], ["failed", "list"], ["job", "x"]):
        done = run_cli(redis_url, queue, *command)

        assert done.returncode == 1
        assert "does not exist" in one_error_line(done)


def test_an_operator_command_against_an_unreachable_redis_is_one_line(queue: str) -> None:
    done = run_cli(f"redis://127.0.0.1:{free_port()}/0", queue, "info", timeout_s=15)

    assert done.returncode == 1
    assert "unreachable" in one_error_line(done).lower()


async def test_queues_lists_every_queue_with_its_counts(redis_url: str, queue: str, app: Ardiq) -> None:
    await scheduled_and_queued(app)

    done = run_cli(redis_url, queue, "queues", "--json")
    text = run_cli(redis_url, queue, "queues")

    assert done.returncode == 0, done.stderr
    [mine] = [q for q in json.loads(done.stdout) if q["queue"] == queue]
    assert (mine["waiting"], mine["scheduled"]) == (3, 2)
    assert any(line.split()[:3] == [queue, "3", "0"] for line in text.stdout.splitlines())


async def test_queues_lists_the_queues_past_stray_keys_of_none(
    redis_url: str, queue: str, app: Ardiq
) -> None:
    await app.send("greet", "x")
    strays = [
        f"ardiq:{{{queue} b}}:stream:5".encode(),
        b"ardiq:{}:x",
        f"ardiq:{{{queue}}}:".encode() + b"\xff",
    ]
    inspector = redis.Redis.from_url(redis_url)
    for stray in strays:
        inspector.set(stray, "x")
    try:
        done = run_cli(redis_url, queue, "queues", "--json")
    finally:
        inspector.delete(*strays)
        inspector.close()

    assert done.returncode == 0, done.stderr
    assert [q["queue"] for q in json.loads(done.stdout) if q["queue"].startswith(queue)] == [queue]


async def test_workers_shows_a_live_worker(
    redis_url: str, queue: str, app: Ardiq, spawn_worker: SpawnWorker
) -> None:
    await app.send("greet", "x")
    worker = spawn_worker(APP, "--heartbeat-ms", "200", "--concurrency", "7")

    async def listed() -> bool:
        done = run_cli(redis_url, queue, "workers", "--json")
        return done.returncode == 0 and len(json.loads(done.stdout)) == 1

    await eventually(listed, "the worker is listed")
    [seen] = json.loads(run_cli(redis_url, queue, "workers", "--json").stdout)
    text = run_cli(redis_url, queue, "workers")

    assert (seen["alive"], seen["pid"], seen["concurrency"], seen["queues"]) == (True, worker.pid, 7, [queue])
    assert text.stdout.splitlines()[1].split()[:2] == [seen["worker_id"], "alive"]


async def test_jobs_lists_a_state_in_pages(redis_url: str, queue: str, app: Ardiq) -> None:
    scheduled = await scheduled_and_queued(app)

    first = run_cli(redis_url, queue, "jobs", "--state", "scheduled", "--count", "1", "--json")
    page = json.loads(first.stdout)
    second = run_cli(
        redis_url, queue, "jobs", "--state", "scheduled", "--count", "1", "--cursor", page["next"], "--json"
    )
    text = run_cli(redis_url, queue, "jobs", "--state", "scheduled")
    paged = run_cli(redis_url, queue, "jobs", "--state", "scheduled", "--count", "1")

    assert first.returncode == 0, first.stderr
    [hint] = [line for line in paged.stdout.splitlines() if line.startswith("next page: ")]
    assert shlex.split(hint.removeprefix("next page: ")) == ["--cursor", page["next"]]
    assert [job["job_id"] for job in page["jobs"] + json.loads(second.stdout)["jobs"]] == scheduled
    assert page["jobs"][0]["job"]["args"] == ["later0"]
    assert "2 scheduled jobs" in text.stdout


async def test_job_shows_one_jobs_record(redis_url: str, queue: str, app: Ardiq) -> None:
    job = await app.send("greet", "ada")
    assert run_cli(redis_url, queue, "run", APP, "--burst").returncode == 0

    text = run_cli(redis_url, queue, "job", job.id)
    as_json = run_cli(redis_url, queue, "job", job.id, "--json")

    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0] == f"job {job.id}: complete"
    assert "result     'hello ada'" in text.stdout
    details = json.loads(as_json.stdout)
    assert details["status"] == "complete"
    assert details["record"]["value"] == "hello ada"


async def test_failed_list_replay_and_delete(redis_url: str, queue: str, app: Ardiq) -> None:
    jobs = [await app.send("fail_once_then_greet", f"{queue}:flag", name) for name in ("ada", "bob")]
    assert run_cli(redis_url, queue, "run", APP, "--burst").returncode == 0
    listed = run_cli(redis_url, queue, "failed", "list", "--json")
    entries = [job["entry_id"] for job in json.loads(listed.stdout)["jobs"]]
    assert [job["job_id"] for job in json.loads(listed.stdout)["jobs"]] == [job.id for job in jobs]
    assert "2 kept failures" in listed.stderr

    replayed = run_cli(redis_url, queue, "failed", "replay", entries[0])
    deleted = run_cli(redis_url, queue, "failed", "delete", entries[1])

    assert replayed.stdout.strip() == f"{entries[0]}\treplayed as job {jobs[0].id}"
    assert deleted.stdout.strip() == "1 kept failures deleted"
    assert run_cli(redis_url, queue, "run", APP, "--burst").returncode == 0
    assert await jobs[0].result(timeout_s=WAIT_S) == "hello ada"
    assert json.loads(run_cli(redis_url, queue, "failed", "list", "--json").stdout)["jobs"] == []


async def test_purge_never_runs_unconfirmed(redis_url: str, queue: str, app: Ardiq) -> None:
    await scheduled_and_queued(app)

    refused = run_cli(redis_url, queue, "purge")
    wrong = run_cli(redis_url, queue, "purge", input="another-queue\n")

    for done in (refused, wrong):
        assert done.returncode == 1
        assert "not confirmed" in done.stderr
    info = await app.queue_info()
    assert (info.waiting, info.scheduled) == (3, 2)


async def test_purge_runs_once_confirmed_or_with_yes(redis_url: str, queue: str, app: Ardiq) -> None:
    await scheduled_and_queued(app)

    confirmed = run_cli(redis_url, queue, "purge", input=f"{queue}\n")
    await scheduled_and_queued(app)
    scripted = run_cli(redis_url, queue, "purge", "--yes", "--json")

    assert confirmed.returncode == 0, confirmed.stderr
    assert f"5 jobs removed from queue {queue}" in confirmed.stdout
    assert json.loads(scripted.stdout) == {"removed": 5}
    info = await app.queue_info()
    assert (info.waiting, info.scheduled) == (0, 0)


def test_a_metrics_port_in_use_fails_at_start_with_one_line(redis_url: str, queue: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        done = run_cli(
            redis_url,
            queue,
            "run",
            APP,
            "--burst",
            "--metrics-port",
            str(port),
            "--metrics-host",
            "127.0.0.1",
        )

    assert done.returncode == 1
    line = one_error_line(done)
    assert f"127.0.0.1:{port}" in line
    assert "in use" in line.lower()


def test_json_log_lines_carry_the_jobs_fields(redis_url: str, queue: str) -> None:
    import asyncio

    async def enqueue() -> str:
        app = Ardiq(redis_url, queue=queue)
        return (await app.send("greet", "ada")).id

    job_id = asyncio.run(enqueue())
    done = run_cli(redis_url, queue, "--log-format", "json", "run", APP, "--burst")

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    mine = [line for line in lines if line.get("job_id") == job_id]
    assert [line["event"] for line in mine] == ["started", "completed"]
    assert mine[1]["duration_ms"] >= 0
    assert any(line.get("event") == "stopped" and line["jobs_run"] == 1 for line in lines)
