"""`script_fragments`: the shared Lua fragments of spec/scripts are identical, and a change to
one copy, an unmarked copy or a broken marker is reported by script name."""

from __future__ import annotations

from pathlib import Path

from conformance import script_fragments

HELPER = "-- shared:begin helper\nlocal function helper(x)\n  return x\nend\n-- shared:end helper\n"


def scripts(directory: Path, **sources: str) -> Path:
    for name, source in sources.items():
        (directory / f"{name}.lua").write_text(source, encoding="utf-8")
    return directory


def test_the_spec_scripts_share_identical_fragments() -> None:
    assert script_fragments.check() == []


def test_identical_copies_pass(tmp_path: Path) -> None:
    assert script_fragments.check(scripts(tmp_path, a=HELPER + "return 1\n", b="-- b\n" + HELPER)) == []


def test_a_copy_that_differs_is_reported_with_both_scripts(tmp_path: Path) -> None:
    changed = HELPER.replace("return x", "return x + 1")
    problems = script_fragments.check(scripts(tmp_path, a=HELPER, b=changed))
    assert len(problems) == 1
    assert problems[0].startswith("fragment helper differs between a.lua and b.lua")
    assert "+  return x + 1" in problems[0]


def test_a_helper_defined_outside_the_markers_is_reported(tmp_path: Path) -> None:
    unmarked = "local function helper(x)\n  return x\nend\n"
    problems = script_fragments.check(scripts(tmp_path, a=HELPER, b=HELPER, c=unmarked))
    assert problems == ["c.lua:1: defines helper outside a marked helper fragment"]


def test_a_begin_without_its_end_is_reported(tmp_path: Path) -> None:
    problems = script_fragments.check(
        scripts(tmp_path, a=HELPER, b=HELPER.replace("-- shared:end helper\n", ""))
    )
    assert "b.lua: begin helper (line 1) has no end" in problems


def test_a_fragment_in_one_script_only_is_reported(tmp_path: Path) -> None:
    problems = script_fragments.check(scripts(tmp_path, a=HELPER))
    assert problems == ["a.lua: fragment helper is marked shared but appears only here"]
