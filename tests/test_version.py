"""`ardiq --version` and `ardiq.__version__`: the workspace version of Cargo.toml, the one source."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import ardiq

WORKSPACE = Path(__file__).resolve().parents[1] / "Cargo.toml"


def workspace_version() -> str:
    with WORKSPACE.open("rb") as manifest:
        return str(tomllib.load(manifest)["workspace"]["package"]["version"])


def test_version_option_prints_the_version_and_exits_zero() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ardiq", "--version"], capture_output=True, text=True, check=False, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"ardiq {workspace_version()}\n"


def test_package_version_is_the_workspace_version() -> None:
    assert ardiq.__version__ == version("ardiq") == workspace_version()
