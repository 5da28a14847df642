"""The vector kernel's unsaturated fast path at its boundary, against xylosim and the scalar kernel.

The vector kernel adds input and recurrent events without saturating in a step whose bound
``max|isyn| + sum_c n_c * max|w_in[c]| + sum_src spk_src * max|w_rec[src]|`` is <= 32767, and
saturates every add otherwise (see xylodeploy/backends/_ref_vector.py). These tests put steps
just below, at and just above that bound, and draw random specs whose sums hover around the
int16 limits, so that an off-by-one or a missing term in the bound shows up as a mismatch.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xylodeploy.backends.base import Recording
from xylodeploy.backends.reference import ReferenceBackend
from xylodeploy.ir.xylospec import XyloSpec, empty_spec

pytest.importorskip("xylosim.v2")
from xylodeploy.backends.xylosim import XylosimBackend  # noqa: E402

SAFE = 32767  # |partial sums| <= SAFE cannot leave int16
MAX_IN = 15


def runs(spec: XyloSpec, raster: np.ndarray) -> dict[str, Recording]:
    """Recordings of the vector and scalar kernels and of xylosim."""
    out = {}
    for name, sim in (("vector", ReferenceBackend("vector")), ("scalar", ReferenceBackend("scalar")),
                      ("xylosim", XylosimBackend())):  # fmt: skip
        sim.load(spec)
        out[name] = sim.run(raster, record=True)
    return out


def assert_all_equal(recs: dict[str, Recording], label: str) -> None:
    """Every field of every recording equal to xylosim's (names the first differing index)."""
    oracle = recs["xylosim"].fields()
    for name, rec in recs.items():
        for field, arr in rec.fields().items():
            bad = np.argwhere(arr != oracle[field])
            assert not bad.size, f"{label}: {name} {field} differs at {tuple(bad[0])}: {arr[tuple(bad[0])]}"


def naive_isyn(isyn: int, adds: list[int], dash: int) -> int:
    """Independent model: saturating adds one event at a time, then the decay (docs/chip-arithmetic.md)."""
    for a in adds:
        isyn = min(SAFE, max(-SAFE - 1, isyn + a))
    q = isyn >> dash
    return isyn - (1 if q == 0 and isyn > 0 else q)


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("delta", [-1, 0, 1, 2])
def test_input_bound_at_the_int16_limit(sign: int, delta: int) -> None:
    """Step 0 charges Isyn to 26669; step 1 brings the bound (= the exact sum here) to 32767 + delta."""
    w = np.zeros((16, 1, 2), np.int64)
    w[:14, 0, 0] = 127 * sign
    w[14, 0, 0] = sign
    spec = empty_spec("xylo-audio2", 16, 1, 1, 2, weights_in=w, dash_syn=[15], dash_syn_2=[15], dash_mem=[15],
                      threshold=[32767])  # fmt: skip
    raster = np.zeros((1, 2, 16), np.int64)
    raster[0, 0, :14] = 15
    raster[0, 1, :3] = 15
    raster[0, 1, 3] = 3
    raster[0, 1, 14] = 2 + delta
    recs = runs(spec, raster)
    assert_all_equal(recs, f"sign {sign} delta {delta}")
    step0 = naive_isyn(0, [15 * 127 * sign] * 14, 15)
    assert abs(step0) == 26669
    step1 = naive_isyn(step0, [15 * 127 * sign] * 3 + [3 * 127 * sign, (2 + delta) * sign], 15)
    assert abs(step0) + 3 * 15 * 127 + 3 * 127 + 2 + delta == SAFE + delta
    assert recs["vector"].isyn[0, :, 0].tolist() == [step0, step1]


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_recurrent_bound_at_the_int16_limit(delta: int) -> None:
    """Neuron 0 (threshold 0) fires 31 times per step; at t = 1 its recurrent events bring neuron
    1's Isyn, charged by input at t = 0, to exactly 32767 + delta (the bound equals the sum)."""
    w_rec = np.zeros((2, 2, 2), np.int64)
    w_rec[0, 1, 0] = 127  # effective 127 << 3 = 1016; 31 spikes deliver 31496
    w_in = np.zeros((2, 2, 2), np.int64)
    w_in[0, 1, 0] = 127
    w_in[1, 1, 0] = 1
    spec = empty_spec("xylo-audio2", 2, 2, 1, 2, weights_in=w_in, weights_rec=w_rec, weight_shift_rec=3,
                      dash_syn=[15, 15], dash_syn_2=[15, 15], dash_mem=[15, 15], threshold=[0, 32767])  # fmt: skip
    raster = np.zeros((1, 3, 2), np.int64)
    raster[0, 0] = (10, 2 + delta)  # Isyn after t = 0: 1270 + 2 + delta - 1 = 1271 + delta
    recs = runs(spec, raster)
    assert_all_equal(recs, f"delta {delta}")
    charged = naive_isyn(0, [1270, 2 + delta], 15)
    assert charged + 31 * 1016 == SAFE + delta
    assert recs["vector"].spikes[0, :, 0].tolist() == [31, 31, 31]
    assert recs["vector"].isyn[0, :2, 1].tolist() == [charged, naive_isyn(charged, [31 * 1016], 15)]


