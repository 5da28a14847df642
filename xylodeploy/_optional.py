"""The one helper through which optional dependencies are imported."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from xylodeploy.errors import MissingDependencyError


def is_available(module: str) -> bool:
    """True if ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, extra: str, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise ``MissingDependencyError`` naming the pip extra.

    Never use this for ``samna``: the PyPI package is a downloader stub, see
    ``xylodeploy.backends.samna.detect``.
    """
    if module.split(".")[0] == "samna":
        raise ValueError("import samna through xylodeploy.backends.samna.detect only")
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra, purpose) from exc
