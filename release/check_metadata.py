"""Checks what a package index shows of each package: the same MIT LICENSE in every package,
the licence declared in every manifest, and no placeholder URL in any manifest or document.

    .venv/bin/python -m release.check_metadata
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Each package's folder (the `ardiq` package's is the root).
PACKAGES = ["", "spec", "clients/rust", "clients/python", "clients/typescript", "testing"]
# A host reserved for examples (RFC 2606 and 6761): a URL nobody can follow.
PLACEHOLDER = re.compile(
    r"https?://[^\s\"')>]*\b(example\.(com|org|net)|[a-z0-9-]+\.(invalid|example|test))\b"
)


def declared_licence(folder: Path) -> str:
    """The licence a package's manifest declares."""
    if (folder / "package.json").is_file():
        return str(json.loads((folder / "package.json").read_text())["license"])
    if (folder / "pyproject.toml").is_file():
        with (folder / "pyproject.toml").open("rb") as manifest:
            return str(tomllib.load(manifest)["project"]["license"])
    with (folder / "Cargo.toml").open("rb") as manifest:
        package = tomllib.load(manifest)["package"]
    if package.get("license") == {"workspace": True}:
        with (ROOT / "Cargo.toml").open("rb") as workspace:
            return str(tomllib.load(workspace)["workspace"]["package"]["license"])
    return str(package["license"])


def problems() -> list[str]:
    found = []
    licence = (ROOT / "LICENSE").read_bytes()
    if not licence.startswith(b"MIT License\n"):
        found.append("LICENSE is not the MIT licence")
    for name in PACKAGES:
        folder = ROOT / name
        copy = folder / "LICENSE"
        if not copy.is_file() or copy.read_bytes() != licence:
            found.append(f"{copy.relative_to(ROOT)} is missing or differs from LICENSE")
        declared = declared_licence(folder)
        if declared != "MIT":
            found.append(f"{name or '.'}: the manifest declares licence {declared!r}, not MIT")
    patterns = ["*.md", "*.toml", "*.json", "*.yml"]
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for path in tracked:
        if path.startswith("conformance/vectors/") or path.endswith("package-lock.json"):
            continue
        for number, line in enumerate((ROOT / path).read_text().splitlines(), 1):
            if match := PLACEHOLDER.search(line):
                found.append(f"{path}:{number}: placeholder URL {match.group(0)}")
    return found


def main() -> int:
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    if not found:
        print(f"LICENSE in each of {len(PACKAGES)} packages, MIT declared, no placeholder URL")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