def near_limit_case(chip: str, seed: int) -> tuple[XyloSpec, np.ndarray]:
    """A small spec whose per-step input + recurrent sums hover around the int16 limits.

    Large weights with shifts 3..7, slow synaptic decay (dash 10..15), a per-spec sign balance
    (all-positive to mixed), thresholds from 0 (31 spikes per step) to the maximum, biases, aliases.
    """
    from xylodeploy.chips import get_chip

    c = get_chip(chip)
    rng = np.random.default_rng(seed)
    n_in, n_h, n_out, n_syn = int(rng.integers(1, 17)), int(rng.integers(1, 9)), int(rng.integers(1, 3)), c.max_synapses
    n_syn = int(rng.integers(1, n_syn + 1))
    p_neg = rng.choice([0.0, 0.2, 0.5, 1.0])

    def weights(shape: tuple[int, ...], density: float, low: int) -> np.ndarray:
        mag = rng.integers(low, c.weight_range.hi + 1, shape)
        return np.where(rng.random(shape) < density, np.where(rng.random(shape) < p_neg, -mag, mag), 0)

    w_in = np.zeros((n_in, n_h, n_syn), np.int64)
    ien = list(c.input_projection.allowed(n_h))
    w_in[:, ien] = weights((n_in, len(ien), n_syn), 0.7, 32)
    w_rec = weights((n_h, n_h, n_syn), 0.4, 16)
    w_rec[np.arange(n_h), np.arange(n_h)] = 0
    w_out = np.zeros((n_h, n_out), np.int64)
    w_out[list(c.output_projection.allowed(n_h))] = rng.integers(
        -128, 128, (len(c.output_projection.allowed(n_h)), n_out)
    )
    th = rng.choice([0, 1, 50, 500, 5000, 20000, 32767, -100], n_h)
    aliases = tuple(((int((h + 1) % n_h),) if n_h > 1 and rng.random() < 0.2 else ()) for h in range(n_h))
    spec = empty_spec(
        chip, n_in, n_h, n_out, n_syn, weights_in=w_in, weights_rec=w_rec, weights_out=w_out,
        dash_syn=rng.integers(10, 16, n_h), dash_syn_2=rng.integers(10, 16, n_h), dash_mem=rng.integers(0, 16, n_h),
        dash_syn_out=rng.integers(0, 16, n_out), dash_mem_out=rng.integers(0, 16, n_out), threshold=th,
        threshold_out=rng.choice([1, 1000, 32767], n_out), bias=rng.integers(-128, 128, n_h) * (rng.random() < 0.3),
        weight_shift_in=int(rng.integers(3, 8)), weight_shift_rec=int(rng.integers(3, 8)), aliases=aliases,
    )  # fmt: skip
    shape = (int(rng.integers(1, 3)), int(rng.integers(10, 40)), n_in)
    raster = np.where(rng.random(shape) < rng.choice([0.1, 0.3]), rng.integers(1, 4, shape), 0)
    return spec, raster


def step_bounds(spec: XyloSpec, raster: np.ndarray, rec: Recording) -> np.ndarray:
    """(B, T) bound the vector kernel tests, replayed from a recording (independent of its tables)."""

    def eff_max(w: np.ndarray, shift: int) -> np.ndarray:
        eff = ((np.asarray(w, np.int64) << shift) + 32768) % 65536 - 32768
        return np.abs(eff.reshape(w.shape[0], -1)).max(axis=1, initial=0)

    w_in_max = eff_max(spec.weights_in, spec.weight_shift_in)
    w_rec_max = eff_max(spec.weights_rec, spec.weight_shift_rec)
    top = np.abs(rec.isyn).max(axis=2)
    if rec.isyn2 is not None:
        top = np.maximum(top, np.abs(rec.isyn2).max(axis=2))
    prev_top = np.concatenate([np.zeros_like(top[:, :1]), top[:, :-1]], axis=1)
    prev_spk = np.concatenate([np.zeros_like(rec.spikes[:, :1]), rec.spikes[:, :-1]], axis=1).astype(np.int64)
    return prev_top + np.minimum(raster, MAX_IN) @ w_in_max + prev_spk @ w_rec_max


@pytest.mark.parametrize("chip", ["xylo-audio2", "xylo-imu"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_near_limit_specs_match_xylosim(chip: str, seed: int) -> None:
    spec, raster = near_limit_case(chip, seed)
    assert_all_equal(runs(spec, raster), f"{chip} seed {seed}")


def test_near_limit_cases_straddle_the_bound() -> None:
    """The corpus above is not vacuous: it has fast-path steps just under the bound and
    saturating steps just over it (margin 2048), and steps where saturation really happened."""
    below = above = pinned = 0
    for seed in range(40):
        spec, raster = near_limit_case("xylo-audio2", seed)
        sim = ReferenceBackend("scalar")
        sim.load(spec)
        rec = sim.run(raster, record=True)
        bound = step_bounds(spec, raster, rec)
        below += int(((bound <= SAFE) & (bound > SAFE - 2048)).sum())
        above += int(((bound > SAFE) & (bound <= SAFE + 2048)).sum())
        pinned += int((np.abs(rec.isyn.astype(np.int64)) >= SAFE - 16).sum())
    assert below >= 10 and above >= 10 and pinned >= 10, (below, above, pinned)
