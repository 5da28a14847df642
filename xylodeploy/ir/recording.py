"""`Recording`: what running a `XyloSpec` on a batch of input rasters yields, for every engine.

It lives with the IR so that models (the exact torch net) and backends share it without depending
on each other. Quantities and their timing: docs/chip-arithmetic.md ("What is recorded").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATE_FIELDS: tuple[str, ...] = ("spikes", "isyn", "isyn2", "vmem", "isyn_out", "vmem_out")


@dataclass(frozen=True)
class Recording:
    """What a backend returns for a batch of clips.

    ``spikes_out`` (B, T, Nout) readout spike counts are always present. With ``record=True``
    the hidden spike counts ``spikes`` (B, T, Nh), synaptic currents ``isyn``/``isyn2``
    (B, T, Nh), membranes ``vmem`` (B, T, Nh) and the readout's ``isyn_out``/``vmem_out``
    (B, T, Nout) are recorded after each step's neuron update (docs/chip-arithmetic.md);
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


@dataclass(frozen=True)
class Divergence:
    """The first place where two recordings (two stages, or a device and the reference) differ.

    ``a``/``b`` are the values of the first and second recording; ``stages`` names the pair and
    ``layer`` the population of ``neuron`` when known (`xylodeploy.flow.validate`), both empty for a plain
    device-vs-reference comparison (`xylodeploy.backends.compare`).
    """

    clip: int
    step: int
    neuron: int
    quantity: str  # spikes, vmem, isyn, isyn2, spikes_out, ...
    a: float
    b: float
    stages: str = ""  # e.g. "exact vs reference"
    layer: str = ""  # population name (from the spec's mapping provenance) or "readout"

    @property
    def device(self) -> float:
        return self.a

    @property
    def reference(self) -> float:
        return self.b

    def __str__(self) -> str:
        if self.stages:
            return (f"{self.stages}: first divergence in layer '{self.layer}' {self.quantity}, clip {self.clip}, "
                    f"step {self.step}, neuron {self.neuron} ({self.a:g} vs {self.b:g})")  # fmt: skip
        where = f"clip {self.clip}, step {self.step}, neuron {self.neuron}"
        return f"{where}: {self.quantity} device {self.a} != reference {self.b}"
