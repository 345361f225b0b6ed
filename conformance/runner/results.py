"""One case run for one implementation, and the exceptions that end a case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis


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


class SkippedError(Exception):
    """The testee answered skipped."""


class TesteeDownError(Exception):
    """The testee is missing, died, or did not answer."""


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
