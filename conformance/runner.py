"""The ArdiQ conformance runner: every vector and behaviour through every implementation.

Stages, in order:
1. the vector files against their schema (`check_vectors.py`);
2. every pure vector (`values`, `records`, `enqueue`) through every testee, byte for byte;
3. on the single Redis at REDIS_URL (or a throwaway one): every `scripts.json`
   case, then the behaviour matrix (each producer against the `ardiq` worker);
4. the behaviour matrix again on a three-master Redis Cluster started here,
   with the worker's queue and the burst queue on different masters.

Each implementation has a failure list, `failures/<impl>.txt`: a listed case that
fails is expected, a listed case that passes (or no longer exists) is a stale entry
and fails the run, an unlisted failure fails the run. The last line of output is
`N passed, N failed`; the exit code is non-zero when anything failed.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import os
import queue as queue_module
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import redis
import redis.cluster
from ardiq_testing import RedisCluster, choose_redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from conformance import check_vectors, records, typed  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
RUST_TESTEE = ROOT / "target" / "release" / "ardiq-conformance-testee"
APPS = HERE / "apps"
FAILURES = HERE / "failures"
SPEC_ROW = "spec"  # results that belong to the spec's own files (schema, scripts)
WORKER_ROW = "ardiq"  # the worker is the ardiq package

REQUEST_TIMEOUT_S = 120.0  # a guard against a hung testee, not a speed requirement
WAIT_S = 60.0  # how long a behaviour waits for a job to reach a state before giving up


@dataclass
class Result:
    """One case run for one implementation."""

    impl: str
    name: str
    status: str  # "pass", "fail" or "skip"
    reason: str = ""
    verdict: str = ""  # after the failure lists: passed, failed, expected, stale, skipped

    @property
    def group(self) -> str:
        parts = self.name.split(".")
        return ".".join(parts[:2]) if parts[0] == "behaviour" else parts[0]


class CaseFailedError(Exception):
    """A behaviour did not hold."""


# ---------------------------------------------------------------- testees


@dataclass
class Implementation:
    name: str
    command: list[str]
    program: Path


IMPLEMENTATIONS = [
    Implementation(
        "ardiq", [PYTHON, "conformance/testees/ardiq/testee.py"], HERE / "testees/ardiq/testee.py"
    ),
    Implementation(
        "python", [PYTHON, "conformance/testees/python/testee.py"], HERE / "testees/python/testee.py"
    ),
    Implementation("rust", [str(RUST_TESTEE)], RUST_TESTEE),
    Implementation(
        "typescript",
        ["node", "conformance/testees/typescript/testee.mjs"],
        HERE / "testees/typescript/testee.mjs",
    ),
]


class TesteeDownError(Exception):
    """The testee is missing, died, or did not answer."""


class Testee:
    """One running testee process speaking PROTOCOL.md over stdin/stdout."""

    def __init__(self, impl: Implementation, log_dir: Path) -> None:
        self.impl = impl
        self.down_reason = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.lines: queue_module.Queue[bytes | None] = queue_module.Queue()
        self.next_id = 0
        self.connected: tuple[str, str, bool] | None = None
        self.log_path = log_dir / f"{impl.name}.stderr.log"
        if not impl.program.exists():
            self.down_reason = f"testee program {impl.program.relative_to(ROOT)} is missing"
            return
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                impl.command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
            )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def request(self, op: str, timeout_s: float = REQUEST_TIMEOUT_S, **arguments: Any) -> dict[str, Any]:
        """Sends one request and returns its response object."""
        if self.down_reason:
            raise TesteeDownError(self.down_reason)
        assert self.process is not None
        assert self.process.stdin is not None
        self.next_id += 1
        message = {"id": self.next_id, "op": op, **arguments}
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except OSError as error:
            self._down(f"the testee's stdin is closed ({error})")
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue_module.Empty:
            self._down(f"no answer to {op} within {timeout_s:.0f} s")
        if line is None:
            self._down(f"the testee exited (code {self.process.poll()}) during {op}")
        try:
            response: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            self._down(f"not JSON on stdout: {line[:200]!r}")
        if response.get("id") != self.next_id or response.get("result") not in ("ok", "error", "skipped"):
            self._down(f"answer out of protocol: {line[:200]!r}")
        return response

    def _down(self, reason: str) -> NoReturn:
        tail = ""
        if self.log_path.exists():
            tail = self.log_path.read_text(errors="replace")[-400:].strip()
        self.down_reason = reason + (f"; stderr: {tail}" if tail else "")
        self.stop()
        raise TesteeDownError(self.down_reason)

    def use(self, url: str, queue: str, cluster: bool) -> None:
        """Connects the testee's client to `queue` (reconnecting when it changes)."""
        if self.connected == (url, queue, cluster):
            return
        if self.connected is not None:
            self.request("close")
            self.connected = None
        arguments: dict[str, Any] = {"url": url, "queue": queue}
        if cluster:
            arguments["cluster"] = True
        response = self.request("connect", **arguments)
        if response["result"] != "ok":
            raise CaseFailedError(f"connect failed: {describe(response)}")
        self.connected = (url, queue, cluster)

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def describe(response: dict[str, Any]) -> str:
    if response["result"] == "error":
        return f"error {response['error'].get('type')}: {response['error'].get('message', '')}"[:300]
    if response["result"] == "skipped":
        return f"skipped: {response.get('reason', '')}"
    return f"ok {json.dumps(response.get('value'))[:300]}"


