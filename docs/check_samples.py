"""Type-checks every code sample of the documentation (`make docs` runs it).

    .venv/bin/python docs/check_samples.py

Each fenced block of `docs/**/*.md` in Python, TypeScript or Rust becomes a
file of its own, so every sample is complete and can be copied as it is:

- ```` ```python ````: mypy --strict, one run per page; top-level `await` is
  allowed (samples show calls from async code). A block whose first line is
  `# NAME.py` is written as NAME.py, so the page's other blocks can import it;
- ```` ```ts ````: tsc --strict against the built TypeScript client
  (`ardiq-client` resolves to clients/typescript/dist);
- ```` ```rust ````: built as an example of a scratch crate that depends on
  clients/rust (each block has its `main`); a warning fails it too.

Blocks in other languages (shell, TOML, text) are shown, not checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
WORK = ROOT / "target" / "docs-samples"
TS = ROOT / "clients" / "typescript"
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILE_NAME = re.compile(r"# (\w+\.py)\n")


@dataclass(frozen=True)
class Sample:
    page: Path
    number: int
    language: str
    code: str

    @property
    def slug(self) -> str:
        return "_".join(self.page.relative_to(DOCS).with_suffix("").parts).replace("-", "_")


def samples() -> list[Sample]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        for number, match in enumerate(FENCE.finditer(page.read_text()), 1):
            found.append(Sample(page, number, match.group(1), match.group(2)))
    return found


def check_python(pages: dict[Path, list[Sample]]) -> list[str]:
    failures = []
    for page, blocks in pages.items():
        folder = WORK / "python" / blocks[0].slug
        folder.mkdir(parents=True)
        for block in blocks:
            named = FILE_NAME.match(block.code)
            name = named.group(1) if named else f"sample_{block.number}.py"
            (folder / name).write_text(block.code)
        done = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--disable-error-code", "top-level-await",
             "--cache-dir", str(WORK / "mypy-cache"), "--no-error-summary", "."],
            cwd=folder, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            failures.append(f"{page.relative_to(ROOT)} (python, in {folder}):\n{done.stdout}{done.stderr}")
    return failures


def check_typescript(blocks: list[Sample]) -> list[str]:
    folder = WORK / "typescript"
    folder.mkdir(parents=True)
    for block in blocks:
        (folder / f"{block.slug}_{block.number}.ts").write_text(block.code)
    # ES modules (top-level await), the client's build as "ardiq-client", Node's types from its modules.
    (folder / "package.json").write_text('{"type": "module"}\n')
    config = {
        "compilerOptions": {
            "strict": True, "noEmit": True, "target": "ES2022", "lib": ["ES2024"],
            "module": "NodeNext", "moduleResolution": "NodeNext", "skipLibCheck": True,
            "types": ["node"], "typeRoots": [str(TS / "node_modules" / "@types")],
            "paths": {"ardiq-client": [str(TS / "dist" / "index.d.ts")]},
        },
        "include": ["*.ts"],
    }  # fmt: skip
    (folder / "tsconfig.json").write_text(json.dumps(config, indent=2))
    done = subprocess.run(
        [str(TS / "node_modules" / ".bin" / "tsc"), "-p", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    return [f"typescript samples (in {folder}):\n{done.stdout}{done.stderr}"] if done.returncode else []


def check_rust(blocks: list[Sample]) -> list[str]:
    folder = WORK / "rust"
    (folder / "examples").mkdir(parents=True)
    for block in blocks:
        (folder / "examples" / f"{block.slug}_{block.number}.rs").write_text(block.code)
    (folder / "src").mkdir()
    (folder / "src" / "lib.rs").write_text("//! The documentation's Rust samples, as examples.\n")
    (folder / "Cargo.toml").write_text(
        '[package]\nname = "docs-samples"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
        f'[dependencies]\nardiq-client = {{ path = "{ROOT / "clients" / "rust"}" }}\n'
        'tokio = { version = "1", features = ["macros", "rt-multi-thread"] }\n\n[workspace]\n'
    )  # fmt: skip
    shutil.copy(ROOT / "Cargo.lock", folder / "Cargo.lock")
    # The target folder and dependencies of release.check_install's scratch project: built once for both.
    done = subprocess.run(
        ["cargo", "build", "--quiet", "--examples"],
        cwd=folder, capture_output=True, text=True, check=False,
        env={**os.environ, "CARGO_TARGET_DIR": str(ROOT / "target" / "scratch")},
    )  # fmt: skip
    if done.returncode or "warning" in done.stderr:
        return [f"rust samples (in {folder}):\n{done.stdout}{done.stderr}"]
    return []


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    found = samples()
    python: dict[Path, list[Sample]] = {}
    for sample in found:
        if sample.language == "python":
            python.setdefault(sample.page, []).append(sample)
    failures = check_python(python)
    failures += check_typescript([s for s in found if s.language == "ts"])
    failures += check_rust([s for s in found if s.language == "rust"])
    for failure in failures:
        print(failure, file=sys.stderr)
    counts = {language: sum(s.language == language for s in found) for language in ("python", "ts", "rust")}
    if failures:
        return 1
    print(
        f"every sample type-checks: {counts['python']} Python, {counts['ts']} TypeScript,"
        f" {counts['rust']} Rust"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
