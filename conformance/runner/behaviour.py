"""The behaviour matrix: each producer's testee against the `ardiq` worker on one Redis target.

Jobs are enqueued through a testee and run by a real worker (`conformance/apps/tasks.py`); the
cases are named `behaviour.<single|cluster>.<case>` and recorded for the producer that enqueued
(or, for `read_back.from_<writer>`, the one that read). The malformed entries (`malformed`) are
the worker's own row.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ardiq_testing import RedisServer

from conformance import typed
from conformance.runner.malformed import MALFORMED, check_dead_lettered
from conformance.runner.responses import expect_error, ok
from conformance.runner.results import CaseFailedError, Result, SkippedError, TesteeDownError, run_one
from conformance.runner.steps import (
    WAIT_S,
    enqueue,
    expect,
    expect_job_aborted,
    expect_remote,
    i,
    nested,
    new_id,
    now_ms,
    result_of,
    status_of,
    status_record,
    value_of,
    wait_for_state,
)
from conformance.runner.targets import Target, Worker
from conformance.runner.testees import REQUEST_TIMEOUT_S, Testee

WORKER_ROW = "ardiq"  # the worker is the ardiq package

# Values that must survive producer -> worker echo -> reader unchanged, in every language.
ROUND_TRIPS: dict[str, Any] = {
    "int64_limits": {"array": [i(2**63 - 1), i(-(2**63)), i(0), i(-1), i(255), i(-129), i(2**32)]},
    "floats": {
        "array": [
            {"float": 1.5},
            {"float": -0.1},
            {"float": "-0"},
            {"float": "NaN"},
            {"float": "Infinity"},
            {"float": "-Infinity"},
            {"float": 5e-324},
        ]
    },
    "unicode": {"array": [{"str": "żółw 🐢"}, {"str": ""}, {"str": "a" * 300}]},
    "bytes": {"array": [{"bytes": ""}, {"bytes": "00ff7f80"}, {"bytes": "ab" * 300}]},
    "nested": {
        "map": [
            ["z", {"array": [{"nil": None}, {"bool": True}, {"bool": False}]}],
            ["a", {"map": [["deep", {"array": [{"map": [["x", i(1)]]}]}]]}],
            ["ключ", {"str": "значение"}],
        ]
    },
}
REJECTED = ["set", "datetime", "int_too_large", "non_str_key", "undefined", "function"]


class Matrix:
    """Runs every behaviour for one Redis target."""

    def __init__(self, target: Target, testees: list[Testee], log_dir: Path, worker_problem: str) -> None:
        self.target = target
        self.testees = testees
        self.log_dir = log_dir
        self.worker_problem = worker_problem
        self.results: list[Result] = []
        self.worker: Worker | None = None

    def name(self, case: str) -> str:
        return f"behaviour.{self.target.mode}.{case}"

    def record(self, impl: str, case: str, body: Callable[[], None], may_skip: bool = False) -> None:
        def guarded() -> None:
            if self.worker_problem:
                raise CaseFailedError(self.worker_problem)
            if self.worker is not None:
                self.worker.check_alive()
            body()

        self.results.append(run_one(impl, self.name(case), guarded, {"may_skip": may_skip}))

    def on_work_queue(self, testee: Testee) -> Testee:
        testee.use(self.target.url, self.target.work_queue, self.target.cluster)
        return testee

    def on_burst_queue(self, testee: Testee) -> Testee:
        testee.use(self.target.url, self.target.burst_queue, self.target.cluster)
        return testee

    def run(self) -> list[Result]:
        self.burst_phase()
        if not self.worker_problem:
            self.worker = Worker(self.target, self.target.work_queue, self.log_dir, burst=False)
        try:
            for testee in self.testees:
                self.producer_cases(testee)
            for writer in self.testees:
                for reader in self.testees:
                    body = partial(self.read_back, writer, reader)
                    self.record(reader.impl.name, f"read_back.from_{writer.impl.name}", body)
            self.malformed_cases()
        finally:
            if self.worker is not None:
                self.worker.stop()
        return self.results

    # Jobs enqueued while no worker runs, then drained by one burst worker.
    def burst_phase(self) -> None:
        pending: dict[str, tuple[list[tuple[int, str]], str]] = {}
        expiring: dict[str, str] = {}
        latest_expiry = 0
        for testee in self.testees:
            impl = testee.impl.name
            try:
                if self.worker_problem:
                    raise CaseFailedError(self.worker_problem)
                self.on_burst_queue(testee)
                jobs = []
                for priority in (0, 3, 9, 5, 1, 7):
                    job = enqueue(
                        testee,
                        "start_order",
                        [{"str": f"p{priority}"}],
                        priority=priority,
                        job_id=new_id("order"),
                    )
                    expect(job["outcome"] == "queued", f"outcome {job['outcome']}, expected queued")
                    jobs.append((priority, job["job_id"]))
                queued = enqueue(testee, "echo", [{"str": "never runs"}], job_id=new_id("abort-queued"))
                reply = ok(testee.request("abort", job_id=queued["job_id"]), "abort")
                expect(reply == "abort_requested", f"abort of a queued job replied {reply!r}")
                state = status_of(testee, queued["job_id"])
                expect(state == "queued", f"a queued job with an abort request reads {state!r}")
                pending[impl] = (jobs, queued["job_id"])
            except (CaseFailedError, TesteeDownError, SkippedError) as error:
                self.results.append(Result(impl, self.name("priority_order"), "fail", str(error)))
                self.results.append(Result(impl, self.name("abort.queued"), "fail", str(error)))
            try:
                # SPEC.md section 17: no worker runs until this job's expiry has passed.
                expires = now_ms() + 200
                job = enqueue(
                    testee, "echo", [{"str": "too late"}], job_id=new_id("expire"), expires_ms=expires
                )
                expect(job["outcome"] == "queued", f"outcome {job['outcome']}, expected queued")
                expiring[impl] = job["job_id"]
                latest_expiry = max(latest_expiry, expires)
            except (CaseFailedError, TesteeDownError, SkippedError) as error:
                self.results.append(Result(impl, self.name("expiry"), "fail", str(error)))
        if not pending and not expiring:
            return
        time.sleep(max(0.0, (latest_expiry - now_ms() + 50) / 1000))
        burst = Worker(self.target, self.target.burst_queue, self.log_dir, burst=True)
        code = burst.wait(WAIT_S * 3)
        for testee in self.testees:
            if testee.impl.name not in pending:
                continue
            jobs, aborted_id = pending[testee.impl.name]

            def order(testee: Testee = testee, jobs: list[tuple[int, str]] = jobs) -> None:
                expect(code == 0, f"the burst worker exited with {code}: {burst.log_tail()}")
                started = {priority: value_of(testee, job_id) for priority, job_id in jobs}
                by_start = [
                    priority for priority, _ in sorted(started.items(), key=lambda item: int(item[1]["int"]))
                ]
                expect(
                    by_start == sorted(started, reverse=True), f"runs started in priority order {by_start}"
                )

            def aborted(testee: Testee = testee, job_id: str = aborted_id) -> None:
                expect(code == 0, f"the burst worker exited with {code}: {burst.log_tail()}")
                expect_job_aborted(testee, job_id)

            self.results.append(run_one(testee.impl.name, self.name("priority_order"), order))
            self.results.append(run_one(testee.impl.name, self.name("abort.queued"), aborted))
        for testee in self.testees:
            if testee.impl.name not in expiring:
                continue

            def expired(testee: Testee = testee, job_id: str = expiring[testee.impl.name]) -> None:
                expect(code == 0, f"the burst worker exited with {code}: {burst.log_tail()}")
                expect_error(result_of(testee, job_id), "JobExpired")
                state = status_of(testee, job_id)
                expect(state == "expired", f"status {state}, expected expired")
                record = status_record(self.target, self.target.burst_queue, job_id)
                expect(record.get("state") == 8, f"status record {record}")
                expect("started_ms" not in record, f"an expired job never starts: {record}")
                expect(record.get("error", {}).get("type") == "JobExpired", f"status record {record}")

            self.results.append(run_one(testee.impl.name, self.name("expiry"), expired))

    def producer_cases(self, testee: Testee) -> None:
        impl = testee.impl.name
        self.record(impl, "delay", lambda: self.delay(testee, {"delay_ms": 3000}))
        self.record(impl, "schedule.future", lambda: self.delay(testee, {"schedule_ms": now_ms() + 3000}))
        self.record(impl, "schedule.past", lambda: self.schedule_past(testee))
        self.record(impl, "job_id_dedup", lambda: self.dedup(testee))
        self.record(impl, "retries", lambda: self.retries(testee))
        self.record(impl, "timeout", lambda: self.timeout(testee))
        self.record(impl, "failure_details", lambda: self.failure_details(testee))
        for label, value in ROUND_TRIPS.items():
            self.record(impl, f"types.{label}", partial(self.round_trip, testee, value))
        for kind in REJECTED:
            body = partial(self.rejected, testee, kind)
            self.record(impl, f"types.rejected.{kind}", body, may_skip=kind != "int_too_large")
        self.record(impl, "nesting.depth_64", lambda: self.nesting_at_the_limit(testee))
        self.record(impl, "nesting.depth_65", lambda: self.nesting_past_the_limit(testee))
        self.record(impl, "abort.scheduled", lambda: self.abort_scheduled(testee))
        self.record(impl, "abort.running", lambda: self.abort_running(testee))
        self.record(impl, "abort.finished", lambda: self.abort_finished(testee))
        self.record(impl, "progress", lambda: self.progress(testee))
        self.record(impl, "result.notified", lambda: self.result_notified(testee))
        self.record(impl, "result.notification_lost", lambda: self.result_notification_lost(testee))
        self.record(impl, "result.not_found", lambda: self.result_not_found(testee))
        if not self.target.cluster:
            self.record(impl, "redis_loading", lambda: self.redis_loading(testee))

    def redis_loading(self, testee: Testee) -> None:
        """A call while Redis still loads its data after a restart is `ConnectionError` (SPEC.md
        section 14); on a server of the case's own, as the restart would break the target's."""
        with RedisServer() as server:
            testee.use(server.url, "loading", False)
            enqueue(testee, "echo", [{"str": "before"}])
            server.restart_loading()
            response = testee.request("enqueue", task="echo", args=[], kwargs=[], options={})
            expect_error(response, "ConnectionError")

    def delay(self, testee: Testee, options: dict[str, Any]) -> None:
        client = self.on_work_queue(testee)
        job = enqueue(client, "echo", [{"str": "later"}], job_id=new_id("delay"), **options)
        expect(job["outcome"] == "scheduled", f"outcome {job['outcome']}, expected scheduled")
        state = status_of(client, job["job_id"])
        expect(state in ("scheduled", "queued", "running", "complete"), f"status {state}")
        expect(typed.same({"str": "later"}, value_of(client, job["job_id"])), "wrong result")
        status = status_record(self.target, self.target.work_queue, job["job_id"])
        due = (
            int(options["delay_ms"]) + int(status.get("enqueued_ms", "0"))
            if "delay_ms" in options
            else options["schedule_ms"]
        )
        started = int(status.get("started_ms", "0"))
        expect(started >= due, f"started at {started}, before its due time {due}")

    def schedule_past(self, testee: Testee) -> None:
        client = self.on_work_queue(testee)
        job = enqueue(client, "echo", [i(1)], job_id=new_id("past"), schedule_ms=now_ms() - 60_000)
        expect(job["outcome"] == "queued", f"outcome {job['outcome']}, expected queued")
        expect(typed.same(i(1), value_of(client, job["job_id"])), "wrong result")

    def dedup(self, testee: Testee) -> None:
        client = self.on_work_queue(testee)
        job_id = new_id("dedup")
        first = enqueue(client, "echo", [i(1)], job_id=job_id)
        second = enqueue(client, "echo", [i(2)], job_id=job_id)
        expect(first == {"job_id": job_id, "outcome": "queued"}, f"first enqueue {first}")
        expect(second == {"job_id": job_id, "outcome": "duplicate"}, f"second enqueue {second}")
        expect(typed.same(i(1), value_of(client, job_id)), "the duplicate replaced the first job")
        third = enqueue(client, "echo", [i(3)], job_id=job_id)
        expect(
            third["outcome"] == "duplicate", f"enqueue after completion {third}: the kept result is the key"
        )

    def retries(self, testee: Testee) -> None:
        client = self.on_work_queue(testee)
        job_id = new_id("flaky")
        enqueue(client, "flaky", [{"str": job_id}, i(1)], job_id=job_id, max_retries=2, backoff_ms=10)
        expect(
            typed.same({"str": "ok after 2 runs"}, value_of(client, job_id)), "flaky did not succeed on run 2"
        )
        attempts = status_record(self.target, self.target.work_queue, job_id).get("attempts")
        expect(attempts == 2, f"attempts {attempts}, expected 2")

    def timeout(self, testee: Testee) -> None:
        client = self.on_work_queue(testee)
        job_id = new_id("timeout")
        enqueue(client, "sleep_ms", [i(60_000)], job_id=job_id, timeout_ms=200, max_retries=0)
        response = result_of(client, job_id)
        expect_remote(response, "TimeoutError")
        expect(status_of(client, job_id) == "failed", "a timed-out job must read failed")

    def failure_details(self, testee: Testee) -> None:
        client = self.on_work_queue(testee)
        job_id = new_id("fail")
        message = f"boom from {testee.impl.name}"
        enqueue(client, "fail", [{"str": message}], job_id=job_id)
        remote = expect_remote(result_of(client, job_id), "ValueError")
        expect(remote.get("message") == message, f"remote message {remote.get('message')!r}")
        traceback = remote.get("traceback", "")
        expect("tasks.py" in traceback and "ValueError" in traceback, f"traceback {traceback[:200]!r}")
        expect(status_of(client, job_id) == "failed", "a failed job must read failed")

    def round_trip(self, testee: Testee, value: Any) -> None:
        client = self.on_work_queue(testee)
        job = enqueue(client, "echo", [value], job_id=new_id("echo"))
        got = value_of(client, job["job_id"])
        expect(typed.same(value, got), f"echo returned {json.dumps(got)[:300]}")

    def rejected(self, testee: Testee, kind: str) -> None:
        client = self.on_work_queue(testee)
        job_id = new_id("rejected")
        response = client.request(
            "enqueue", task="echo", args=[i(1), {"unsupported": kind}], kwargs=[], options={"job_id": job_id}
        )
        if response["result"] == "skipped":
            raise SkippedError(response.get("reason", ""))
        expect_error(response, "UnsupportedValue")
        expect(status_of(client, job_id) == "not_found", "a rejected job must write nothing")

    def nesting_at_the_limit(self, testee: Testee) -> None:
        # SPEC.md section 4: an argument may nest 64 deep; the args array is no level.
        client = self.on_work_queue(testee)
        job = enqueue(client, "echo", [nested(64)], job_id=new_id("deep"))
        got = value_of(client, job["job_id"])
        expect(typed.same(nested(64), got), "the worker did not run and return an argument nested 64 deep")

    def nesting_past_the_limit(self, testee: Testee) -> None:
        client = self.on_work_queue(testee)
        job_id = new_id("too-deep")
        response = client.request(
            "enqueue", task="echo", args=[nested(65)], kwargs=[], options={"job_id": job_id}
        )
        expect_error(response, "UnsupportedValue")
        expect(status_of(client, job_id) == "not_found", "a refused job must write nothing")

    def abort_scheduled(self, testee: Testee) -> None:
        client = self.on_work_queue(testee)
        job = enqueue(client, "echo", [i(1)], job_id=new_id("abort-scheduled"), delay_ms=600_000)
        reply = ok(client.request("abort", job_id=job["job_id"]), "abort")
        expect(reply == "aborted", f"abort of a scheduled job replied {reply!r}")
        expect_job_aborted(client, job["job_id"])

    def abort_running(self, testee: Testee) -> None:
        client = self.on_work_queue(testee)
        job = enqueue(client, "sleep_ms", [i(600_000)], job_id=new_id("abort-running"))
        wait_for_state(client, job["job_id"], {"running"}, self.worker)
        reply = ok(client.request("abort", job_id=job["job_id"]), "abort")
        expect(reply == "abort_requested", f"abort of a running job replied {reply!r}")
        expect_job_aborted(client, job["job_id"])

    def abort_finished(self, testee: Testee) -> None:
        client = self.on_work_queue(testee)
        job = enqueue(client, "echo", [i(1)], job_id=new_id("abort-done"))
        value_of(client, job["job_id"])
        reply = ok(client.request("abort", job_id=job["job_id"]), "abort")
        expect(reply == "complete", f"abort of a complete job replied {reply!r}")

    def progress(self, testee: Testee) -> None:
        # SPEC.md section 16: read while the job runs, and with its result.
        client = self.on_work_queue(testee)
        job = enqueue(client, "progress_steps", [i(6), i(250)], job_id=new_id("progress"))
        deadline = time.monotonic() + WAIT_S
        seen = None
        while time.monotonic() < deadline:
            seen = ok(client.request("progress", job_id=job["job_id"]), "progress")
            if seen is not None and 0 < seen["fraction"] < 1:
                break
            time.sleep(0.05)
        expect(seen is not None and 0 < seen["fraction"] < 1, f"no progress seen while it ran: {seen}")
        assert seen is not None
        expect(seen["message"].startswith("step "), f"progress message {seen['message']!r}")
        expect(int(seen["updated_ms"]) > 0, f"progress time {seen}")
        expect(typed.same({"str": "done"}, value_of(client, job["job_id"])), "wrong result")
        final = ok(client.request("progress", job_id=job["job_id"]), "progress")
        expect(final is not None and final["fraction"] == 1.0, f"final progress {final}")
        assert final is not None
        expect(final["message"] == "done", f"final progress message {final['message']!r}")

    def result_notified(self, testee: Testee) -> None:
        # SPEC.md section 15: a waiting result() reads the status when it starts waiting and
        # when told, plus at most one fallback read per second; polling would read it dozens
        # of times over the job's 1.5 s.
        client = self.on_work_queue(testee)
        job = enqueue(client, "sleep_ms", [i(1500)], job_id=new_id("notified"))
        before = command_calls(self.target, "hexists")
        value = value_of(client, job["job_id"])
        reads = command_calls(self.target, "hexists") - before
        expect(typed.same({"str": "slept"}, value), "wrong result")
        expect(reads <= 5, f"result() read the status {reads} times while waiting 1.5 s")

    def result_notification_lost(self, testee: Testee) -> None:
        # The wait is removed from the waiters zset while the job runs, so no worker tells the
        # waiter: result() must still return, through its fallback reads.
        client = self.on_work_queue(testee)
        job_id = new_id("lost")
        enqueue(client, "sleep_ms", [i(1200)], job_id=job_id)
        waiters = f"ardiq:{{{self.target.work_queue}}}:waiters"
        dropper = threading.Timer(0.6, lambda: self.target.client.zrem(waiters, job_id))
        dropper.start()
        try:
            value = value_of(client, job_id)
        finally:
            dropper.cancel()
        expect(typed.same({"str": "slept"}, value), "wrong result")
        expect(self.target.client.zscore(waiters, job_id) is None, "the wait was not dropped")

    def result_not_found(self, testee: Testee) -> None:
        # SPEC.md section 15: a wait ends on not_found, at once, whatever its time-out: an id
        # no job has, and a job whose result is not kept (the worker deletes its status key).
        # An hour's time-out the request would not outlive: a wait that runs on fails the case.
        client = self.on_work_queue(testee)
        for job_id in (new_id("ghost"), enqueue(client, "echo", [i(1)], result_ttl_ms=0)["job_id"]):
            response = client.request(
                "result", timeout_s=REQUEST_TIMEOUT_S + WAIT_S, job_id=job_id, timeout_ms=3_600_000
            )
            expect_error(response, "JobNotFound")

    def read_back(self, writer: Testee, reader: Testee) -> None:
        writer_client = self.on_work_queue(writer)
        value = {"map": [["from", {"str": writer.impl.name}], ["n", i(-(2**63))], ["f", {"float": 0.25}]]}
        job = enqueue(writer_client, "echo", [value], job_id=new_id("read-back"))
        reader_client = self.on_work_queue(reader)
        got = value_of(reader_client, job["job_id"])
        expect(typed.same(value, got), f"{reader.impl.name} read {json.dumps(got)[:300]}")
        state = status_of(reader_client, job["job_id"])
        expect(state == "complete", f"{reader.impl.name} read status {state}")
        failed_id = new_id("read-back-failed")
        enqueue(writer_client, "fail", [{"str": "read me"}], job_id=failed_id)
        expect_remote(result_of(self.on_work_queue(reader), failed_id), "ValueError")

    def malformed_cases(self) -> None:
        """Entries written raw into the stream: the worker must dead-letter them and keep running."""
        for kind, malformed in MALFORMED.items():
            body = partial(check_dead_lettered, self.target, self.worker, malformed)
            self.record(WORKER_ROW, f"malformed.{kind}", body)


def command_calls(target: Target, command: str) -> int:
    """Calls of `command` so far on every node of `target` (`INFO commandstats`)."""
    if target.cluster:
        untyped: Any = target.client
        stats = untyped.info("commandstats", target_nodes=untyped.ALL_NODES)
        per_node = list(stats.values()) if all(isinstance(v, dict) for v in stats.values()) else [stats]
    else:
        per_node = [target.client.info("commandstats")]
    total = 0
    for node in per_node:
        entry = node.get(f"cmdstat_{command}")
        if isinstance(entry, dict):
            total += int(entry.get("calls", 0))
    return total


def run_matrix(target: Target, testees: list[Testee], log_dir: Path, worker_problem: str) -> list[Result]:
    """The whole matrix on `target`; every testee is disconnected afterwards."""
    print(
        f"behaviour matrix on {target.mode} Redis (queues {target.work_queue}, {target.burst_queue})",
        flush=True,
    )
    try:
        return Matrix(target, testees, log_dir, worker_problem).run()
    finally:
        for testee in testees:
            if testee.connected is not None and not testee.down_reason:
                with contextlib.suppress(TesteeDownError):
                    testee.request("close")
            testee.connected = None
        target.client.close()