def build_rust_testee() -> None:
    """Builds the Rust testee when its binary is missing (the Makefile normally has)."""
    if RUST_TESTEE.exists() or shutil.which("cargo") is None:
        return
    if os.environ.get("ARDIQ_CONFORMANCE_BUILD") == "0":
        return  # asked not to build: the missing testee fails its cases
    print("building the Rust testee: cargo build --release -p ardiq-conformance-testee", flush=True)
    subprocess.run(["cargo", "build", "--release", "-p", "ardiq-conformance-testee"], cwd=ROOT, check=False)


# ---------------------------------------------------------------- pure vectors


def expect_value(response: dict[str, Any], case: dict[str, Any]) -> Any:
    """The ok value of a response, or CaseFailedError when it is not ok."""
    if response["result"] == "skipped":
        raise SkippedError(response.get("reason", ""))
    if response["result"] != "ok":
        raise CaseFailedError(describe(response))
    return response.get("value")


def expect_error(response: dict[str, Any], error_type: str) -> None:
    if response["result"] == "skipped":
        raise SkippedError(response.get("reason", ""))
    if response["result"] != "error" or response["error"].get("type") != error_type:
        raise CaseFailedError(f"expected error {error_type}, got {describe(response)}")


def run_pure_case(testee: Testee, case: dict[str, Any]) -> None:
    op = case["op"]
    if op == "encode_value":
        response = testee.request("encode_value", value=typed.expand(case["value"]))
        if "error" in case:
            expect_error(response, case["error"])
            return
        got = expect_value(response, case)
        if got != case["hex"]:
            raise CaseFailedError(f"encode_value: {str(got)[:200]}, expected {case['hex'][:200]}")
        decoded = expect_value(testee.request("decode_value", hex=case["hex"]), case)
        if not typed.same(case["value"], decoded):
            raise CaseFailedError(
                f"decode_value: {json.dumps(decoded)[:200]}, expected {json.dumps(case['value'])[:200]}"
            )
    elif op == "decode_value":
        expect_error(testee.request("decode_value", hex=case["hex"]), case["error"])
    elif op == "encode_record":
        got = expect_value(
            testee.request("encode_record", message=case["message"], fields=case["fields"]), case
        )
        if got != case["hex"]:
            raise CaseFailedError(f"encode_record: {got}, expected {case['hex']}")
        fields = expect_value(testee.request("decode_record", message=case["message"], hex=case["hex"]), case)
        if fields != case["fields"]:
            raise CaseFailedError(
                f"decode_record: {json.dumps(fields)}, expected {json.dumps(case['fields'])}"
            )
    elif op == "decode_record":
        response = testee.request("decode_record", message=case["message"], hex=case["hex"])
        if "error" in case:
            expect_error(response, case["error"])
        elif (fields := expect_value(response, case)) != case["fields"]:
            raise CaseFailedError(
                f"decode_record: {json.dumps(fields)}, expected {json.dumps(case['fields'])}"
            )
    elif op == "build_enqueue":
        response = testee.request(
            "build_enqueue",
            queue=case["queue"],
            task=case["task"],
            args=[typed.expand(arg) for arg in case["args"]],
            kwargs=[[key, typed.expand(value)] for key, value in case["kwargs"]],
            options=case["options"],
            now_ms=case["now_ms"],
        )
        if "error" in case:
            expect_error(response, case["error"])
            return
        got = expect_value(response, case)
        wanted = {"keys": case["keys"], "argv": case["argv"]}
        if got != wanted:
            raise CaseFailedError(
                f"build_enqueue: {json.dumps(got)[:400]}, expected {json.dumps(wanted)[:400]}"
            )
    else:
        raise CaseFailedError(f"unknown op {op}")


