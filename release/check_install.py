"""Installs every artifact of `make dist` into a clean environment and runs one job end to end.

    .venv/bin/python -m release.check_install [--dist dist] [--full]

- the wheels of `ardiq` (with its `testing` extra), `ardiq-client` and
  `ardiq-testing` into a fresh venv (not editable), the sdists of the two
  pure-Python packages into another;
- the npm tarball into an empty npm project;
- the two `.crate` files, unpacked, into a scratch cargo project
  (`consumers/rust`) built with the workspace's Cargo.lock;
- then, against a throwaway Redis that the installed `ardiq-testing` starts,
  a worker run by the installed `ardiq` command takes add(2, 3) from each
  producer (the `ardiq` package, the pure-Python, TypeScript and Rust
  clients), and the installed pytest plugin runs a test.

Each artifact's contents are checked first: LICENSE in every one, the Lua
scripts byte for byte as spec/scripts in each crate and each Python client
artifact, dist/ in the npm tarball. `--full` also builds and installs the
`ardiq` sdist (a release build of the Rust core: several minutes); `make
test` runs without it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSUMERS = Path(__file__).resolve().parent / "consumers"
SCRIPTS = ROOT / "spec" / "scripts"
# Kept between runs, and shared with docs/check_samples.py, so scratch cargo projects build incrementally.
CARGO_TARGET = ROOT / "target" / "scratch"


class CheckFailed(Exception):
    """An artifact is missing, incomplete or does not work once installed."""


def version_of_workspace() -> str:
    with (ROOT / "Cargo.toml").open("rb") as manifest:
        return str(tomllib.load(manifest)["workspace"]["package"]["version"])


def version_of_pyproject(path: Path) -> str:
    """`__version__` of the module a hatch pyproject names as its version source."""
    with path.open("rb") as manifest:
        source = str(tomllib.load(manifest)["tool"]["hatch"]["version"]["path"])
    for line in (path.parent / source).read_text().splitlines():
        if line.startswith("__version__ = "):
            return line.split("=", 1)[1].strip().strip('"')
    raise CheckFailed(f"{source} has no __version__")


def run(command: Sequence[str | Path], **options: object) -> str:
    """Runs a command; its output is shown only when it fails."""
    done: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        [str(part) for part in command], capture_output=True, text=True, check=False, **options
    )
    if done.returncode != 0:
        raise CheckFailed(
            f"{' '.join(map(str, command))} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return str(done.stdout)


@contextmanager
def step(name: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    print(f"ok   {name} ({time.monotonic() - started:.1f} s)", flush=True)


class Artifacts:
    """The files `make dist` wrote, by what they are."""

    def __init__(self, dist: Path) -> None:
        ardiq = version_of_workspace()
        client = version_of_pyproject(ROOT / "clients" / "python" / "pyproject.toml")
        testing = version_of_pyproject(ROOT / "testing" / "pyproject.toml")
        npm = json.loads((ROOT / "clients" / "typescript" / "package.json").read_text())["version"]
        self.versions = {"ardiq": ardiq, "ardiq-client": client, "ardiq-testing": testing, "npm": npm}
        self.ardiq_wheel = self._one(dist, f"ardiq-{ardiq}-cp311-abi3-manylinux_*.whl")
        self.ardiq_sdist = self._one(dist, f"ardiq-{ardiq}.tar.gz")
        self.client_wheel = self._one(dist, f"ardiq_client-{client}-py3-none-any.whl")
        self.client_sdist = self._one(dist, f"ardiq_client-{client}.tar.gz")
        self.testing_wheel = self._one(dist, f"ardiq_testing-{testing}-py3-none-any.whl")
        self.testing_sdist = self._one(dist, f"ardiq_testing-{testing}.tar.gz")
        self.npm_tarball = self._one(dist, f"ardiq-client-{npm}.tgz")
        self.spec_crate = self._one(dist, f"ardiq-spec-{ardiq}.crate")
        self.client_crate = self._one(dist, f"ardiq-client-{ardiq}.crate")

    @staticmethod
    def _one(dist: Path, pattern: str) -> Path:
        found = sorted(dist.glob(pattern))
        if len(found) != 1:
            raise CheckFailed(f"expected one {pattern} in {dist}, found {[p.name for p in found]}")
        return found[0]


def archive_names(path: Path) -> dict[str, bytes]:
    """Every regular file of a wheel (zip) or a tarball, by its path inside."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as archive:
            return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    with tarfile.open(path) as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def expect_scripts(files: dict[str, bytes], folder: str, artifact: Path) -> None:
    """Every spec/scripts/*.lua is in `folder` of the artifact, byte for byte, and nothing else is."""
    packaged = {name.rsplit("/", 1)[1]: data for name, data in files.items() if name.startswith(folder)}
    expected = {script.name: script.read_bytes() for script in SCRIPTS.glob("*.lua")}
    packaged = {name: data for name, data in packaged.items() if name.endswith(".lua")}
    if packaged != expected:
        differ = sorted(
            set(packaged) ^ set(expected) | {n for n in expected if packaged.get(n) != expected[n]}
        )
        raise CheckFailed(f"{artifact.name}: {folder}*.lua differ from spec/scripts: {differ}")


