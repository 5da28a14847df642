"""Intermediate representations: `XyloSpec` (integer, one chip)."""

from xylodeploy.ir.serialize import SCHEMA_VERSION, load_spec, save_spec
from xylodeploy.ir.xylospec import XyloSpec, empty_spec

__all__ = ["XyloSpec", "empty_spec", "load_spec", "save_spec", "SCHEMA_VERSION"]
