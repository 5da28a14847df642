"""The `Backend` protocol, the `Recording` it returns (from `xylodeploy.ir.recording`), raster validation."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.io.counts import integer_counts
from xylodeploy.ir.recording import STATE_FIELDS, Recording
from xylodeploy.ir.xylospec import XyloSpec

__all__ = ["STATE_FIELDS", "Backend", "Recording", "as_batch"]


@runtime_checkable
class Backend(Protocol):
    """Anything that runs a `XyloSpec` on input rasters."""

    name: str

    def load(self, spec: XyloSpec) -> None:
        """Configure the backend with ``spec`` (and reset its state)."""

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        """Run a ``(B, T, Nin)`` (or ``(T, Nin)``) raster of event counts from reset state."""

    def reset(self) -> None:
        """Clear all neuron state."""


def as_batch(raster: object, n_inputs: int, source: str = "input raster") -> tuple[np.ndarray, bool]:
    """Validate an event-count raster and return it as ``(B, T, Nin)`` int64 plus a was-2-D flag.

    Raises ConfigError (one line, naming ``source``) for wrong rank or channel count,
    non-numeric, NaN, negative or non-integer counts.
    """
    arr = np.asarray(raster)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ConfigError(f"{source}: expected numeric event counts, got dtype {arr.dtype}")
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3:
        raise ConfigError(f"{source}: expected shape (batch, time, channels) or (time, channels), got {arr.shape}")
    if arr.shape[2] != n_inputs:
        raise ConfigError(f"{source}: {arr.shape[2]} channels, but the spec has {n_inputs} inputs")
    return integer_counts(arr, source), single
