"""Pure vectors (`values`, `records`, `enqueue`) through every testee, byte for byte."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from conformance import typed
from conformance.runner.responses import expect_error, expect_value
from conformance.runner.results import CaseFailedError, Result, run_one
from conformance.runner.testees import Testee

AREAS = ("values", "records", "enqueue")


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
    for area in AREAS:
        for case in documents[area]["cases"]:
            for testee in testees:
                body = partial(run_pure_case, testee, case)
                results.append(run_one(testee.impl.name, case["name"], body, case))
    return results
