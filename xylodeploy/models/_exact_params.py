"""Spec validation, value ranges, the output record and the step-loop constants of `XyloExactNet`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from xylodeploy.chips import ChipSpec, IntRange
from xylodeploy.drc import validity
from xylodeploy.errors import ConfigError
from xylodeploy.ir.recording import Recording
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
    """The ranges the model clamps to: the chip profile (``strict``) or the arithmetic profile
    (int16 biases and thresholds, weight shifts 0..31) of `xylodeploy.drc.validity`."""
    r = validity.ranges(chip, "chip" if strict else "arith")
    return ValueRanges(r.weight, r.threshold, r.bias, r.dash, r.weight_shift)


def check_spec(spec: XyloSpec, chip: ChipSpec, ranges: ValueRanges, strict: bool) -> None:
    """Raise ConfigError (one line, naming location, field, limit and value) if the model cannot run ``spec``:
    the "chip" profile of `xylodeploy.drc.validity` when ``strict``, else the "arith" profile.

    ``chip`` and ``ranges`` are those of `value_ranges` (kept for callers; the profile defines them).
    """
    validity.check(spec, "chip" if strict else "arith", "exact model")


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


class Effective(NamedTuple):
    """The integer parameters the chip uses (`XyloExactNet.effective`)."""

    w_in: Tensor  # (Nin, Nh*S) shifted int16 weights
    w_hr: Tensor  # (Nh, Nh*S + Nout) recurrent | readout, shifted
    th: Tensor
    th_out: Tensor
    bias: Tensor
    bias_out: Tensor


class PopConstants(NamedTuple):
    """One population's constants for `XyloExactNet._neuron`."""

    dash_mem: Tensor
    bias: Tensor
    th: Tensor
    cap: Tensor  # most spikes per step
    negative: set[int]  # indices with a negative threshold (empty: skip the iterated spike loop)
    hidden: bool


class StepConstants(NamedTuple):
    """Constants of one run of the torch step loop (`XyloExactNet._step`)."""

    q: Effective
    lo: float  # state range
    hi: float
    hidden: PopConstants
    readout: PopConstants
    drive_in: Tensor  # (B, T, Nh*S) input drive
    pos_in: Tensor | None  # its positive part (None: no saturation check)
    w_hr_pos: Tensor | None  # positive recurrent | readout weights
