"""Failure lists (`failures/<impl>.txt`, conformance/README.md) and the printed report."""

from __future__ import annotations

from conformance.runner.paths import FAILURES
from conformance.runner.results import Result


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
    expected_by_impl: dict[str, int] = {}
    for result in results:
        if result.verdict in ("failed", "stale"):
            print(f"FAIL [{result.impl}] {result.name}: {result.reason}")
        elif result.verdict == "expected":
            expected_by_impl[result.impl] = expected_by_impl.get(result.impl, 0) + 1
    if expected_by_impl:
        # Each is listed with its reason in conformance/failures/<impl>.txt.
        counts = ", ".join(f"{impl} {count}" for impl, count in expected_by_impl.items())
        print(f"expected failures, as listed in conformance/failures/: {counts}")
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
