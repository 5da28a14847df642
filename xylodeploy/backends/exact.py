"""`ExactBackend`: the bit-exact torch model `XyloExactNet` (the fine-tuning arithmetic) as a `Backend`.

It runs a spec like the reference simulator does (same `Recording`, same dtypes: spike counts int8,
states int16), so ``xylodeploy simulate --backend exact`` and `xylodeploy.flow.validate` treat it as one
more stage. It accepts the arithmetic profile of `xylodeploy.drc.validity` (as the other
simulators) unless ``strict``. ``saturation_steps`` counts the neuron-steps where per-event
saturation order mattered (delivered event by event, so results stay exact).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec


class ExactBackend:
    """`XyloExactNet` behind the `Backend` protocol (module docstring)."""

    name = "exact"
    kind = "model"  # validate compares the float model with a chip stage, not with this one

    def __init__(self, strict: bool = False, device: str = "cpu") -> None:
        self.strict, self.device = strict, device
        self.spec: XyloSpec | None = None
        self._net: Any = None
        self.saturation_steps = 0

    def load(self, spec: XyloSpec) -> None:
        """Build the exact model of ``spec`` (no trainable parameters)."""
        from xylodeploy.models.exact import XyloExactNet

        self._net = XyloExactNet(spec, trainable=(), strict=self.strict).to(self.device)
        self.spec = spec

    def reset(self) -> None:
        """No-op: every clip of every `run` starts from reset state."""

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        """Simulate each clip of a (B, T, Nin) or (T, Nin) raster of input event counts."""
        if self.spec is None:
            raise ConfigError("exact backend: run() called before load(spec)")
        import torch

        from xylodeploy.models.exact import ExactSaturationWarning

        arr, _ = as_batch(raster, self.spec.n_inputs, "exact backend input raster")
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", ExactSaturationWarning)
            out = self._net(torch.as_tensor(arr), record=record)
        if out.saturation is not None:
            self.saturation_steps += int(out.saturation.sum())
        rec = out.to_recording()
        arrays = {k: v.astype(np.int8 if k.startswith("spikes") else np.int16) for k, v in rec.fields().items()}
        return Recording(**arrays) if record else Recording(spikes_out=arrays["spikes_out"])
