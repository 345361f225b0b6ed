"""Checks that the Lua fragments the scripts of `spec/scripts/` share are identical.

A Redis script cannot load another, so a helper that several scripts need
(the protobuf field reader, the ownership check) is copied into each of them,
between two comment lines::

    -- shared:begin protobuf.field
    ...
    -- shared:end protobuf.field

Every copy of a fragment must be byte for byte the same as the others, and
a helper function a fragment defines must not appear in a script outside
that fragment's markers (a copy nobody marked). The check fails naming the
scripts and showing the difference.

Usage: `.venv/bin/python -m conformance.script_fragments` (run by `make lint`).
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "spec" / "scripts"
MARKER = re.compile(r"^-- shared:(begin|end) (\S+)$")
FUNCTION = re.compile(r"^local function (\w+)\(")


@dataclass(frozen=True)
class Fragment:
    """One marked copy: its name, the script it is in, the first line after its begin marker
    (1-based), and its text between the markers."""

    name: str
    script: str
    line: int
    text: str


def fragments_of(script: str, source: str) -> tuple[list[Fragment], list[str]]:
    """The marked fragments of one script's `source`, and what is wrong with its markers."""
    found: list[Fragment] = []
    problems: list[str] = []
    open_name, start = "", 0
    body: list[str] = []
    for number, line in enumerate(source.splitlines(), 1):
        marker = MARKER.match(line)
        if marker is None:
            if open_name:
                body.append(line)
            continue
        kind, name = marker.groups()
        if kind == "begin":
            if open_name:
                problems.append(f"{script}:{number}: begin {name} inside {open_name}")
            open_name, start, body = name, number + 1, []
        elif name != open_name:
            problems.append(f"{script}:{number}: end {name} without its begin")
        else:
            found.append(Fragment(name, script, start, "\n".join(body) + "\n"))
            open_name = ""
    if open_name:
        problems.append(f"{script}: begin {open_name} (line {start - 1}) has no end")
    return found, problems


def unmarked_copies(script: str, source: str, defined_by: dict[str, str]) -> list[str]:
    """Helper functions of a fragment that `script` defines outside any fragment's markers."""
    problems = []
    inside = False
    for number, line in enumerate(source.splitlines(), 1):
        marker = MARKER.match(line)
        if marker is not None:
            inside = marker.group(1) == "begin"
            continue
        function = FUNCTION.match(line)
        if function is not None and not inside and function.group(1) in defined_by:
            name = defined_by[function.group(1)]
            problems.append(
                f"{script}:{number}: defines {function.group(1)} outside a marked {name} fragment"
            )
    return problems


def check(directory: Path = SCRIPTS) -> list[str]:
    """Every problem with the shared fragments of the scripts in `directory` (empty when none)."""
    sources = {path.name: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.lua"))}
    problems: list[str] = []
    by_name: dict[str, list[Fragment]] = {}
    for script, source in sources.items():
        found, wrong = fragments_of(script, source)
        problems += wrong
        for fragment in found:
            by_name.setdefault(fragment.name, []).append(fragment)
    defined_by: dict[str, str] = {}
    for name, copies in by_name.items():
        for line in copies[0].text.splitlines():
            if (function := FUNCTION.match(line)) is not None:
                defined_by[function.group(1)] = name
        if len(copies) == 1:
            problems.append(f"{copies[0].script}: fragment {name} is marked shared but appears only here")
        reference = copies[0]
        for other in copies[1:]:
            if other.text != reference.text:
                diff = difflib.unified_diff(
                    reference.text.splitlines(),
                    other.text.splitlines(),
                    f"{reference.script}:{reference.line}",
                    f"{other.script}:{other.line}",
                    lineterm="",
                )
                problems.append(
                    f"fragment {name} differs between {reference.script} and {other.script}:\n"
                    + "\n".join(diff)
                )
    for script, source in sources.items():
        problems += unmarked_copies(script, source, defined_by)
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    fragments = sum(
        len(fragments_of(path.name, path.read_text("utf-8"))[0]) for path in SCRIPTS.glob("*.lua")
    )
    print(f"shared Lua fragments: {fragments} copies, all identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
