"""Cycle model of the Xylo SNN core and the no-hardware clock/real-time ESTIMATE built on it.

The model is SynSense's (docs/chip-facts.md, cycle model), master-clock cycles per time step ``dt``:

    C_input    = Nin * (p_i * Nien * 3.5 + 1)
    C_hid_isyn = Nhid * (F * 7 * p_h + 3)
    C_out_isyn = Noen * p_h * (1 + 8 * Nout)
    C_hid_spk  = Nhid * (19 + 2 max(p_h, a_t a_s) + 3 max(p_h a_t, a_t a_s) + p_h + max(p_h, a_t) a_s)
    C_out_spk  = 12 * Nout
    syn2 ops   = syn2_enable * (1.5 p_i Nin Nien + 5 F p_h Nhid + Nhid)   (parallel, no extra cycles)

``F`` = mean non-zero synapse-1 recurrent weights per source neuron; ``a_t``/``a_s`` = mean alias
target/source counts; IMU/A3 count only the IENs/OENs that carry a weight (on A2 every hidden neuron).
It is a model, not a measurement: every number derived from it is labelled an estimate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.ir.xylospec import XyloSpec

LABEL = "ESTIMATE (SynSense cycle model, docs/chip-facts.md; no hardware measured)"


@dataclass(frozen=True)
class CycleInputs:
    """Network shape terms of the cycle model (see module docstring)."""

    n_in: int
    n_hid: int
    n_out: int
    n_ien: int
    n_oen: int
    fanout: float
    alias_target: float
    alias_source: float
    syn2: bool


def cycle_inputs(spec: XyloSpec, chip: ChipSpec | None = None) -> CycleInputs:
    """Read the model's shape terms from a spec, as they would appear in the chip configuration."""
    chip = get_chip(spec.chip if chip is None else chip)
    n_h = spec.n_hidden
    if chip.input_projection.count is None:
        n_ien = n_oen = n_h
    else:
        ien, oen = chip.input_projection.allowed(n_h), chip.output_projection.allowed(n_h)
        n_ien = int(np.count_nonzero(np.any(spec.weights_in[:, ien.start : ien.stop] != 0, axis=(0, 2))))
        n_oen = int(np.count_nonzero(np.any(spec.weights_out[oen.start : oen.stop] != 0, axis=1)))
    fanout = float(np.count_nonzero(spec.weights_rec[:, :, 0]) / n_h) if n_h else 0.0
    targets = np.zeros(n_h)
    sources = np.zeros(n_h)
    for h, alias in enumerate(spec.aliases):
        if alias:
            targets[alias[0]] += 1
            sources[h] += 1
    return CycleInputs(
        spec.n_inputs, n_h, spec.n_outputs, n_ien, n_oen, fanout,
        float(targets.mean()) if n_h else 0.0, float(sources.mean()) if n_h else 0.0, spec.uses_synapse2,
    )  # fmt: skip


def cycles(c: CycleInputs, p_in: float = 1.0, p_hid: float = 1.0) -> tuple[float, float]:
    """(master-clock cycles per step, extra parallel synapse-2 operations) at spike probabilities."""
    a_t, a_s = c.alias_target, c.alias_source
    c_input = c.n_in * (p_in * c.n_ien * 3.5 + 1)
    c_hid_isyn = c.n_hid * (c.fanout * 7 * p_hid + 3)
    c_out_isyn = c.n_oen * p_hid * (1 + 8 * c.n_out)
    var = 2 * max(p_hid, a_t * a_s) + 3 * max(p_hid * a_t, a_t * a_s) + p_hid + max(p_hid, a_t) * a_s
    c_hid_spk = c.n_hid * (19 + var)
    c_out_spk = 12 * c.n_out
    syn2 = (1.5 * p_in * c.n_in * c.n_ien + 5 * c.fanout * p_hid * c.n_hid + c.n_hid) if c.syn2 else 0.0
    return c_input + c_hid_isyn + c_out_isyn + c_hid_spk + c_out_spk, syn2


def min_clock_hz(n_cycles: float, dt: float, margin: float = 0.0) -> float:
    """Slowest core clock that finishes ``n_cycles`` within one step of ``dt`` seconds (+ margin)."""
    return n_cycles * (1 + margin) / dt


def spike_probability(raster: np.ndarray) -> float:
    """Fraction of (clip, step, channel) bins with at least one event (several cost as one)."""
    arr = np.asarray(raster)
    return float(np.count_nonzero(arr) / arr.size) if arr.size else 0.0


@dataclass(frozen=True)
class Estimate:
    """A labelled activity-based estimate for one spec at its ``dt``."""

    label: str
    chip: str
    dt: float
    clock_hz: float
    inputs: dict
    p_in: float | None
    p_hid: float | None
    cycles_mean: float | None  # at the measured mean activity
    cycles_peak_step: float | None  # busiest (clip, step) of the data
    cycles_worst: float  # every input and hidden neuron active every step
    syn2_ops_worst: float
    min_clock_hz_mean: float | None
    min_clock_hz_peak: float | None
    min_clock_hz_worst: float
    margin_peak: float | None  # chip clock / min clock at the busiest step (>1: real time feasible)
    margin_worst: float

    def to_dict(self) -> dict:
        return asdict(self)


def estimate(spec: XyloSpec, raster: np.ndarray | None = None, hidden_spikes: np.ndarray | None = None) -> Estimate:
    """Cycle-model estimate, from measured activity (input raster and hidden spikes, (B, T, N)) if given."""
    chip = get_chip(spec.chip)
    c = cycle_inputs(spec, chip)
    worst, syn2 = cycles(c)
    clock = chip.default_clock_hz
    mean = peak = p_in = p_hid = None
    if raster is not None and hidden_spikes is not None:
        p_in, p_hid = spike_probability(raster), spike_probability(hidden_spikes)
        mean = cycles(c, p_in, p_hid)[0]
        pi_t = (np.asarray(raster) != 0).mean(axis=2).reshape(-1)
        ph_t = (np.asarray(hidden_spikes) != 0).mean(axis=2).reshape(-1)
        peak = max(cycles(c, float(a), float(b))[0] for a, b in zip(pi_t, ph_t, strict=True))
    mc = {k: None if v is None else min_clock_hz(v, spec.dt) for k, v in (("mean", mean), ("peak", peak))}
    worst_clock = min_clock_hz(worst, spec.dt)
    return Estimate(
        LABEL, chip.name, spec.dt, clock, asdict(c), p_in, p_hid, mean, peak, worst, syn2,
        mc["mean"], mc["peak"], worst_clock,
        None if mc["peak"] is None else clock / mc["peak"], clock / worst_clock,
    )  # fmt: skip


def estimate_from_activity(spec: XyloSpec, raster: np.ndarray | None) -> Estimate:
    """Run ``raster`` on the reference simulator to measure activity, then `estimate`."""
    if raster is None:
        return estimate(spec)
    from xylodeploy.backends import get_backend

    sim = get_backend("reference")
    sim.load(spec)
    rec = sim.run(raster, record=True)
    return estimate(spec, np.asarray(raster), rec.spikes)
