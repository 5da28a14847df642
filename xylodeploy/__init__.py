"""xylodeploy: spiking neural networks from PyTorch to SynSense Xylo chips, exactly.

Importing this package imports no optional dependency (no torch, samna, rockpool, nir).
"""

from __future__ import annotations

__version__ = "0.1.0"

from xylodeploy.chips import ChipSpec, available_chips, get_chip
from xylodeploy.errors import (
    ConfigError,
    DesignRuleError,
    DeviceError,
    MissingDependencyError,
    QuantizationError,
    XylodeployError,
)
from xylodeploy.ir import XyloSpec, load_spec, save_spec

__all__ = [
    "__version__",
    "ChipSpec",
    "available_chips",
    "get_chip",
    "XyloSpec",
    "load_spec",
    "save_spec",
    "XylodeployError",
    "ConfigError",
    "DesignRuleError",
    "DeviceError",
    "MissingDependencyError",
    "QuantizationError",
]
