"""`NullBackend`: accepts any structurally valid `XyloSpec` and returns all-zero recordings.

For CLI and pipeline tests that need a backend but not its numbers. Shapes and dtypes match
the reference backend's (spikes int8, states int16, (B, T, N); a 2-D raster gives B = 1).
"""

from __future__ import annotations

import numpy as np

from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec


class NullBackend:
    """Zero recordings of the right shapes (see module docstring)."""

    name = "null"

    def __init__(self) -> None:
        self._spec: XyloSpec | None = None

    def load(self, spec: XyloSpec) -> None:
        """Remember ``spec``; no value checks beyond what `XyloSpec` itself enforces."""
        if not isinstance(spec, XyloSpec):
            raise ConfigError(f"null backend: expected a XyloSpec, got {type(spec).__name__}")
        self._spec = spec

    def reset(self) -> None:
        """Nothing to reset."""

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        """Validate ``raster`` like every backend does and return zeros."""
        if self._spec is None:
            raise ConfigError("null backend: run() called before load(spec)")
        spec = self._spec
        arr, _ = as_batch(raster, spec.n_inputs, "null backend input raster")
        n_b, n_t = arr.shape[:2]
        spikes_out = np.zeros((n_b, n_t, spec.n_outputs), np.int8)
        if not record:
            return Recording(spikes_out=spikes_out)
        hidden = (n_b, n_t, spec.n_hidden)
        return Recording(
            spikes_out=spikes_out,
            spikes=np.zeros(hidden, np.int8),
            isyn=np.zeros(hidden, np.int16),
            isyn2=np.zeros(hidden, np.int16) if spec.n_synapses > 1 else None,
            vmem=np.zeros(hidden, np.int16),
            isyn_out=np.zeros(spikes_out.shape, np.int16),
            vmem_out=np.zeros(spikes_out.shape, np.int16),
        )
