"""Chip specifications and their registry."""

from __future__ import annotations

from xylodeploy.chips.audio2 import XYLO_AUDIO2
from xylodeploy.chips.audio3 import XYLO_AUDIO3
from xylodeploy.chips.imu import XYLO_IMU
from xylodeploy.chips.spec import ChipSpec, IntRange, Projection
from xylodeploy.errors import ConfigError

_CHIPS: tuple[ChipSpec, ...] = (XYLO_AUDIO2, XYLO_IMU, XYLO_AUDIO3)
DEFAULT_CHIP = XYLO_AUDIO2.name


def available_chips() -> list[str]:
    """Registry names of all supported chips."""
    return [c.name for c in _CHIPS]


def get_chip(name: str | ChipSpec) -> ChipSpec:
    """Look up a chip by registry name, part number or alias (case-insensitive)."""
    if isinstance(name, ChipSpec):
        return name
    key = str(name).strip().lower()
    for chip in _CHIPS:
        if key in (n.lower() for n in chip.names()):
            return chip
    raise ConfigError(f"unknown chip '{name}': expected one of {', '.join(available_chips())}")


__all__ = ["ChipSpec", "IntRange", "Projection", "available_chips", "get_chip", "DEFAULT_CHIP"]
