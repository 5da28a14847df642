"""Tell a real samna from the PyPI downloader stub, without importing it.

The ``samna`` package on PyPI is a stub: importing it runs ``pip install`` against SynSense's
package index and reloads itself (docs/chip-facts.md, board interface). The real samna, distributed by SynSense,
ships a compiled extension module. `samna_status` looks only at files (import spec, package
directory, installed distribution record); `import_real_samna` imports samna only when those
files show a real build. Nothing else in xylodeploy may import samna.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

from xylodeploy.errors import MissingDependencyError

SamnaState = Literal["real", "stub", "missing"]

INSTALL_HINT = (
    "install the real samna from SynSense (see https://synsense-sys-int.gitlab.io/samna/; "
    "'pip uninstall samna' first if the PyPI stub is installed)"
)
_STUB_MARKERS = ("PYPI_SAMNA", "install_real_samna")
_MAX_FILES = 5000  # bound the directory walk of an unexpected, huge package


@dataclass(frozen=True)
class SamnaStatus:
    """What is installed under the name ``samna``."""

    state: SamnaState  # "real": compiled samna; "stub": PyPI downloader stub (or no binary); "missing"
    version: str | None  # distribution version, if any
    detail: str  # one line: where it was found and why this state


class SamnaUnavailableError(MissingDependencyError):
    """samna is missing or is the PyPI stub; the message says how to get the real one."""

    def __init__(self, status: SamnaStatus, purpose: str = "") -> None:
        self.package = "samna"
        self.extra = "samna"
        self.status = status
        why = f" (needed for {purpose})" if purpose else ""
        ImportError.__init__(self, f"no usable samna ({status.state}){why}: {status.detail}; {INSTALL_HINT}")


def _is_extension(name: str) -> bool:
    return name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) or name.endswith((".so", ".pyd"))


def _package_files(locations: list[str]) -> list[Path]:
    files: list[Path] = []
    for loc in locations:
        for root, _dirs, names in os.walk(loc):
            files += [Path(root) / n for n in names]
            if len(files) > _MAX_FILES:
                return files
    return files


def _dist_version() -> tuple[str | None, list[str]]:
    try:
        dist = importlib.metadata.distribution("samna")
    except importlib.metadata.PackageNotFoundError:
        return None, []
    return dist.version, [str(f) for f in (dist.files or [])]


def _find_spec() -> importlib.machinery.ModuleSpec | None:
    module = sys.modules.get("samna")
    if module is not None:
        return getattr(module, "__spec__", None)
    try:
        return importlib.util.find_spec("samna")  # top-level name: locates, never executes
    except (ImportError, ValueError):
        return None


def samna_status() -> SamnaStatus:
    """Classify the installed ``samna`` as real, stub or missing, without importing it."""
    version, dist_files = _dist_version()
    spec = _find_spec()
    if spec is None:
        where = f" (distribution {version} is recorded but no importable module)" if version else ""
        return SamnaStatus("missing", version, f"no module named 'samna'{where}")
    origin = spec.origin if spec.origin not in (None, "namespace") else None
    locations = list(spec.submodule_search_locations or [])
    files = _package_files(locations) if locations else ([Path(origin)] if origin else [])
    where = locations[0] if locations else (origin or "?")
    if any(_is_extension(f.name) for f in files) or any(_is_extension(f) for f in dist_files):
        return SamnaStatus("real", version, f"compiled samna found at {where}")
    init = Path(origin) if origin else None
    text = init.read_text(errors="replace") if init and init.is_file() and init.stat().st_size < 1_000_000 else ""
    if any(m in text for m in _STUB_MARKERS):
        why = "the PyPI downloader stub (PYPI_SAMNA marker, no compiled extension)"
    else:
        why = "pure Python, no compiled extension: not a usable samna build"
    return SamnaStatus("stub", version, f"samna at {where} is {why}")


def import_real_samna(purpose: str = "talking to a Xylo board") -> ModuleType:
    """Import and return samna if it is a real build; else raise `SamnaUnavailableError`."""
    status = samna_status()
    if status.state != "real":
        raise SamnaUnavailableError(status, purpose)
    return importlib.import_module("samna")


__all__ = ["INSTALL_HINT", "SamnaStatus", "SamnaUnavailableError", "import_real_samna", "samna_status"]
