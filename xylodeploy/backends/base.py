"""The `Backend` protocol, the `Recording` it returns, and input-raster validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from xylodeploy.counts import integer_counts
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec

STATE_FIELDS: tuple[str, ...] = ("spikes", "isyn", "isyn2", "vmem", "isyn_out", "vmem_out")


@dataclass(frozen=True)
class Recording:
    """What a backend returns for a batch of clips.

    ``spikes_out`` (B, T, Nout) readout spike counts are always present. With ``record=True``
    the hidden spike counts ``spikes`` (B, T, Nh), synaptic currents ``isyn``/``isyn2``
    (B, T, Nh), membranes ``vmem`` (B, T, Nh) and the readout's ``isyn_out``/``vmem_out``
    (B, T, Nout) are recorded after each step's neuron update (xylo-spec.md §1.2 item 13);
    ``isyn2`` is None on one-synapse specs.
    """

    spikes_out: np.ndarray
    spikes: np.ndarray | None = None
    isyn: np.ndarray | None = None
    isyn2: np.ndarray | None = None
    vmem: np.ndarray | None = None
    isyn_out: np.ndarray | None = None
    vmem_out: np.ndarray | None = None

    @property
    def recorded(self) -> bool:
        return self.vmem is not None

    def fields(self) -> dict[str, np.ndarray]:
        """Every present array, by name."""
        names = ("spikes_out", *STATE_FIELDS)
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def clip(self, index: int) -> Recording:
        """The recording of one clip, with a batch axis of 1."""
        return Recording(**{n: a[index : index + 1] for n, a in self.fields().items()})


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