def expect_file(files: dict[str, bytes], name: str, artifact: Path, content: bytes | None = None) -> None:
    if name not in files:
        raise CheckFailed(f"{artifact.name} has no {name}")
    if content is not None and files[name] != content:
        raise CheckFailed(f"{artifact.name}: {name} differs from the repository's")


def check_contents(artifacts: Artifacts) -> None:
    licence = (ROOT / "LICENSE").read_bytes()
    a = artifacts
    wheel = archive_names(a.ardiq_wheel)
    expect_file(wheel, f"ardiq-{a.versions['ardiq']}.dist-info/licenses/LICENSE", a.ardiq_wheel, licence)
    expect_file(wheel, "ardiq/py.typed", a.ardiq_wheel)
    sdist = archive_names(a.ardiq_sdist)
    expect_file(sdist, f"ardiq-{a.versions['ardiq']}/LICENSE", a.ardiq_sdist, licence)
    expect_scripts(sdist, f"ardiq-{a.versions['ardiq']}/spec/scripts/", a.ardiq_sdist)
    for wheel_path, package in ((a.client_wheel, "ardiq_client"), (a.testing_wheel, "ardiq_testing")):
        files = archive_names(wheel_path)
        version = a.versions[package.replace("_", "-")]
        expect_file(files, f"{package}-{version}.dist-info/licenses/LICENSE", wheel_path, licence)
        expect_file(files, f"{package}/py.typed", wheel_path)
    expect_scripts(archive_names(a.client_wheel), "ardiq_client/lua/", a.client_wheel)
    client_sdist = archive_names(a.client_sdist)
    expect_scripts(
        client_sdist, f"ardiq_client-{a.versions['ardiq-client']}/src/ardiq_client/lua/", a.client_sdist
    )
    for sdist_path, package in ((a.client_sdist, "ardiq_client"), (a.testing_sdist, "ardiq_testing")):
        version = a.versions[package.replace("_", "-")]
        expect_file(archive_names(sdist_path), f"{package}-{version}/LICENSE", sdist_path, licence)
    npm = archive_names(a.npm_tarball)
    for name in (
        "package/LICENSE",
        "package/dist/index.js",
        "package/dist/index.d.ts",
        "package/package.json",
    ):
        expect_file(npm, name, a.npm_tarball, licence if name.endswith("LICENSE") else None)
    for crate in (a.spec_crate, a.client_crate):
        files = archive_names(crate)
        top = crate.name.removesuffix(".crate")
        expect_file(files, f"{top}/LICENSE", crate, licence)
    expect_scripts(
        archive_names(a.spec_crate), f"{a.spec_crate.name.removesuffix('.crate')}/scripts/", a.spec_crate
    )


def constraints() -> list[str]:
    """pip options that keep a fresh venv on the pinned versions of requirements-dev.txt."""
    return ["--constraint", str(ROOT / "requirements-dev.txt")]


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
    return path / "bin"


def install_wheels(work: Path, a: Artifacts) -> Path:
    bin_dir = fresh_venv(work / "venv-wheels")
    run([bin_dir / "pip", "install", "--quiet", *constraints(),
         f"ardiq[testing] @ {a.ardiq_wheel.as_uri()}", a.client_wheel, a.testing_wheel,
         "pytest-asyncio"])  # fmt: skip
    expect_output([bin_dir / "ardiq", "--version"], f"ardiq {a.versions['ardiq']}\n")
    modules = ["ardiq", "ardiq_client", "ardiq_testing", "ardiq._core"]
    files = ", ".join(f"{module}.__file__" for module in modules)
    where = run([bin_dir / "python", "-c", f"import {', '.join(modules)}; print({files})"], cwd=work)
    outside = [path for path in where.split() if not path.startswith(str(work / "venv-wheels"))]
    if outside:
        raise CheckFailed(f"modules imported from outside the fresh venv: {outside}")
    return bin_dir


def install_sdists(work: Path, a: Artifacts, *, full: bool) -> None:
    bin_dir = fresh_venv(work / "venv-sdists")
    sdists = [a.client_sdist, a.testing_sdist, *([a.ardiq_sdist] if full else [])]
    env = {**os.environ, "PIP_CONSTRAINT": str(ROOT / "requirements-dev.txt")}
    run([bin_dir / "pip", "install", "--quiet", *sdists], env=env)
    expect_output(
        [bin_dir / "python", "-c", "import ardiq_client, ardiq_testing; from ardiq_client import scripts;"
         "print(ardiq_client.__version__, ardiq_testing.__version__, scripts.ENQUEUE.sha)"],
        f"{a.versions['ardiq-client']} {a.versions['ardiq-testing']} {enqueue_sha()}\n",
        cwd=work,
    )  # fmt: skip
    if full:
        expect_output([bin_dir / "ardiq", "--version"], f"ardiq {a.versions['ardiq']}\n")


