"""Backends that run a `XyloSpec`: reference, exact (the torch model), xylosim, samna, null. Looked up by name."""

from __future__ import annotations

import importlib

from xylodeploy.backends.base import Backend, Recording, as_batch
from xylodeploy.errors import ConfigError

# name -> "module:factory"; modules are imported only when the backend is requested.
_BACKENDS: dict[str, str] = {
    "reference": "xylodeploy.backends.reference:ReferenceBackend",
    "exact": "xylodeploy.backends.exact:ExactBackend",
    "xylosim": "xylodeploy.backends.xylosim:XylosimBackend",
    "null": "xylodeploy.backends.null:NullBackend",
    "samna": "xylodeploy.backends.samna.backend:SamnaBackend",
}


def available_backends() -> list[str]:
    """Names accepted by `get_backend`."""
    return list(_BACKENDS)


def get_backend(name: str, **options: object) -> Backend:
    """Instantiate a backend by name (options go to its constructor)."""
    if name not in _BACKENDS:
        raise ConfigError(f"unknown backend '{name}': expected one of {', '.join(_BACKENDS)}")
    module_name, factory = _BACKENDS[name].split(":")
    module = importlib.import_module(module_name)
    return getattr(module, factory)(**options)


__all__ = ["Backend", "Recording", "as_batch", "available_backends", "get_backend"]
