"""Interoperability with other SNN frameworks and formats (every framework is an optional dependency).

Importers return ``(NetworkGraph, ImportReport)``; the report lists each exact rewrite and each
approximation. Each framework is imported lazily, only inside its own module::

    from xylodeploy.interop.snntorch import from_snntorch          # extra: snntorch
    from xylodeploy.interop.spikingjelly import from_spikingjelly  # extra: spikingjelly
    from xylodeploy.interop.rockpool import rockpool_to_graph      # extra: rockpool (AGPL)
    from xylodeploy.interop.nir import from_nir, to_nir            # extra: nir
    from xylodeploy.interop.onnx import export_onnx, run_steps     # extra: onnx

`save_graph` / `load_graph` store a `NetworkGraph` (``.npz`` + JSON metadata, schema version 1);
`graph_to_spec` quantizes and maps one for a chip; `simulate_graph` runs its float dynamics.
`xylodeploy.interop.agreement` compares an imported graph with its chip spec layer by layer and names the
causes of any loss (what ``xylodeploy import --chip`` prints)::

    mode = agreement.readout_mode_of(graph, report)   # "vmem" for membrane readouts
    spec, qgraph = agreement.quantize_for_chip(graph, "xylo-audio2", "channel", clips, mode)
    result = agreement.compare(graph, spec, clips, readout_mode=mode, scale=agreement.readout_scale(qgraph),
                               causes=agreement.diagnose(graph, qgraph))
"""

from xylodeploy.interop._common import ImportNote, ImportReport, graph_to_spec, load_graph, save_graph, simulate_graph

__all__ = ["ImportNote", "ImportReport", "graph_to_spec", "load_graph", "save_graph", "simulate_graph"]
