"""The import rules of docs/architecture.md hold in the code (static: module-level and lazy imports alike)."""

from __future__ import annotations

import ast
from pathlib import Path

import xylodeploy

ROOT = Path(xylodeploy.__file__).parent
BASE = {"errors"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(), "chips": BASE, "io": BASE, "readout": BASE, "_optional": BASE,
    "ir": {"errors", "io", "(root)"},
    "arith": {"chips", "errors", "ir"},
    "drc": {"arith", "chips", "errors", "ir"},
    "quantize": {"chips", "errors", "ir"},
    "mapping": {"chips", "drc", "errors", "ir", "quantize"},
    "models": {"arith", "chips", "drc", "errors", "ir"},
    "backends": {"arith", "chips", "drc", "errors", "io", "ir", "models", "_optional"},
    "extract": {"errors", "ir", "models"},
    "frontends": {"chips", "errors", "io", "ir"},
    "data": {"chips", "errors", "frontends", "io"},
    "train": {"chips", "data", "errors", "frontends", "io", "ir", "models", "readout", "(root)"},
    "interop": {"arith", "backends", "chips", "errors", "io", "ir", "mapping", "models", "quantize", "_optional"},
    "baselines": {"chips", "errors", "interop", "ir"},
    "power": {"backends", "chips", "io", "ir", "errors"},
    "flow": {"(root)", "_optional", "backends", "chips", "drc", "errors", "extract", "frontends", "io", "ir",
             "mapping", "power", "quantize", "readout", "scale", "train"},
    "scale": {"_optional", "backends", "chips", "errors", "flow", "io", "ir", "power", "readout", "train"},
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


def test_every_package_has_a_rule() -> None:
    units = {_unit(".".join(("xylodeploy", *p.relative_to(ROOT).with_suffix("").parts))) for p in ROOT.rglob("*.py")}
    assert units - set(ALLOWED) <= {"(root)", "__init__", "__main__", "cli"}, sorted(units - set(ALLOWED))


def test_models_do_not_depend_on_backends() -> None:
    assert "backends" not in _imports().get("models", set())


def test_validate_compares_stages_without_building_them() -> None:
    """`flow.validate` runs stages through backends only: it never quantizes, maps or trains."""
    tree = ast.parse((ROOT / "flow" / "validate.py").read_text())
    used = {_unit(n.module) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    used = {u for u in used if u != "(root)"} | {
        _unit(a.name) for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if "." in a.name
    }
    assert used & {"quantize", "mapping", "train", "extract"} == set(), sorted(used)
