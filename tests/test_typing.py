"""Static typing of the public API, checked by running `mypy --strict` on a
small program: a task's `enqueue` takes exactly the task function's
parameters (ParamSpec), and its job's result has the function's return
type, for async and sync tasks alike."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager
    from dataclasses import dataclass
    from datetime import timedelta

    from ardiq import Ardiq, AsyncTask, BlockingJob, Job, Schedule, SyncTask, current_job


    @dataclass
    class Deps:
        pool: list[str]


    @asynccontextmanager
    async def lifespan(app: Ardiq[Deps]) -> AsyncIterator[Deps]:
        yield Deps(pool=[])


    app = Ardiq("redis://127.0.0.1:6379/0", queue="typing", lifespan=lifespan)
    plain = Ardiq("redis://127.0.0.1:6379/0", queue="typing")


    def takes_a_plain_app(app: Ardiq) -> None:
        print(app.queue)


    takes_a_plain_app(plain)


    @app.task
    async def add(x: int, y: int) -> int:
        return x + y


    @app.task(retries=2)
    def shout(text: str, *, times: int = 1) -> str:
        return text.upper() * times


    async def well_typed() -> None:
        job: Job[int] = await add.enqueue(1, 2)
        total: int = await job.result(timeout_s=1)
        other = await add.options(priority=9).enqueue(x=1, y=2)
        loud: str = await (await shout.enqueue("hi", times=2)).result()
        add.prepare(1, 2)
        print(total, other, loud)


    async def wrong_argument_type() -> None:
        await add.enqueue("x", 2)  # error: add-str


    async def missing_argument() -> None:
        await add.enqueue(1)  # error: add-missing


    async def unknown_keyword() -> None:
        await shout.enqueue("hi", volume=3)  # error: shout-keyword


    async def wrong_result_type() -> None:
        text: str = await (await add.enqueue(1, 2)).result()  # error: add-result
        print(text)


    def wrong_prepare() -> None:
        add.prepare(1, "y")  # error: add-prepare


    async def direct_calls() -> None:
        total: int = await add(1, 2)
        loud: str = shout("hi", times=2)
        print(total, loud)


    def the_context_is_typed() -> None:
        deps: Deps = app.context
        pool: list[str] = deps.pool
        print(pool, current_job().attempt)


    def the_context_has_no_other_type() -> None:
        wrong: str = app.context  # error: context-type
        print(wrong)


    def blocking_calls() -> None:
        job: BlockingJob[int] = add.enqueue_blocking(1, 2)
        total: int = job.result(timeout_s=1)
        print(total)


    async def direct_call_with_a_wrong_argument() -> None:
        await add("x", 2)  # error: direct-str


    @app.cron("*/5 * * * *", timezone="Europe/Paris")
    async def tidy() -> int:
        return 0


    @app.cron(every=timedelta(seconds=30))
    @app.task(retries=1)
    def ping(host: str = "db") -> bool:
        return True


    async def cron_tasks_keep_their_types() -> None:
        job: Job[int] = await tidy.enqueue()
        scheduled: AsyncTask[[], int] = tidy
        pinged: SyncTask[[str], bool] = ping
        daily: Schedule = app.cron("0 9 * * *", add.prepare(1, 2), name="daily")
        often: Schedule = app.cron(every=timedelta(minutes=5), job=ping, name="often")
        print(job, scheduled, pinged, daily, often)


    def cron_arguments_are_checked() -> None:
        app.cron("0 9 * * *", add.prepare(1, "y"))  # error: cron-prepare


    def a_task_with_parameters_needs_its_arguments() -> None:
        app.cron("0 9 * * *", add)  # error: cron-bare-task


    def cron_policy_is_checked() -> None:
        app.cron("0 9 * * *", catch_up="sometimes")  # error: cron-policy
    """
)


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """mypy's error messages, by the tag of the line they are on."""
    directory = tmp_path_factory.mktemp("typing")
    program = directory / "typed_program.py"
    program.write_text(PROGRAM)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(directory / "cache"),
            "--show-error-codes",
            str(program),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=directory,
    )
    lines = PROGRAM.splitlines()
    errors: dict[str, str] = {}
    for match in re.finditer(r"^.*typed_program\.py:(\d+): error: (.*)$", done.stdout, re.M):
        line = lines[int(match.group(1)) - 1]
        tag = re.search(r"# error: (\S+)", line)
        errors[tag.group(1) if tag else f"untagged line {match.group(1)}: {line.strip()}"] = match.group(2)
    assert "error:" in done.stdout or done.returncode == 0, done.stdout + done.stderr
    return errors


def test_well_typed_calls_pass(mypy_errors: dict[str, str]) -> None:
    untagged = {tag: message for tag, message in mypy_errors.items() if tag.startswith("untagged")}

    assert untagged == {}


def test_enqueue_with_a_wrong_argument_type_is_a_type_error(mypy_errors: dict[str, str]) -> None:
    assert "add-str" in mypy_errors
    assert '"str"' in mypy_errors["add-str"]
    assert '"int"' in mypy_errors["add-str"]


def test_enqueue_with_a_missing_argument_is_a_type_error(mypy_errors: dict[str, str]) -> None:
    assert "add-missing" in mypy_errors


def test_enqueue_with_an_unknown_keyword_is_a_type_error(mypy_errors: dict[str, str]) -> None:
    assert "shout-keyword" in mypy_errors
    assert "volume" in mypy_errors["shout-keyword"]


def test_result_has_the_task_return_type(mypy_errors: dict[str, str]) -> None:
    assert "add-result" in mypy_errors


def test_prepare_checks_arguments_too(mypy_errors: dict[str, str]) -> None:
    assert "add-prepare" in mypy_errors


def test_a_direct_call_has_the_function_type(mypy_errors: dict[str, str]) -> None:
    assert "direct-str" in mypy_errors


def test_the_app_context_has_the_lifespan_type(mypy_errors: dict[str, str]) -> None:
    assert "context-type" in mypy_errors
    assert "Deps" in mypy_errors["context-type"]


def test_cron_jobs_are_typed_like_enqueues(mypy_errors: dict[str, str]) -> None:
    assert "cron-prepare" in mypy_errors
    assert "cron-policy" in mypy_errors
    assert "cron" in mypy_errors["cron-policy"]
    assert "cron-bare-task" in mypy_errors
