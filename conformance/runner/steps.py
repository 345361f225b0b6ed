"""What behaviours are made of: enqueue through a testee, wait for a state, read a result,
check a remote error, and enqueue with the suite's own encoders (no implementation involved)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from conformance import check_vectors, records, typed
from conformance.runner.responses import expect_error, ok
from conformance.runner.results import CaseFailedError
from conformance.runner.targets import Target, Worker
from conformance.runner.testees import REQUEST_TIMEOUT_S, Testee

WAIT_S = 60.0  # how long a behaviour waits for a job to reach a state before giving up


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


def enqueue(testee: Testee, task: str, args: list[Any], **options: Any) -> dict[str, Any]:
    value: dict[str, Any] = ok(
        testee.request("enqueue", task=task, args=args, kwargs=[], options=options), f"enqueue {task}"
    )
    return value


def result_of(testee: Testee, job_id: str, timeout_ms: int = int(WAIT_S * 1000)) -> dict[str, Any]:
    return testee.request(
        "result", timeout_s=REQUEST_TIMEOUT_S + timeout_ms / 1000, job_id=job_id, timeout_ms=timeout_ms
    )


def value_of(testee: Testee, job_id: str) -> Any:
    return ok(result_of(testee, job_id), f"result of {job_id}")


def status_of(testee: Testee, job_id: str) -> str:
    state: str = ok(testee.request("status", job_id=job_id), f"status of {job_id}")
    return state


def wait_for_state(testee: Testee, job_id: str, states: set[str], worker: Worker | None = None) -> str:
    deadline = time.monotonic() + WAIT_S
    while True:
        state = status_of(testee, job_id)
        if state in states:
            return state
        if worker is not None:
            worker.check_alive()
        if time.monotonic() > deadline:
            raise CaseFailedError(
                f"{job_id} stayed {state}, never reached {sorted(states)} within {WAIT_S:.0f} s"
            )
        time.sleep(0.05)


def status_record(target: Target, queue: str, job_id: str) -> dict[str, Any]:
    """The job's Status record read with redis-py and decoded by the suite's own decoder."""
    data = target.client.get(f"ardiq:{{{queue}}}:job:{job_id}")
    if data is None:
        raise CaseFailedError(f"no status key for {job_id}")
    return records.decode("Status", data)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CaseFailedError(message)


def i(n: int) -> dict[str, str]:
    """A typed int."""
    return {"int": str(n)}


def nested(levels: int) -> dict[str, Any]:
    """A typed int inside `levels` arrays."""
    value: dict[str, Any] = i(1)
    for _ in range(levels):
        value = {"array": [value]}
    return value


def expect_remote(response: dict[str, Any], remote_type: str) -> dict[str, Any]:
    expect_error(response, "JobFailed")
    remote = response["error"].get("remote")
    expect(isinstance(remote, dict), f"JobFailed without error.remote: {response['error']}")
    assert isinstance(remote, dict)
    expect(remote.get("type") == remote_type, f"remote type {remote.get('type')!r}, expected {remote_type}")
    message = response["error"].get("message", "")
    expect(message == f"{remote_type}: {remote.get('message', '')}", f"JobFailed message {message!r}")
    return remote


def expect_job_aborted(testee: Testee, job_id: str) -> None:
    expect_error(result_of(testee, job_id), "JobAborted")
    state = status_of(testee, job_id)
    expect(state == "aborted", f"status {state}, expected aborted")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def reference_enqueue(client: Any, queue: str, job_id: str, task: str, args: list[Any]) -> None:
    """Enqueues with the suite's own encoders and the spec's enqueue.lua (no implementation involved)."""
    record = records.encode(
        "Job",
        {
            "spec_version": "1.0",
            "id": job_id,
            "task": task,
            "args": typed.pack({"array": args}).hex(),
            "priority": 5,
            "enqueued_ms": str(now_ms()),
        },
    )
    prefix = f"ardiq:{{{queue}}}:"
    source = (check_vectors.SCRIPTS / "enqueue.lua").read_text(encoding="utf-8")
    keys = [prefix + "delayed", prefix + "delayed:jobs", prefix + f"job:{job_id}", prefix + "stream:5"]
    client.eval(source, len(keys), *keys, job_id, task, "0", record)