def run_pure_vectors(testees: list[Testee], documents: dict[str, dict[str, Any]]) -> list[Result]:
    results = []
    for area in ("values", "records", "enqueue"):
        for case in documents[area]["cases"]:
            for testee in testees:
                body = partial(run_pure_case, testee, case)
                results.append(run_one(testee.impl.name, case["name"], body, case))
    return results


def run_one(impl: str, name: str, body: Callable[[], None], case: dict[str, Any] | None = None) -> Result:
    """Runs one case body and turns its outcome into a Result."""
    try:
        body()
    except SkippedError as skipped:
        if case is not None and case.get("may_skip"):
            return Result(impl, name, "skip", str(skipped))
        return Result(impl, name, "fail", f"skipped: {skipped}")
    except (CaseFailedError, TesteeDownError) as error:
        return Result(impl, name, "fail", str(error))
    except (redis.RedisError, OSError, KeyError, TypeError, ValueError) as error:
        return Result(impl, name, "fail", f"{type(error).__name__}: {error}")
    return Result(impl, name, "pass")


class SkippedError(Exception):
    """The testee answered skipped."""


# ---------------------------------------------------------------- Redis targets


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), as Redis Cluster computes key slots."""
    return binascii.crc_hqx(data, 0)


def key_slot(key: str) -> int:
    raw = key.encode()
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return crc16(raw) % 16384


@dataclass
class Target:
    """A Redis to run the behaviour matrix on."""

    mode: str  # "single" or "cluster"
    url: str
    work_queue: str  # a worker runs here for the whole stage
    burst_queue: str  # filled first, then drained by a burst worker
    client: Any = None
    runs: int = 0

    @property
    def cluster(self) -> bool:
        return self.mode == "cluster"


def cluster_queues(cluster_url: str) -> tuple[str, str]:
    """Two queue names whose hash tags land on different masters."""
    client = redis.Redis.from_url(cluster_url)
    try:
        owner: dict[int, Any] = {}
        for start, end, master, *_ in check_vectors.raw(client, "CLUSTER", "SLOTS"):
            for slot in range(start, end + 1):
                owner[slot] = (master[0], master[1])
    finally:
        client.close()
    work = f"work-{uuid.uuid4().hex[:6]}"
    for n in range(10000):
        burst = f"burst-{n}"
        if owner[key_slot(f"ardiq:{{{burst}}}:x")] != owner[key_slot(f"ardiq:{{{work}}}:x")]:
            return work, burst
    raise RuntimeError("no two queues on different masters")


# ---------------------------------------------------------------- the worker


class Worker:
    """`python -m ardiq run tasks:app` in conformance/apps, on one queue."""

    def __init__(self, target: Target, queue: str, log_dir: Path, burst: bool) -> None:
        env = dict(os.environ, ARDIQ_REDIS_URL=target.url, ARDIQ_QUEUE=queue, PYTHONUNBUFFERED="1")
        if target.cluster:
            env["ARDIQ_CLUSTER"] = "1"
        command = [PYTHON, "-m", "ardiq", "run", "tasks:app", *(["--burst"] if burst else [])]
        target.runs += 1
        self.log_path = log_dir / f"worker-{target.mode}-{queue}-{target.runs}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=APPS, env=env, stdout=log, stderr=subprocess.STDOUT)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-600:].strip()

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise CaseFailedError(f"the worker exited with code {self.process.returncode}: {self.log_tail()}")

    def wait(self, timeout_s: float) -> int:
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as error:
            self.stop()
            raise CaseFailedError(f"the burst worker did not exit within {timeout_s:.0f} s") from error

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def worker_importable() -> str:
    """Empty when the `ardiq` package imports, else why not."""
    probe = subprocess.run(
        [PYTHON, "-c", "import ardiq"], cwd=APPS, capture_output=True, text=True, check=False
    )
    return (
        "" if probe.returncode == 0 else f"the ardiq package does not import: {probe.stderr.strip()[-300:]}"
    )


# ---------------------------------------------------------------- behaviour helpers


def ok(response: dict[str, Any], what: str) -> Any:
    if response["result"] == "skipped":
        raise SkippedError(f"{what}: {response.get('reason', '')}")
    if response["result"] != "ok":
        raise CaseFailedError(f"{what}: {describe(response)}")
    return response.get("value")


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
    return {"int": str(n)}


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


# ---------------------------------------------------------------- the behaviour matrix


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
        if not pending:
            return
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

    # Entries written raw into the stream: the worker must dead-letter them and keep running.
    def malformed_cases(self) -> None:
        q = self.target.work_queue
        args = typed.pack({"array": [i(1)]})

        def job(
            job_id: str, task: str = "echo", version: str = "1.0", job_args: bytes = args, **extra: Any
        ) -> bytes:
            fields = {
                "spec_version": version,
                "id": job_id,
                "task": task,
                "args": job_args.hex(),
                "priority": 5,
            }
            return records.encode("Job", {**fields, **extra})

        def entry(job_id: str, task: str, record: bytes) -> list[tuple[bytes, bytes]]:
            return [(b"id", job_id.encode()), (b"task", task.encode()), (b"job", record)]

        kinds: dict[str, tuple[str, Callable[[str], list[tuple[bytes, bytes]]]]] = {
            "missing_job_field": ("malformed_entry", lambda jid: [(b"id", jid.encode()), (b"task", b"echo")]),
            "non_utf8_task": (
                "malformed_entry",
                lambda jid: [(b"id", jid.encode()), (b"task", b"\xff"), (b"job", job(jid))],
            ),
            "undecodable_job": ("undecodable_job", lambda jid: entry(jid, "echo", b"\xff\xff\xff")),
            "id_disagrees": ("undecodable_job", lambda jid: entry(jid, "echo", job(jid + "-other"))),
            "unsupported_version": (
                "unsupported_version",
                lambda jid: entry(jid, "echo", job(jid, version="2.0")),
            ),
            "unknown_task": (
                "unknown_task",
                lambda jid: entry(jid, "no_such_task", job(jid, task="no_such_task")),
            ),
            "undecodable_args": (
                "undecodable_args",
                lambda jid: entry(jid, "echo", job(jid, job_args=b"\xc1")),
            ),
            "args_ext_type": (
                "undecodable_args",
                lambda jid: entry(jid, "echo", job(jid, job_args=b"\x91\xd4\x01\x00")),
            ),
            "args_depth_65": (
                "undecodable_args",
                lambda jid: entry(jid, "echo", job(jid, job_args=b"\x91" + b"\x91" * 65 + b"\x01")),
            ),
            "result_ttl_unbounded": (
                "invalid_option",
                lambda jid: entry(jid, "echo", job(jid, result_ttl_ms=str(2**63))),
            ),
            "oversize": (
                "oversize",
                lambda jid: entry(
                    jid, "echo", job(jid, job_args=typed.pack({"array": [{"bytes": "61" * 1_048_576}]}))
                ),
            ),
        }
        for kind, (reason, build) in kinds.items():
            self.record(WORKER_ROW, f"malformed.{kind}", partial(self.malformed, q, reason, build))

    def malformed(self, queue: str, reason: str, build: Callable[[str], list[tuple[bytes, bytes]]]) -> None:
        client = self.target.client
        job_id = new_id("bad")
        fields = build(job_id)
        flat = [item for pair in fields for item in pair]
        client.execute_command("XADD", f"ardiq:{{{queue}}}:stream:5", "*", *flat)
        deadline = time.monotonic() + WAIT_S
        letter: dict[bytes, bytes] | None = None
        while letter is None:
            for _, entry_fields in client.xrange(f"ardiq:{{{queue}}}:dead"):
                if entry_fields.get(b"id") == job_id.encode():
                    letter = entry_fields
            if letter is None:
                assert self.worker is not None
                self.worker.check_alive()
                expect(time.monotonic() < deadline, f"no dead letter for {job_id} within {WAIT_S:.0f} s")
                time.sleep(0.05)
        expect(
            letter.get(b"reason") == reason.encode(),
            f"dead-letter reason {letter.get(b'reason')!r}, expected {reason}",
        )
        record = records.decode("DeadLetter", letter.get(b"record", b""))
        expect(
            record.get("reason") == reason and record.get("job_id") == job_id, f"DeadLetter record {record}"
        )
        expect(bool(record.get("detail")), "the dead letter has no readable detail")
        status = status_record(self.target, queue, job_id)
        expect(status.get("state") == records.STATES["STATE_DEAD"], f"status {status}, expected DEAD")
        error = status.get("error", {})
        expect(
            error.get("type") == "DeadLetter" and error.get("message", "").startswith(f"{reason}: "),
            f"DEAD status error {error}, expected type DeadLetter and message '{reason}: <detail>'",
        )
        # The worker is still serving: a good job enqueued by the suite's own producer completes.
        good_id = new_id("good")
        reference_enqueue(client, queue, good_id, "echo", [i(42)])
        deadline = time.monotonic() + WAIT_S
        while True:
            data = client.get(f"ardiq:{{{queue}}}:job:{good_id}")
            state = records.decode("Status", data).get("state") if data else None
            if state == records.STATES["STATE_COMPLETE"]:
                break
            assert self.worker is not None
            self.worker.check_alive()
            expect(time.monotonic() < deadline, f"the good job after the bad entry stayed in state {state}")
            time.sleep(0.05)


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


# ---------------------------------------------------------------- failure lists and the report


def load_failure_list(impl: str) -> dict[str, str]:
    """Listed case names with their reasons."""
    path = FAILURES / f"{impl}.txt"
    listed: dict[str, str] = {}
    if not path.exists():
        return listed
    reason = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            reason = stripped.lstrip("# ")
            continue
        name, _, comment = stripped.partition("#")
        listed[name.strip()] = comment.strip() or reason
    return listed


def apply_failure_lists(results: list[Result]) -> list[Result]:
    """Sets each result's verdict; appends a failing result per listed case that never ran."""
    by_impl: dict[str, dict[str, str]] = {}
    seen: set[tuple[str, str]] = set()
    for result in results:
        listed = by_impl.setdefault(result.impl, load_failure_list(result.impl))
        seen.add((result.impl, result.name))
        if result.name in listed:
            if result.status == "pass":
                result.verdict, result.reason = (
                    "stale",
                    f"stale entry in failures/{result.impl}.txt: the case passes",
                )
            else:
                result.verdict = "expected"
        else:
            result.verdict = {"pass": "passed", "fail": "failed", "skip": "skipped"}[result.status]
    extra = []
    for path in sorted(FAILURES.glob("*.txt")):
        impl = path.stem
        for name in by_impl.get(impl) or load_failure_list(impl):
            if (impl, name) not in seen:
                extra.append(
                    Result(impl, name, "fail", f"stale entry in failures/{impl}.txt: no such case", "stale")
                )
    return results + extra


