"""Reading a testee's answer (PROTOCOL.md): ok, error or skipped."""

from __future__ import annotations

import json
from typing import Any

from conformance.runner.results import CaseFailedError, SkippedError


def describe(response: dict[str, Any]) -> str:
    """A response in one short line, for failure reasons."""
    if response["result"] == "error":
        return f"error {response['error'].get('type')}: {response['error'].get('message', '')}"[:300]
    if response["result"] == "skipped":
        return f"skipped: {response.get('reason', '')}"
    return f"ok {json.dumps(response.get('value'))[:300]}"


def ok(response: dict[str, Any], what: str) -> Any:
    """The ok value of a behaviour step's response; `what` names the step in the failure."""
    if response["result"] == "skipped":
        raise SkippedError(f"{what}: {response.get('reason', '')}")
    if response["result"] != "ok":
        raise CaseFailedError(f"{what}: {describe(response)}")
    return response.get("value")


def expect_value(response: dict[str, Any], case: dict[str, Any]) -> Any:
    """The ok value of a response, or CaseFailedError when it is not ok."""
    if response["result"] == "skipped":
        raise SkippedError(response.get("reason", ""))
    if response["result"] != "ok":
        raise CaseFailedError(describe(response))
    return response.get("value")


def expect_error(response: dict[str, Any], error_type: str) -> None:
    """Fails the case unless the response is the typed error `error_type`."""
    if response["result"] == "skipped":
        raise SkippedError(response.get("reason", ""))
    if response["result"] != "error" or response["error"].get("type") != error_type:
        raise CaseFailedError(f"expected error {error_type}, got {describe(response)}")
