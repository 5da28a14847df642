"""tau <-> dash: the one rounding rule (nearest representable tau), clipping and the report."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xylodeploy.chips import IntRange, available_chips, get_chip
from xylodeploy.errors import QuantizationError
from xylodeploy.ir import LIFPopulation, feedforward_graph
from xylodeploy.quantize import (
    DashClippedWarning,
    SynapseRemovedWarning,
    dash_to_tau,
    quantize_time_constants,
    tau_to_dash,
)

DT = 1e-3
taus = st.floats(min_value=0.0, max_value=1e5, allow_nan=False, allow_infinity=False)
dts = st.floats(min_value=1e-6, max_value=1.0)


def naive_tau(d: int, dt: float) -> float:
    """Independent: tau whose exp(-dt/tau) equals 1 - 2**-d (math module, exact fractions)."""
    return 0.0 if d == 0 else -dt / math.log1p(-(2.0**-d))


def test_known_values_from_spec():
    # docs/chip-arithmetic.md (time constants): dash 1 -> 1.443 dt, 2 -> 3.476, 3 -> 7.489, 4 -> 15.495, 15 -> 32767.5
    got = dash_to_tau(np.array([0, 1, 2, 3, 4, 15]), DT) / DT
    assert np.allclose(got, [0, 1.4427, 3.4761, 7.4889, 15.4946, 32767.5], atol=1e-3)
    assert dash_to_tau(0, DT) == 0.0


@pytest.mark.parametrize("d", range(1, 40))
def test_dash_to_tau_is_exact_inverse_of_decay_factor(d):
    tau = float(dash_to_tau(d, DT))
    assert math.isclose(1 - math.exp(-DT / tau), 2.0**-d, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("tau_dt", "dash"),
    # nearest rule; 5.5 dt -> 3 where rockpool's mapper round(log2) gives 2 (docs/chip-arithmetic.md)
    [(1.2, 1), (1.5, 1), (2, 1), (3, 2), (5, 2), (5.5, 3), (6, 3), (10, 3), (12, 4), (24, 5), (1000, 10), (50000, 16)],
)
def test_table_values(tau_dt, dash):
    assert int(tau_to_dash(tau_dt * DT, DT)) == dash
    assert round(math.log2(5.5)) == 2  # the rule we do NOT use


def test_tie_goes_to_smaller_dash():
    mid = naive_tau(1, 1.0) / 2  # exactly halfway between dash 0 (tau 0) and dash 1
    assert int(tau_to_dash(mid, 1.0)) == 0
    assert int(tau_to_dash(np.nextafter(mid, 1.0), 1.0)) == 1


@settings(max_examples=300, deadline=None)
@given(tau=taus, dt=dts)
def test_result_is_the_nearest_representable_value(tau, dt):
    d = int(tau_to_dash(tau, dt))
    dists = [abs(naive_tau(k, dt) - tau) for k in range(0, 64)]
    best = min(dists)
    assert dists[d] == best
    assert d == dists.index(best)  # first (smaller) dash on a tie


@settings(max_examples=200, deadline=None)
@given(a=taus, b=taus, dt=dts)
def test_monotonic(a, b, dt):
    lo, hi = sorted((a, b))
    assert tau_to_dash(lo, dt) <= tau_to_dash(hi, dt)


@settings(max_examples=100, deadline=None)
@given(d=st.integers(0, 60), dt=dts)
def test_representable_taus_round_trip(d, dt):
    assert int(tau_to_dash(dash_to_tau(d, dt), dt)) == d


@settings(max_examples=200, deadline=None)
@given(tau=st.lists(taus, min_size=1, max_size=20), lo=st.integers(0, 5), span=st.integers(0, 10))
def test_clipping_into_range_with_warning(tau, lo, span):
    rng = IntRange(lo, lo + span)
    free = tau_to_dash(np.array(tau), DT)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        got = tau_to_dash(np.array(tau), DT, rng, name="population 'p' tau_mem")
    assert np.array_equal(got, np.clip(free, rng.lo, rng.hi))
    outside = np.flatnonzero((free < rng.lo) | (free > rng.hi))
    ours = [w for w in rec if issubclass(w.category, DashClippedWarning)]
    assert bool(ours) == bool(outside.size)
    if outside.size:
        msg = str(ours[0].message)
        assert "population 'p' tau_mem" in msg and f"index {outside[0]}" in msg


def test_vectorised_shape_and_dtype():
    t = np.full((3, 2), 0.01)
    d = tau_to_dash(t, DT)
    assert d.shape == (3, 2) and d.dtype == np.int64
    assert dash_to_tau(d, DT).shape == (3, 2)


@pytest.mark.parametrize("bad", [-1e-3, np.nan, np.inf])
def test_invalid_tau(bad):
    with pytest.raises(QuantizationError):
        tau_to_dash(np.array([1e-3, bad]), DT)


def test_invalid_dt_and_dash():
    with pytest.raises(QuantizationError):
        tau_to_dash(1e-3, 0.0)
    with pytest.raises(QuantizationError):
        dash_to_tau(-1, DT)
    with pytest.raises(QuantizationError):
        dash_to_tau(1.5, DT)


def _graph(tau_mem, tau_syn):
    h = LIFPopulation("hid", len(tau_mem), tau_mem, tau_syn, 1.0)
    o = LIFPopulation("out", 1, 2e-3, 2e-3, 1.0)
    return feedforward_graph(2, [h, o], [np.ones((2, len(tau_mem))), np.ones((len(tau_mem), 1))])


@pytest.mark.parametrize("chip", available_chips())
def test_quantize_time_constants_names_population_and_neurons(chip):
    rng = get_chip(chip).dash_range
    huge = float(dash_to_tau(rng.hi + 3, DT))
    g = _graph([2e-3, huge, 8e-3, huge], [4e-3, 4e-3, 4e-3, 4e-3])
    with pytest.warns(DashClippedWarning, match=r"population 'hid' tau_mem.*index 1, 3"):
        tq = quantize_time_constants(g, chip)
    assert list(tq.dashes["hid"].dash_mem) == [1, rng.hi, 3, rng.hi]
    row = next(r for r in tq.report.rows if r.population == "hid" and r.field == "tau_mem")
    assert row.clipped == 2 and row.dash_max == rng.hi
    assert row.requested_max == huge and math.isclose(row.effective_max, naive_tau(rng.hi, DT))
    assert tq.report.clipped == 2
    assert np.array_equal(g.population("hid").tau_mem, [2e-3, huge, 8e-3, huge])  # graph unchanged


def test_synapse_rounding_to_zero_is_reported():
    g = _graph([2e-3, 2e-3], [0.3e-3, 4e-3])
    with pytest.warns(SynapseRemovedWarning, match="population 'hid' tau_syn: 1 synapse"):
        tq = quantize_time_constants(g, "xylo-audio2")
    assert tq.dashes["hid"].dash_syn[:, 0].tolist() == [0, 2]
    row = next(r for r in tq.report.rows if r.field == "tau_syn" and r.population == "hid")
    assert row.zero_dash == 1 and row.max_rel_error == 1.0
    assert "hid" in tq.report.table()
