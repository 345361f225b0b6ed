"""The `ardiq` package's modules import each other without a circle (type-
only imports included), so each can be read, tested and changed alone."""

from __future__ import annotations

import ast
from pathlib import Path

import ardiq

PACKAGE = Path(ardiq.__file__).resolve().parent


def imports_of(path: Path) -> set[str]:
    """The `ardiq.*` modules a module imports, at any level of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ardiq"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("ardiq"))
    return found


def graph() -> dict[str, set[str]]:
    modules = {f"ardiq.{path.stem}": path for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    return {name: imports_of(path) & set(modules) - {name} for name, path in modules.items()}


def test_the_package_has_no_import_circle() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        for imported in edges[module]:
            visit(imported, [*path, module])
        done.add(module)

    for module in edges:
        visit(module, [])
    assert {"ardiq.app", "ardiq.task", "ardiq.job", "ardiq.worker"} <= set(edges)


def test_the_worker_does_not_import_the_app() -> None:
    assert "ardiq.app" not in graph()["ardiq.worker"]
