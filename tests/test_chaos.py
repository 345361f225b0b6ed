"""The short chaos run (`tests/chaos.py --short`) inside `make test`: worker
processes SIGKILLed at random and a Redis restart while jobs run, then
every figure of its summary checked. One run serves every test of the
module; each test checks one promise, and a failure prints the run's
report. Deselect locally with `-m "not chaos"`; CI runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

CHAOS = Path(__file__).resolve().parent / "chaos.py"
RUN_TIMEOUT_S = 180  # the run bounds itself at 100 s of chaos and draining, plus stopping

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(RUN_TIMEOUT_S + 20)]


class ChaosRun(NamedTuple):
    """The exit code, printed output and JSON summary of one chaos run."""

    returncode: int
    output: str
    summary: dict[str, Any]

    def __repr__(self) -> str:  # pytest prints the fixture value with every failure
        return f"ChaosRun(exit code {self.returncode}, run {self.summary.get('run')})"


@pytest.fixture(scope="module")
def chaos_run(tmp_path_factory: pytest.TempPathFactory) -> ChaosRun:
    """One `--short` run against its own Redis (never the session's: the run
    restarts the server it uses)."""
    directory = tmp_path_factory.mktemp("chaos")
    summary_path = directory / "summary.json"
    env = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
    completed = subprocess.run(
        [sys.executable, str(CHAOS), "--short", "--json", str(summary_path), "--log-dir", str(directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    output = completed.stdout + completed.stderr
    if not summary_path.exists():
        pytest.fail(f"the chaos run wrote no summary (exit code {completed.returncode}):\n{output}")
    return ChaosRun(completed.returncode, output, json.loads(summary_path.read_text()))


def verdict(run: ChaosRun) -> str:
    """The run's failed checks and where its logs are; the full report is
    printed by the exit-code test."""
    failures = "\n".join(f"  {failure}" for failure in run.summary["failures"]) or "  (none)"
    return f"chaos run {run.summary['run']}, {run.summary['repeat']}; failed checks:\n{failures}"


def test_chaos_run_kills_workers_holding_jobs_and_restarts_redis_under_load(chaos_run: ChaosRun) -> None:
    summary = chaos_run.summary
    assert summary["kills"] >= 3, verdict(chaos_run)
    assert summary["duplicate_bound"] > 0, verdict(chaos_run)  # some kill caught jobs in flight
    assert summary["redis_restart"]["running_jobs"] > 0, verdict(chaos_run)
    assert summary["per_kind"]["long"]["enqueued"] > 0, verdict(chaos_run)
    assert summary["per_kind"]["long_sync"]["enqueued"] > 0, verdict(chaos_run)
    assert summary["enqueued"] == summary["settings"]["jobs"], verdict(chaos_run)


def test_no_job_is_lost_when_workers_die_and_redis_restarts(chaos_run: ChaosRun) -> None:
    lost = chaos_run.summary["lost"]
    assert lost == 0, verdict(chaos_run)


def test_duplicate_runs_stay_within_the_jobs_held_by_killed_workers(chaos_run: ChaosRun) -> None:
    duplicates, bound = chaos_run.summary["duplicates"], chaos_run.summary["duplicate_bound"]
    beyond_own_kills = chaos_run.summary["duplicates_beyond_own_kills"]
    assert duplicates <= bound, verdict(chaos_run)
    assert beyond_own_kills == 0, verdict(chaos_run)


def test_no_dead_letter_comes_from_a_healthy_worker(chaos_run: ChaosRun) -> None:
    from_healthy = chaos_run.summary["dead_letters_from_healthy_workers"]
    unexcused = chaos_run.summary["dead_letters_unexcused"]
    assert from_healthy == 0, verdict(chaos_run)
    assert unexcused == 0, verdict(chaos_run)


def test_no_job_runs_twice_at_once(chaos_run: ChaosRun) -> None:
    overlapping = chaos_run.summary["overlapping_jobs"]
    assert overlapping == 0, verdict(chaos_run)


def test_workers_outlive_the_redis_restart(chaos_run: ChaosRun) -> None:
    exited = chaos_run.summary["workers_exited_by_themselves"]
    assert exited == 0, verdict(chaos_run)


def test_chaos_run_exits_zero_exactly_when_every_check_passes(chaos_run: ChaosRun) -> None:
    returncode, summary = chaos_run.returncode, chaos_run.summary
    assert (returncode == 0) == summary["passed"] == (summary["failures"] == []), chaos_run.output
    assert returncode == 0, chaos_run.output
