"""`ReferenceBackend`: xylodeploy's cycle-accurate Xylo simulator, the executable spec of the chip.

It reproduces xylosim.v2 bit for bit on every recorded quantity (xylo-spec.md §1.2; checked by
tests/sim) and is batched: clips run in parallel (numba, one thread per core), each from reset
state. Returned arrays: spike counts int8, Isyn/Vmem int16, all (B, T, N); a 2-D (T, Nin) raster
gives B = 1.
"""

from __future__ import annotations

import numpy as np

from xylodeploy.backends._ref_kernel import run_batch
from xylodeploy.backends._ref_params import KernelParams, build_params, check_spec
from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec


class ReferenceBackend:
    """Exact, batched simulation of one `XyloSpec` (see module docstring).

    Example::

        sim = ReferenceBackend()
        sim.load(spec)
        rec = sim.run(raster, record=True)  # raster (B, T, Nin) event counts
        rec.spikes_out.shape  # (B, T, Nout)
    """

    name = "reference"

    def __init__(self) -> None:
        self._spec: XyloSpec | None = None
        self._params: KernelParams | None = None

    @property
    def spec(self) -> XyloSpec | None:
        """The loaded spec (None before `load`)."""
        return self._spec

    def load(self, spec: XyloSpec) -> None:
        """Validate ``spec`` against its chip's numeric ranges and prepare the fan-out tables."""
        chip = check_spec(spec, "reference backend")
        self._params = build_params(spec, chip)
        self._spec = spec

    def reset(self) -> None:
        """No-op: every clip of every `run` starts from reset state (clips are independent)."""

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        """Simulate each clip of a (B, T, Nin) or (T, Nin) raster of input event counts.

        Counts above the chip's ``max_input_events`` are clamped, as the chip does. With
        ``record`` the hidden and readout states are returned too (memory: ~7 bytes x B x T x Nh).
        """
        if self._spec is None or self._params is None:
            raise ConfigError("reference backend: run() called before load(spec)")
        p = self._params
        arr, _ = as_batch(raster, self._spec.n_inputs, "reference backend input raster")
        clamped = np.minimum(arr, p.limits[2]).astype(np.uint8)
        n_b, n_t = clamped.shape[:2]
        n_h, n_o = self._spec.n_hidden, self._spec.n_outputs
        spikes_out = np.zeros((n_b, n_t, n_o), np.int8)

        def buf(n: int, dtype: type, on: bool = True) -> np.ndarray:
            return np.zeros((n_b, n_t, n) if record and on else (0, 0, 0), dtype)

        r_spk, r_isyn, r_vmem = buf(n_h, np.int8), buf(n_h, np.int16), buf(n_h, np.int16)
        r_isyn2 = buf(n_h, np.int16, p.n_syn > 1)
        r_isyn_out, r_vmem_out = buf(n_o, np.int16), buf(n_o, np.int16)
        run_batch(
            clamped, p.n_syn, p.inp.ptr, p.inp.slot, p.inp.weight, p.rec.ptr, p.rec.slot, p.rec.weight,
            p.out.ptr, p.out.slot, p.out.weight, p.dash_syn, p.dash_mem, p.threshold, p.bias, p.idle_ok,
            p.alias_ptr, p.alias_tgt, p.dash_syn_out, p.dash_mem_out, p.threshold_out, p.bias_out, p.limits,
            record, spikes_out, r_spk, r_isyn, r_isyn2, r_vmem, r_isyn_out, r_vmem_out,
        )  # fmt: skip
        if not record:
            return Recording(spikes_out=spikes_out)
        return Recording(
            spikes_out=spikes_out,
            spikes=r_spk,
            isyn=r_isyn,
            isyn2=r_isyn2 if p.n_syn > 1 else None,
            vmem=r_vmem,
            isyn_out=r_isyn_out,
            vmem_out=r_vmem_out,
        )
