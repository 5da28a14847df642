"""Spec validation, value ranges and the output record of `XyloExactNet`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from xylodeploy.backends.base import Recording
from xylodeploy.chips import ChipSpec, IntRange
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec

TRAINABLE_GROUPS: tuple[str, ...] = ("weights", "threshold", "bias")


@dataclass(frozen=True)
class ValueRanges:
    """Integer ranges the exact model clamps to (and `to_spec` writes)."""

    weight: IntRange
    threshold: IntRange
    bias: IntRange
    dash: IntRange
    shift: IntRange


def value_ranges(chip: ChipSpec, strict: bool) -> ValueRanges:
    """Chip ranges (``strict``) or the wider ranges xylosim's types accept (int16 bias, any shift)."""
    if strict:
        return ValueRanges(
            chip.weight_range, chip.threshold_range, chip.bias_range, chip.dash_range, chip.weight_shift_range
        )
    return ValueRanges(
        chip.weight_range, chip.state_range, chip.state_range, chip.dash_range, IntRange(0, np.iinfo(np.int32).max)
    )


def check_spec(spec: XyloSpec, chip: ChipSpec, ranges: ValueRanges, strict: bool) -> None:
    """Raise ConfigError (one line, naming the field, value and range) if the model cannot run ``spec``."""
    checks = {
        "weights_in": ranges.weight,
        "weights_rec": ranges.weight,
        "weights_out": ranges.weight,
        "threshold": ranges.threshold,
        "threshold_out": ranges.threshold,
        "bias": ranges.bias,
        "bias_out": ranges.bias,
        "dash_mem": ranges.dash,
        "dash_syn": ranges.dash,
        "dash_syn_2": ranges.dash,
        "dash_mem_out": ranges.dash,
        "dash_syn_out": ranges.dash,
    }
    for name, rng in checks.items():
        arr = getattr(spec, name)
        if arr.size and (arr.min() < rng.lo or arr.max() > rng.hi):
            bad = arr.min() if arr.min() < rng.lo else arr.max()
            raise ConfigError(f"spec field '{name}': value {bad} outside {spec.chip} range {rng}")
    for name in ("weight_shift_in", "weight_shift_rec", "weight_shift_out"):
        if getattr(spec, name) not in ranges.shift:
            raise ConfigError(f"spec field '{name}': value {getattr(spec, name)} outside range {ranges.shift}")
    if strict and spec.n_synapses > chip.max_synapses:
        raise ConfigError(f"spec field 'weights_in': {spec.n_synapses} synapses > {chip.name} max {chip.max_synapses}")
    for h, targets in enumerate(spec.aliases):
        for a in targets:
            if not 0 <= a < spec.n_hidden:
                raise ConfigError(f"spec field 'aliases': neuron {h} aliases to {a}, outside 0..{spec.n_hidden - 1}")


def check_trainable(trainable: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
    """Validate the names of the trainable parameter groups."""
    groups = (trainable,) if isinstance(trainable, str) else tuple(trainable)
    unknown = [g for g in groups if g not in TRAINABLE_GROUPS]
    if unknown:
        raise ConfigError(f"trainable: unknown group(s) {unknown}, expected a subset of {list(TRAINABLE_GROUPS)}")
    return groups


@dataclass
class ExactOutput:
    """What `XyloExactNet.forward` returns; all arrays are integer-valued float64 tensors.

    ``spikes_out``, ``vmem_out``, ``isyn_out``: (B, T, Nout) readout spikes (0/1), membrane
    after reset and synaptic current after decay. ``saturation``: (B,) number of neuron-steps
    where per-event int16 saturation could make the chip differ from this model (0: exact),
    None when the check was disabled. With ``record=True`` also the hidden ``spikes``,
    ``isyn``, ``isyn2`` (None for one synapse) and ``vmem``, (B, T, Nh).
    """

    spikes_out: Tensor
    vmem_out: Tensor
    isyn_out: Tensor
    saturation: Tensor | None = None
    spikes: Tensor | None = None
    isyn: Tensor | None = None
    isyn2: Tensor | None = None
    vmem: Tensor | None = None

    def first(self) -> ExactOutput:
        """Drop the batch axis in place (the single clip of a 2-D input); returns ``self``."""
        for name in ("spikes_out", "vmem_out", "isyn_out", "spikes", "isyn", "isyn2", "vmem", "saturation"):
            val = getattr(self, name)
            if val is not None:
                setattr(self, name, val[0])
        return self

    def to_recording(self) -> Recording:
        """The same quantities as a backend `Recording` of int64 numpy arrays."""

        def conv(t: Tensor | None) -> np.ndarray | None:
            return None if t is None else t.detach().to("cpu", torch.int64).numpy()

        return Recording(
            spikes_out=conv(self.spikes_out),
            spikes=conv(self.spikes),
            isyn=conv(self.isyn),
            isyn2=conv(self.isyn2),
            vmem=conv(self.vmem),
            isyn_out=conv(self.isyn_out),
            vmem_out=conv(self.vmem_out),
        )


def as_event_tensor(x: object, n_inputs: int, device: torch.device) -> tuple[Tensor, bool]:
    """Event counts as a (B, T, Nin) float64 tensor on ``device`` plus a was-2-D flag; validates them."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x)
    t = t.detach().to(device=device, dtype=torch.float64)
    single = t.ndim == 2
    if single:
        t = t[None]
    if t.ndim != 3 or t.shape[2] != n_inputs:
        raise ConfigError(f"input events: expected shape (batch, time, {n_inputs}), got {tuple(t.shape)}")
    if t.numel():
        bad = ~torch.isfinite(t) | (t < 0) | (t != torch.floor(t))
        if bool(bad.any()):
            raise ConfigError("input events: counts must be finite non-negative integers")
    return t, single
