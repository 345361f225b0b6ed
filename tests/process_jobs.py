"""Plain functions that the tests register as `process=True` tasks: a child
process imports them by module and name, so they live at the top level of a
module on the test path."""

from __future__ import annotations

import os
import time
from pathlib import Path


def add(x: int, y: int) -> dict[str, int]:
    return {"sum": x + y, "pid": os.getpid()}


def fail(message: str) -> None:
    raise ValueError(message)


def sleep_with_pid(pid_file: str, seconds: float) -> str:
    """Writes its process id to `pid_file`, then sleeps."""
    Path(pid_file).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(seconds)
    return "woke up"


def report_steps(steps: int, seconds: float) -> str:
    """Reports its progress from the child process, one step per pause."""
    from ardiq import current_job

    job = current_job()
    for step in range(steps):
        job.progress(step / steps, f"child step {step}")
        time.sleep(seconds)
    job.progress(2.0, "out of bounds: dropped in the child, the run goes on")
    return "child done"


def retry_once_after(delay_ms: int) -> int:
    """Asks for a retry after `delay_ms` on its first attempt; returns the attempt."""
    from ardiq import Retry, current_job

    attempt = current_job().attempt
    if attempt == 0:
        raise Retry(delay_ms=delay_ms)
    return attempt
