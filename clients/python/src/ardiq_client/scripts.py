"""The Lua scripts of spec/scripts, loaded byte for byte (SPEC.md section 10).

An installed wheel carries them as package data in ``ardiq_client/lua``
(copied from spec/scripts at build time by hatch_build.py); an editable
checkout reads the repository's spec/scripts directly. There is no second
copy to drift.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


def _repository_scripts() -> Path:
    """spec/scripts of the repository, when this module runs from a checkout (clients/python/src)."""
    parents = Path(__file__).resolve().parents
    return parents[4] / "spec" / "scripts" if len(parents) > 4 else Path("spec") / "scripts"


@dataclass(frozen=True, slots=True)
class Script:
    """One Lua script and its SHA-1 (the EVALSHA handle)."""

    name: str
    source: bytes
    sha: str


def read_script(name: str) -> bytes:
    """The bytes of ``spec/scripts/<name>``, from package data or the checkout."""
    packaged = resources.files("ardiq_client").joinpath("lua", name)
    if packaged.is_file():
        return packaged.read_bytes()
    in_checkout = _repository_scripts() / name
    if in_checkout.is_file():
        return in_checkout.read_bytes()
    raise FileNotFoundError(
        f"Lua script {name!r} is neither packaged in ardiq_client/lua nor at {in_checkout}"
    )


def load_script(name: str) -> Script:
    """Loads a script and computes its SHA-1."""
    source = read_script(name)
    return Script(name, source, hashlib.sha1(source).hexdigest())


ENQUEUE = load_script("enqueue.lua")
STATUS = load_script("status.lua")
ABORT = load_script("abort.lua")
WAIT = load_script("wait.lua")
#: Spec 1.1, read-only: a queue at a glance, a page of held entries, a page of scheduled jobs.
INSPECT = load_script("inspect.lua")
HELD = load_script("held.lua")
SCHEDULED = load_script("scheduled.lua")
#: The scripts a producer runs.
PRODUCER = (ENQUEUE, STATUS, ABORT, WAIT, INSPECT, HELD, SCHEDULED)
