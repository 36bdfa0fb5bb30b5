"""The documents cite only files that exist, and docs/design.md names every module of the package."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CITED = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)\b")
_SOURCES = ("src", "docs", "tests", "benchmarks", "fuzz", "deploy")
_SUFFIXES = {".py", ".pyx", ".pxd", ".pyi", ".h", ".md", ".yaml", ".toml"}


def _texts() -> list[Path]:
    paths = [ROOT / "README.md"]
    for top in _SOURCES:
        paths += [p for p in (ROOT / top).rglob("*") if p.suffix in _SUFFIXES and p.is_file()]
    return paths


def _exists(citing: Path, cited: str) -> bool:
    return any((base / cited).is_file() for base in (citing.parent, ROOT, ROOT / "docs"))


def test_every_cited_document_exists() -> None:
    missing = []
    checked = 0
    for path in _texts():
        for cited in set(_CITED.findall(path.read_text(encoding="utf-8", errors="replace"))):
            checked += 1
            if not _exists(path, cited):
                missing.append(f"{path.relative_to(ROOT)} cites {cited}")
    assert checked > 20  # the scan reads the real documents
    assert not missing, "\n".join(sorted(missing))


def _package_modules() -> set[str]:
    src = ROOT / "src"
    names = set()
    for path in (src / "rodata").rglob("*"):
        if path.suffix == ".py" and path.name not in ("__init__.py", "__main__.py"):
            names.add(".".join(path.relative_to(src).with_suffix("").parts))
        elif path.suffix == ".pyx" and "_core" in path.parts:
            names.add(path.name)
    return names


def test_design_names_every_module_and_only_modules_that_exist() -> None:
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    modules = _package_modules()
    python_modules = {m for m in modules if m.startswith("rodata.")}
    assert len(python_modules) > 40
    unnamed = sorted(m for m in python_modules if not re.search(rf"`{re.escape(m)}[.`(]", design))
    assert not unnamed, f"docs/design.md does not say where these live: {unnamed}"
    named = set(re.findall(r"`(rodata(?:\.\w+)+)", design))
    packages = {".".join(m.split(".")[:i]) for m in python_modules for i in range(2, m.count(".") + 2)}
    stale = sorted(n for n in named
                   if n not in python_modules and n not in packages and not _attribute_of(n, python_modules))
    assert not stale, f"docs/design.md names modules that do not exist: {stale}"


def _attribute_of(name: str, modules: set[str]) -> bool:
    # `rodata.schema.Column` or `rodata._core.TYPE_TABLE`: an attribute of an existing module or package
    owner = name.rpartition(".")[0]
    return owner in modules or owner in {"rodata", "rodata._core", "rodata.etl", "rodata.server"}
