"""The testee processes: one per implementation, speaking PROTOCOL.md over stdin and stdout."""

from __future__ import annotations

import contextlib
import json
import os
import queue as queue_module
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from conformance.runner.paths import CONFORMANCE, PYTHON, ROOT, RUST_TESTEE
from conformance.runner.responses import describe
from conformance.runner.results import CaseFailedError, TesteeDownError

REQUEST_TIMEOUT_S = 120.0  # a guard against a hung testee, not a speed requirement


@dataclass
class Implementation:
    """A testee: its name in the results, how it is started (from the repository root), its program."""

    name: str
    command: list[str]
    program: Path


IMPLEMENTATIONS = [
    Implementation(
        "ardiq", [PYTHON, "conformance/testees/ardiq/testee.py"], CONFORMANCE / "testees/ardiq/testee.py"
    ),
    Implementation(
        "python", [PYTHON, "conformance/testees/python/testee.py"], CONFORMANCE / "testees/python/testee.py"
    ),
    Implementation("rust", [str(RUST_TESTEE)], RUST_TESTEE),
    Implementation(
        "typescript",
        ["node", "conformance/testees/typescript/testee.mjs"],
        CONFORMANCE / "testees/typescript/testee.mjs",
    ),
]


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


def build_rust_testee() -> None:
    """Builds the Rust testee when its binary is missing (`make test-conformance` always builds it)."""
    if RUST_TESTEE.exists() or shutil.which("cargo") is None:
        return
    if os.environ.get("ARDIQ_CONFORMANCE_BUILD") == "0":
        return  # asked not to build: the missing testee fails its cases
    print("building the Rust testee: cargo build --release -p ardiq-conformance-testee", flush=True)
    subprocess.run(["cargo", "build", "--release", "-p", "ardiq-conformance-testee"], cwd=ROOT, check=False)
