"""The layers of docs/design.md, read from the source: data flows one way, with no import circle
(imports inside functions count: they would hide one)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted((SRC / "rodata").rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules that `name` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            # The package itself and a module's own packages are initialized before it in any case:
            # an edge to them is no dependency.
            if target and target != name and target != "rodata" and not name.startswith(target + "."):
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> str:
    if name.startswith("rodata._core"):
        return "core"
    if name.startswith("rodata.etl"):
        return "etl"
    if name.startswith("rodata.server"):
        return "server"
    return "library"


def test_the_graph_is_read_from_real_modules() -> None:
    # The checks below would pass on an empty graph: make sure it is the package's.
    assert {"rodata.dataset", "rodata.store", "rodata.etl.build", "rodata.server.app"} <= set(GRAPH)
    assert "rodata.store" in GRAPH["rodata.dataset"]
    assert "rodata.frames" in GRAPH["rodata.batch"]  # `from rodata import frames` is an edge to the module


def test_no_import_circle() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                circle = [*stack[stack.index(nxt):], nxt]
                pytest.fail("import circle: " + " -> ".join(circle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_the_core_imports_nothing_above_it() -> None:
    for name, deps in GRAPH.items():
        if _layer(name) == "core":
            assert deps <= {"rodata.errors"} | {d for d in deps if _layer(d) == "core"}, name


def test_the_library_imports_neither_the_etl_nor_the_server() -> None:
    # The package's lazy `rodata.build` and the command line are the two doors up, by design.
    doors = {"rodata", "rodata.cli"}
    for name, deps in GRAPH.items():
        if _layer(name) == "library" and name not in doors:
            above = sorted(d for d in deps if _layer(d) in ("etl", "server"))
            assert not above, f"{name} imports {above}"


def test_the_server_does_not_import_the_etl_except_the_demo() -> None:
    for name, deps in GRAPH.items():
        if _layer(name) == "server" and name not in ("rodata.server.demo", "rodata.server.commands"):
            etl = sorted(d for d in deps if _layer(d) == "etl")
            assert not etl, f"{name} imports {etl}"