def report(results: list[Result]) -> tuple[int, int]:
    for result in results:
        if result.verdict in ("failed", "stale"):
            print(f"FAIL [{result.impl}] {result.name}: {result.reason}")
        elif result.verdict == "expected":
            print(f"expected failure [{result.impl}] {result.name}: {result.reason[:200]}")
    impls = list(dict.fromkeys(result.impl for result in results))
    groups = list(dict.fromkeys(result.group for result in results))
    width = max(len(group) for group in groups) + 2
    print()
    print("case group".ljust(width) + "".join(impl.rjust(14) for impl in impls))
    for group in groups:
        row = group.ljust(width)
        for impl in impls:
            mine = [r for r in results if r.impl == impl and r.group == group]
            if not mine:
                row += "-".rjust(14)
                continue
            passed = sum(r.verdict == "passed" for r in mine)
            cell = f"{passed}/{len(mine)}"
            flags = "".join(
                mark
                for verdict, mark in (("failed", "!"), ("expected", "x"), ("skipped", "s"))
                if any(r.verdict == verdict or (mark == "!" and r.verdict == "stale") for r in mine)
            )
            row += f"{cell}{flags}".rjust(14)
        print(row)
    print("(n/m: passed of run; ! unexpected failure or stale entry, x expected failure, s skipped)")
    passed = sum(r.verdict == "passed" for r in results)
    failed = sum(r.verdict in ("failed", "stale") for r in results)
    expected = sum(r.verdict == "expected" for r in results)
    skipped = sum(r.verdict == "skipped" for r in results)
    print(f"{expected} expected failures (listed), {skipped} skipped (inexpressible in that language)")
    return passed, failed


