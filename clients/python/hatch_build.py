"""Build hook: ships spec/scripts/*.lua as ardiq_client/lua package data.

The scripts live only in the repository's spec/scripts. Building from a
checkout copies them in; building a wheel from an sdist finds them already
inside src/ardiq_client/lua, where the sdist put them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class SpecScriptsHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the spec's Lua scripts to the build."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        scripts = Path(self.root).resolve().parent.parent / "spec" / "scripts"
        if not scripts.is_dir():
            return
        target = "ardiq_client/lua" if self.target_name == "wheel" else "src/ardiq_client/lua"
        for script in sorted(scripts.glob("*.lua")):
            build_data["force_include"][str(script)] = f"{target}/{script.name}"
