"""Layering rules read from the source (import statements, not behaviour): evals never imports visualization,
and no module imports an entry module (a file with ``if __name__ == "__main__"``) as a library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "models", "submodular_attribution", "local_attribution", "baseline_attribution", "evals",
            "visualization", "scripts")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import statement of ``path`` (``from a.b import c`` gives a.b and a.b.c)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


SOURCES = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
ENTRY_MODULES = {name for name, p in SOURCES.items() if '__name__ == "__main__"' in p.read_text(encoding="utf-8")}


# No known exceptions: every import of an entry module is an error.
KNOWN: dict[str, set[str]] = {}


def allowed(importer: str, imported: str) -> bool:
    return imported in KNOWN.get(importer, set())


def test_the_rules_see_the_entry_modules():
    """The scan finds the known entry modules (so the rules below check something)."""
    assert {"evals.report", "local_attribution.generate_attributions", "visualization.la_figures",
            "scripts.benchmark_la"} <= ENTRY_MODULES


@pytest.mark.parametrize("name", sorted(n for n in SOURCES if n.startswith("evals")))
def test_evals_never_imports_visualization(name):
    assert not [m for m in imported_modules(SOURCES[name]) if m.split(".")[0] == "visualization"]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_module_imports_an_entry_module(name):
    entry = sorted(m for m in imported_modules(SOURCES[name])
                   if m in ENTRY_MODULES and m != name and not allowed(name, m))
    assert not entry, f"{name} imports the entry module(s) {entry}; move the shared code into a library module"
