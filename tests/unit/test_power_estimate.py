"""The cycle model reproduces SynSense's worked values (docs/chip-facts.md, cycle model) from specs built here."""

from __future__ import annotations

import numpy as np
import pytest

from xylodeploy.ir.xylospec import empty_spec
from xylodeploy.power.estimate import LABEL, cycle_inputs, cycles, estimate, estimate_from_activity, min_clock_hz


def _spec(chip, n_in, n_h, n_out, fanout, n_syn=1, dt=1e-3, ien=None, oen=None):
    """Every input/readout weight non-zero (within IEN/OEN), exactly ``fanout`` recurrent targets per neuron."""
    w_rec = np.zeros((n_h, n_h, n_syn), np.int64)
    for h in range(n_h):
        w_rec[h, (h + 1 + np.arange(fanout)) % n_h, :] = 1
    w_in = np.zeros((n_in, n_h, n_syn), np.int64)
    w_in[:, : ien or n_h] = 1
    w_out = np.zeros((n_h, n_out), np.int64)
    w_out[n_h - (oen or n_h) :] = 1
    return empty_spec(chip, n_in, n_h, n_out, n_syn, weights_in=w_in, weights_rec=w_rec, weights_out=w_out, dt=dt)


def test_a2_16_1000_8_fanout_32():
    spec = _spec("xylo-audio2", 16, 1000, 8, 32, n_syn=2)
    c = cycle_inputs(spec)
    assert cycles(c) == (pytest.approx(370_112), pytest.approx(185_000))
    assert min_clock_hz(cycles(c)[0], 1e-3, margin=0.2) / 1e6 == pytest.approx(444.13, abs=0.01)
    assert cycles(c, 0.1, 0.1)[0] == pytest.approx(56_912)


def test_a2_16_60_8_feedforward():
    c = cycle_inputs(_spec("xylo-audio2", 16, 60, 8, 0))
    assert cycles(c)[0] == pytest.approx(8_872)
    assert min_clock_hz(8_872, 1e-3, 0.2) / 1e6 == pytest.approx(10.65, abs=0.01)


def test_imu_16_496_16_fanout_64():
    c = cycle_inputs(_spec("xylo-imu", 16, 496, 16, 64, ien=128, oen=128))
    assert (c.n_ien, c.n_oen) == (128, 128)
    assert cycles(c)[0] == pytest.approx(258_496)
    assert min_clock_hz(258_496, 5e-3, 0.2) / 1e6 == pytest.approx(62.04, abs=0.01)


def test_a3_16_992_32_fanout_32():
    c = cycle_inputs(_spec("xylo-audio3", 16, 992, 32, 32, ien=128, oen=128))
    assert cycles(c)[0] == pytest.approx(287_472)
    assert min_clock_hz(287_472, 1e-3, 0.2) / 1e6 == pytest.approx(344.97, abs=0.01)


def test_aliases_counted_like_the_model():
    spec = _spec("xylo-audio2", 2, 4, 1, 0).replace(aliases=[(1,), (), (), ()])
    c = cycle_inputs(spec)
    assert (c.alias_target, c.alias_source) == (0.25, 0.25)
    # hidden-spike term with p_h = 1: 19 + 2 + 3*0.25 + 1 + 0.25 per neuron
    base = cycles(cycle_inputs(spec.replace(aliases=None)))[0]
    assert cycles(c)[0] - base == pytest.approx(4 * (0.75 + 0.25))


def test_activity_estimate_is_labelled_and_bounded():
    spec = _spec("xylo-imu", 4, 30, 2, 3, ien=30, oen=30).replace(threshold=np.full(30, 3))
    raster = np.random.default_rng(0).integers(0, 2, (2, 20, 4))
    est = estimate_from_activity(spec, raster)
    assert est.label == LABEL and "ESTIMATE" in est.label
    assert est.p_in == pytest.approx(np.count_nonzero(raster) / raster.size)
    assert est.cycles_mean <= est.cycles_peak_step <= est.cycles_worst
    assert est.margin_worst == pytest.approx(50e6 / (est.cycles_worst / 1e-3))
    assert estimate(spec).cycles_mean is None
