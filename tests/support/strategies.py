"""Hypothesis strategies for valid random `XyloSpec`s and input rasters (reusable by every test).

``xylo_specs(chip)`` draws small specs that respect every limit of the chip's `ChipSpec`: value
ranges (weights, shifts, dashes, thresholds incl. 0, negative and the maximum, biases in
``bias_range``), synapse count, IEN/OEN projections, recurrent fan-out, one alias target per
neuron, never itself. A "style" knob mixes sparse and dense weights and an "extreme" mode (weights near +-127
with large shifts) that forces int16 saturation. Array contents come from a drawn numpy seed,
which keeps generation fast (shrinking then reduces sizes and knobs, not single entries).

    from tests.support.strategies import xylo_specs, rasters, spec_and_raster
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.ir.xylospec import XyloSpec

MAX_HIDDEN = 40
MAX_STEPS = 60
MAX_COUNT = 20  # raster counts go above the chip's 15-event clamp


def _weights(rng: np.random.Generator, shape: tuple[int, ...], chip: ChipSpec, density: float, extreme: bool):
    lo, hi = chip.weight_range.lo, chip.weight_range.hi
    if extreme:
        mag = rng.integers(hi - 8, hi + 1, shape)
        vals = np.where(rng.random(shape) < 0.5, mag, -mag - rng.integers(0, 2, shape))
    else:
        vals = rng.integers(lo, hi + 1, shape)
    return np.where(rng.random(shape) < density, np.clip(vals, lo, hi), 0)


def _thresholds(rng: np.random.Generator, n: int, chip: ChipSpec, scale: int) -> np.ndarray:
    r = chip.threshold_range
    th = rng.integers(1, max(2, scale), n)
    special = rng.choice(np.array([0, -1, r.lo, r.hi, r.hi - 1, -scale]), n)
    th = np.where(rng.random(n) < 0.15, special, th)
    return np.clip(th, r.lo, r.hi)


def _dashes(rng: np.random.Generator, n: int, chip: ChipSpec) -> np.ndarray:
    r = chip.dash_range
    d = rng.integers(r.lo, r.hi + 1, n)
    return np.where(rng.random(n) < 0.1, rng.choice(np.array([r.lo, r.hi]), n), d)


def _limit_fanout(rng: np.random.Generator, w_rec: np.ndarray, max_fanout: int) -> np.ndarray:
    w = w_rec.copy()
    for src in range(w.shape[0]):
        targets = np.flatnonzero(np.any(w[src] != 0, axis=-1))
        if len(targets) > max_fanout:
            w[src, rng.choice(targets, len(targets) - max_fanout, replace=False)] = 0
    return w


def _aliases(rng: np.random.Generator, n_h: int, chip: ChipSpec, p: float) -> tuple[tuple[int, ...], ...]:
    """At most one alias target per neuron (other than itself; the DRC forbids self-aliases)."""
    if n_h < 2 or chip.max_alias_targets < 1:
        return tuple(() for _ in range(n_h))
    return tuple(((int(h + rng.integers(1, n_h)) % n_h,) if rng.random() < p else ()) for h in range(n_h))


def build_random_spec(chip: ChipSpec, sizes: tuple[int, int, int, int], knobs: dict, seed: int) -> XyloSpec:
    """A valid spec for ``chip`` of sizes (Nin, Nh, Nout, Nsyn) from style ``knobs`` and a seed."""
    rng = np.random.default_rng(seed)
    n_in, n_h, n_out, n_syn = sizes
    dens, ext = knobs["density"], knobs["extreme"]
    w_in = np.zeros((n_in, n_h, n_syn), np.int64)
    ien = list(chip.input_projection.allowed(n_h))
    w_in[:, ien] = _weights(rng, (n_in, len(ien), n_syn), chip, dens, ext)
    w_rec = _limit_fanout(rng, _weights(rng, (n_h, n_h, n_syn), chip, dens * knobs["rec_scale"], ext), chip.max_fanout)
    w_out = np.zeros((n_h, n_out), np.int64)
    oen = list(chip.output_projection.allowed(n_h))
    w_out[oen] = _weights(rng, (len(oen), n_out), chip, dens, ext)
    shifts = chip.weight_shift_range
    shift = (lambda: int(rng.integers(max(shifts.lo, shifts.hi - 2), shifts.hi + 1))) if ext else (
        lambda: int(rng.integers(shifts.lo, shifts.hi + 1))
    )  # fmt: skip
    b = chip.bias_range
    use_bias = knobs["bias"]
    return XyloSpec(
        chip=chip.name,
        weights_in=w_in,
        weights_rec=w_rec,
        weights_out=w_out,
        dash_mem=_dashes(rng, n_h, chip),
        dash_syn=_dashes(rng, n_h, chip),
        dash_syn_2=_dashes(rng, n_h, chip),
        dash_mem_out=_dashes(rng, n_out, chip),
        dash_syn_out=_dashes(rng, n_out, chip),
        threshold=_thresholds(rng, n_h, chip, knobs["th_scale"]),
        threshold_out=_thresholds(rng, n_out, chip, knobs["th_scale"]),
        bias=rng.integers(b.lo, b.hi + 1, n_h) * (rng.random(n_h) < 0.5) * use_bias,
        bias_out=rng.integers(b.lo, b.hi + 1, n_out) * (rng.random(n_out) < 0.5) * use_bias,
        weight_shift_in=shift(),
        weight_shift_rec=shift(),
        weight_shift_out=shift(),
        aliases=_aliases(rng, n_h, chip, knobs["alias_p"]),
    )


@st.composite
def xylo_specs(draw: st.DrawFn, chip: str | ChipSpec, max_hidden: int = MAX_HIDDEN) -> XyloSpec:
    """Valid random specs for ``chip`` (see module docstring)."""
    c = get_chip(chip)
    n_in = draw(st.integers(1, c.max_inputs))
    n_h = draw(st.integers(1, min(max_hidden, c.max_hidden)))
    n_out = draw(st.integers(1, c.max_readout))
    n_syn = draw(st.integers(1, c.max_synapses))
    knobs = {
        "density": draw(st.sampled_from([0.05, 0.2, 0.5, 1.0])),
        "rec_scale": draw(st.sampled_from([0.0, 0.3, 1.0])),
        "extreme": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "th_scale": draw(st.sampled_from([50, 1000, 20000])),
        "alias_p": draw(st.sampled_from([0.0, 0.2, 0.6])),
    }
    return build_random_spec(c, (n_in, n_h, n_out, n_syn), knobs, draw(st.integers(0, 2**32 - 1)))


@st.composite
def rasters(draw: st.DrawFn, n_inputs: int, max_steps: int = MAX_STEPS, max_batch: int = 3) -> np.ndarray:
    """(B, T, Nin) event counts in 0..MAX_COUNT (incl. counts above the chip's clamp)."""
    shape = (draw(st.integers(1, max_batch)), draw(st.integers(1, max_steps)), n_inputs)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rate = draw(st.sampled_from([0.05, 0.3, 0.9]))
    counts = rng.integers(1, draw(st.sampled_from([2, 4, MAX_COUNT + 1])), shape)
    return np.where(rng.random(shape) < rate, counts, 0).astype(np.int64)


@st.composite
def spec_and_raster(draw: st.DrawFn, chip: str | ChipSpec, **kwargs: int) -> tuple[XyloSpec, np.ndarray]:
    """A valid spec for ``chip`` and a matching input raster."""
    spec = draw(xylo_specs(chip, **{k: v for k, v in kwargs.items() if k == "max_hidden"}))
    return spec, draw(rasters(spec.n_inputs, **{k: v for k, v in kwargs.items() if k != "max_hidden"}))