# ---------------------------------------------------------------- main


@contextlib.contextmanager
def single_redis() -> Iterator[str]:
    with choose_redis() as server:
        yield server.url


@contextlib.contextmanager
def redis_cluster() -> Iterator[list[str]]:
    with RedisCluster() as cluster:
        yield cluster.urls


def run_matrix(target: Target, testees: list[Testee], log_dir: Path, worker_problem: str) -> list[Result]:
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


def main() -> int:
    documents = check_vectors.load_vectors()
    results = [
        Result(SPEC_ROW, o.name, "pass" if o.passed else "fail", o.reason)
        for o in check_vectors.validate_vectors()
    ]
    build_rust_testee()
    log_dir = Path(tempfile.mkdtemp(prefix="ardiq-conformance-"))
    print(f"testee and worker logs: {log_dir}", flush=True)
    testees = [Testee(impl, log_dir) for impl in IMPLEMENTATIONS]
    try:
        print("pure vectors through every testee", flush=True)
        results += run_pure_vectors(testees, documents)
        worker_problem = worker_importable()
        with single_redis() as url:
            print("script vectors on the single Redis", flush=True)
            results += [
                Result(SPEC_ROW, o.name, "pass" if o.passed else "fail", o.reason)
                for o in check_vectors.run_script_cases(url)
            ]
            client = redis.Redis.from_url(url, protocol=2)
            client.flushdb()
            target = Target(
                "single", url, f"work-{uuid.uuid4().hex[:6]}", f"burst-{uuid.uuid4().hex[:6]}", client
            )
            results += run_matrix(target, testees, log_dir, worker_problem)
        print("starting a three-master Redis Cluster", flush=True)
        with redis_cluster() as urls:
            work, burst = cluster_queues(urls[0])
            host, port = urls[0].removeprefix("redis://").split("/")[0].split(":")
            cluster_client = redis.cluster.RedisCluster(host=host, port=int(port), protocol=2)
            target = Target("cluster", urls[0], work, burst, cluster_client)
            results += run_matrix(target, testees, log_dir, worker_problem)
    finally:
        for testee in testees:
            testee.stop()
    passed, failed = report(apply_failure_lists(results))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