def enqueue_sha() -> str:
    return hashlib.sha1((SCRIPTS / "enqueue.lua").read_bytes()).hexdigest()


def expect_output(command: Sequence[str | Path], expected: str, **options: object) -> None:
    output = run(command, **options)
    if output != expected:
        raise CheckFailed(f"{' '.join(map(str, command))} printed {output!r}, expected {expected!r}")


def install_npm(work: Path, a: Artifacts) -> Path:
    project = work / "npm-project"
    project.mkdir()
    (project / "package.json").write_text('{"name": "release-check", "private": true, "type": "module"}\n')
    run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", a.npm_tarball],
        cwd=project)  # fmt: skip
    shutil.copy(CONSUMERS / "producer.mjs", project / "producer.mjs")
    return project


def install_crates(work: Path, a: Artifacts) -> Path:
    crates = work / "crates"
    crates.mkdir()
    for crate in (a.spec_crate, a.client_crate):
        with tarfile.open(crate) as archive:
            archive.extractall(crates, filter="data")
    # A .crate's files all carry one fixed old time, and cargo takes a path dependency whose files
    # are older than its last build in the shared target as built: dated now, they are rebuilt.
    for path in crates.rglob("*"):
        os.utime(path)
    project = work / "cargo-project"
    shutil.copytree(CONSUMERS / "rust", project)
    manifest = project / "Cargo.toml"
    manifest.write_text(
        manifest.read_text().replace("@VERSION@", a.versions["ardiq"]).replace("@CRATES@", str(crates))
    )
    # The workspace's lock, so the scratch project builds the dependency versions the tests ran with.
    shutil.copy(ROOT / "Cargo.lock", project / "Cargo.lock")
    run(["cargo", "build", "--quiet"], cwd=project, env={**os.environ, "CARGO_TARGET_DIR": str(CARGO_TARGET)})
    return CARGO_TARGET / "debug" / "release-check"


def run_jobs(work: Path, bin_dir: Path, npm_project: Path, rust_binary: Path, a: Artifacts) -> None:
    """One worker from the wheel; add(2, 3) from every producer; the plugin's test."""
    app_dir = work / "app"
    shutil.copytree(CONSUMERS, app_dir, ignore=shutil.ignore_patterns("rust", "producer.mjs", "__pycache__"))
    scenario = work / "scenario.sh"
    scenario.write_text(
        "set -euo pipefail\n"
        'export ARDIQ_REDIS_URL="$REDIS_URL"\n'
        f"cd {app_dir}\n"
        f"{bin_dir / 'ardiq'} run tasks:app --grace 5 >worker.log 2>&1 &\n"
        "worker=$!\n"
        f"{bin_dir / 'python'} producer.py\n"
        f"(cd {npm_project} && node producer.mjs)\n"
        f"{rust_binary}\n"
        'kill -TERM "$worker"\n'
        'wait "$worker" || { cat worker.log >&2; exit 1; }\n'
        f"{bin_dir / 'python'} -m pytest -q -p no:cacheprovider test_plugin.py >&2\n"
    )  # fmt: skip
    output = run([bin_dir / "python", "-m", "ardiq_testing.redis", "--", "bash", scenario], cwd=work)
    expected = [
        f"ardiq {a.versions['ardiq']} 5",
        f"ardiq-client {a.versions['ardiq-client']} 5",
        f"ardiq-client-npm {a.versions['npm']} 5",
        f"ardiq-client-crate {a.versions['ardiq']} 5",
    ]
    if output.splitlines() != expected:
        raise CheckFailed(f"the producers printed {output.splitlines()}, expected {expected}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m release.check_install", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "target" / "release-check" / "work")
    parser.add_argument("--full", action="store_true", help="also build and install the ardiq sdist")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        artifacts = Artifacts(args.dist.resolve())
        with step("every artifact holds its LICENSE, scripts and build output"):
            check_contents(artifacts)
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        work = args.work.resolve()
        with step("the wheels in a fresh venv; `ardiq --version`"):
            bin_dir = install_wheels(work, artifacts)
        with step(
            "the pure-Python sdists in a fresh venv" + (" and the ardiq sdist built" if args.full else "")
        ):
            install_sdists(work, artifacts, full=args.full)
        with step("the npm tarball in an empty npm project"):
            npm_project = install_npm(work, artifacts)
        with step("the crates in a scratch cargo project"):
            rust_binary = install_crates(work, artifacts)
        with step("a job from each producer through the installed worker; the installed pytest plugin"):
            run_jobs(work, bin_dir, npm_project, rust_binary, artifacts)
    except CheckFailed as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        return 1
    print(f"every artifact installs and works ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
