"""The importer registry: framework name -> its ``from_<framework>`` function.

Every importer returns ``(NetworkGraph, ImportReport)`` with the extraction included. A new framework is a new
module ``xylodeploy/interop/<framework>.py`` with ``from_<framework>`` plus one line in `IMPORTERS`; the CLI
(``xylodeploy import --from NAME``) offers every entry. Modules are imported only when an importer is used, so
this registry imports no framework.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xylodeploy.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class Importer:
    """Where ``from_<framework>`` lives, what MODEL names for it and which options it takes."""

    module: str  # module holding the importer (imported lazily)
    function: str  # ``from_<framework>``
    reads: str = "torch"  # "torch": a torch module (FILE.py:NAME or torch.save'd); else the file kind it reads
    options: tuple[str, ...] = ()  # keyword options it accepts (passed through when not None)
    runner: str | None = None  # ``run_<framework>(model, x)``: the source's own forward pass, (B, T, n) readout


IMPORTERS: dict[str, Importer] = {
    "snntorch": Importer(module="xylodeploy.interop.snntorch", function="from_snntorch", options=("n_inputs", "dt"),
                         runner="run_snntorch"),
    "spikingjelly": Importer(module="xylodeploy.interop.spikingjelly", function="from_spikingjelly",
                             options=("n_inputs", "dt"), runner="run_spikingjelly"),
    "rockpool": Importer(module="xylodeploy.interop.rockpool", function="from_rockpool", runner="run_rockpool"),
    "nir": Importer(module="xylodeploy.interop.nir", function="from_nir", reads="NIR file",
                    options=("dt", "discretization", "producer")),
}  # fmt: skip


def get_importer(name: str) -> Callable[..., tuple[Any, Any]]:
    """The ``from_<name>`` function (imports its module, not yet the framework)."""
    if name not in IMPORTERS:
        raise ConfigError(f"unknown framework '{name}': expected one of {', '.join(IMPORTERS)}")
    entry = IMPORTERS[name]
    return getattr(importlib.import_module(entry.module), entry.function)


def get_runner(name: str) -> Callable[..., Any] | None:
    """``run_<name>(model, x)``, the framework's own forward pass over ``x`` ``(B, T, C)``, or None."""
    entry = IMPORTERS.get(name)
    if entry is None or entry.runner is None:
        return None
    return getattr(importlib.import_module(entry.module), entry.runner)


def import_from(name: str, model: Any, **options: Any) -> tuple[Any, Any]:
    """``from_<name>(model, **options)``, passing the options that importer takes and that are not None
    (the others are the importer's business to refuse: the CLI checks them against `Importer.options`)."""
    importer = get_importer(name)
    taken = {k: v for k, v in options.items() if v is not None and k in IMPORTERS[name].options}
    return importer(model, **taken)
