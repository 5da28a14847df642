"""Intermediate representations: `NetworkGraph` (float, chip-agnostic) and `XyloSpec` (integer, one chip)."""

from xylodeploy.ir.graph import INPUT, Connection, LIFPopulation, NetworkGraph, feedforward_graph
from xylodeploy.ir.serialize import SCHEMA_VERSION, load_spec, save_spec
from xylodeploy.ir.xylospec import XyloSpec, empty_spec

__all__ = [
    "XyloSpec",
    "empty_spec",
    "load_spec",
    "save_spec",
    "SCHEMA_VERSION",
    "NetworkGraph",
    "LIFPopulation",
    "Connection",
    "INPUT",
    "feedforward_graph",
]
