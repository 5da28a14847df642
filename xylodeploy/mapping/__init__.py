"""Mapping: `QuantizedGraph` -> `XyloSpec` for one chip (neuron allocation, projections, synapses).

Pipeline::

    tq     = quantize_time_constants(graph, chip)     # xylodeploy.quantize
    qgraph = quantize_weights(tq, method="channel")   # xylodeploy.quantize
    spec   = map_to_spec(qgraph)                      # raises DesignRuleError listing every violation
    again  = unmap(spec)                              # per-population integers back (round trip)
"""

from xylodeploy.mapping.allocate import allocate, allocation_order, allocation_violations
from xylodeploy.mapping.mapper import PROVENANCE_KEY, map_to_spec, unmap

__all__ = ["PROVENANCE_KEY", "allocate", "allocation_order", "allocation_violations", "map_to_spec", "unmap"]
