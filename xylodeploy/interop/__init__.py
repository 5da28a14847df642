"""Interoperability with other SNN frameworks and formats (every framework is an optional dependency).

Importers have one name and one result: ``from_<framework>(model, ...) -> (NetworkGraph, ImportReport)``, the
extraction included; the report lists each exact rewrite and each approximation. `IMPORTERS`
(`xylodeploy.interop.registry`) maps a framework name to its importer (what ``xylodeploy import --from``
offers); each framework is imported lazily, only inside its own module::

    from xylodeploy.interop import from_snntorch, from_spikingjelly, from_rockpool, from_nir
    graph, report = from_snntorch(model, dt=1e-3)              # extra: snntorch
    graph, report = import_from("nir", "net.nir", dt=1e-3)     # by registry name
    from xylodeploy.interop.nir import to_nir                  # extra: nir
    from xylodeploy.interop.onnx import export_onnx, run_steps # extra: onnx

`save_graph` / `load_graph` store a `NetworkGraph` (``.npz`` + JSON metadata, schema version 1);
`graph_to_spec` quantizes and maps one for a chip; `simulate_graph` runs its float dynamics.
`xylodeploy.interop.agreement` compares an imported graph with its chip spec layer by layer and names the
causes of any loss (what ``xylodeploy import --chip`` prints)::

    mode = agreement.readout_mode_of(graph, report)   # "vmem" for membrane readouts
    spec, qgraph = agreement.quantize_for_chip(graph, "xylo-audio2", "channel", clips, mode)
    result = agreement.compare(graph, spec, clips, readout_mode=mode, scale=agreement.readout_scale(qgraph),
                               causes=agreement.diagnose(graph, qgraph))
"""

from typing import Any

from xylodeploy.interop._common import ImportNote, ImportReport, graph_to_spec, load_graph, save_graph, simulate_graph
from xylodeploy.interop.registry import IMPORTERS, Importer, get_importer, import_from

_IMPORTER_NAMES = {entry.function: name for name, entry in IMPORTERS.items()}

__all__ = [
    "IMPORTERS", "ImportNote", "ImportReport", "Importer", "get_importer", "graph_to_spec", "import_from",
    "load_graph", "save_graph", "simulate_graph", *sorted(_IMPORTER_NAMES),
]  # fmt: skip


def __getattr__(name: str) -> Any:
    """``from_<framework>`` for every registered importer, loaded on first use (frameworks stay unimported)."""
    if name in _IMPORTER_NAMES:
        return get_importer(_IMPORTER_NAMES[name])
    raise AttributeError(f"module 'xylodeploy.interop' has no attribute {name!r}")
