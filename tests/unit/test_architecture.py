"""The import rules of docs/architecture.md hold in the code (static: module-level and lazy imports alike)."""

from __future__ import annotations

import ast
from pathlib import Path

import xylodeploy

ROOT = Path(xylodeploy.__file__).parent
BASE = {"errors"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(), "chips": BASE, "counts": BASE, "fileio": BASE, "readout": BASE, "_optional": BASE,
    "ir": {"errors", "fileio", "(root)"},
    "arith": {"chips", "errors", "ir"},
    "drc": {"arith", "chips", "errors", "ir"},
    "quantize": {"chips", "errors", "ir"},
    "mapping": {"chips", "drc", "errors", "ir", "quantize"},
    "models": {"arith", "chips", "drc", "errors", "ir"},
    "backends": {"arith", "chips", "counts", "drc", "errors", "ir", "models", "_optional"},
    "extract": {"errors", "ir", "models"},
    "frontends": {"chips", "errors", "fileio", "ir"},
    "train": {"chips", "counts", "frontends", "errors", "fileio", "ir", "models", "rasters", "readout", "(root)"},
    "rasters": {"counts", "errors", "fileio"},
    "interop": {"arith", "backends", "chips", "errors", "fileio", "ir", "mapping", "models", "quantize", "_optional"},
    "power": {"backends", "chips", "fileio", "ir", "errors"},
    "validate": {"backends", "errors", "ir", "readout"},
    "scale": {"_optional", "backends", "chips", "errors", "fileio", "ir", "pipeline", "power", "readout", "train"},
}  # fmt: skip


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def _imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        unit = _unit(".".join(("xylodeploy", *path.relative_to(ROOT).with_suffix("").parts)))
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("xylodeploy") and _unit(name) != unit:
                    found.setdefault(unit, set()).add(_unit(name))
    return found


def test_each_package_imports_only_what_the_architecture_allows() -> None:
    imports = _imports()
    for unit, allowed in ALLOWED.items():
        extra = imports.get(unit, set()) - allowed
        assert not extra, f"xylodeploy.{unit} imports {sorted(extra)} (docs/architecture.md allows {sorted(allowed)})"


def test_models_do_not_depend_on_backends() -> None:
    assert "backends" not in _imports().get("models", set())
