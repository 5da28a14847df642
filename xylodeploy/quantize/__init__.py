"""Quantisation: float `NetworkGraph` -> integer `QuantizedGraph` for one chip.

Pipeline (each stage a plain function; inputs are never modified)::

    graph  = NetworkGraph(...)                                  # float IR (xylodeploy.ir.graph)
    tq     = quantize_time_constants(graph, "xylo-audio3")      # tau -> nearest dash, clipped with a warning
    qgraph = quantize_weights(tq, method="channel")             # int8 weights + shifts, thresholds, biases
    spec   = map_to_spec(qgraph)                                # xylodeploy.mapping -> XyloSpec (+ design rules)
    print(qgraph.report.table())                                # scales, shifts, clipping, SMAPE/SNR, saturation risk

`tau_to_dash` / `dash_to_tau` are the one tau <-> dash rule of the package (see timeconst).
"""

from xylodeploy.quantize.qgraph import QuantizedConnection, QuantizedGraph, QuantizedPopulation
from xylodeploy.quantize.report import LayerReport, QuantizationReport, TauReport, TimeConstantReport, smape, snr_db
from xylodeploy.quantize.timeconst import (
    DashClippedWarning,
    PopulationDashes,
    SynapseRemovedWarning,
    TimeQuantizedGraph,
    dash_to_tau,
    quantize_time_constants,
    tau_to_dash,
)
from xylodeploy.quantize.weights import METHODS, quantize_weights

__all__ = [
    "DashClippedWarning",
    "LayerReport",
    "METHODS",
    "PopulationDashes",
    "QuantizationReport",
    "QuantizedConnection",
    "QuantizedGraph",
    "QuantizedPopulation",
    "SynapseRemovedWarning",
    "TauReport",
    "TimeConstantReport",
    "TimeQuantizedGraph",
    "dash_to_tau",
    "quantize_time_constants",
    "quantize_weights",
    "smape",
    "snr_db",
    "tau_to_dash",
]
