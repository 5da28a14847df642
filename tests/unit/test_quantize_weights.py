"""Weight/threshold/bias quantisation: ranges, joint scaling, shifts, no rockpool defects (docs/chip-facts.md)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xylodeploy.chips import available_chips, get_chip
from xylodeploy.errors import QuantizationError
from xylodeploy.ir import INPUT, Connection, LIFPopulation, NetworkGraph, feedforward_graph
from xylodeploy.quantize import quantize_time_constants, quantize_weights


def lif(name, n, threshold=1.0, bias=0.0, max_spikes=31, n_syn=1):
    return LIFPopulation(name, n, 4e-3, 4e-3, threshold, bias=bias, n_synapses=n_syn, max_spikes=max_spikes)


def tiny(w_in, th, bias, w_out, th_out, bias_out) -> NetworkGraph:
    """The example network of docs/chip-facts.md, rockpool (one input, two hidden neurons, one readout)."""
    w_in, w_out = np.atleast_2d(w_in), np.asarray(w_out, float).reshape(-1, 1)
    h = lif("h", w_in.shape[1], th, bias)
    o = lif("o", 1, th_out, bias_out, max_spikes=1)
    return feedforward_graph(w_in.shape[0], [h, o], [w_in, w_out])


def q(graph, chip="xylo-audio2", method="channel", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_weights(quantize_time_constants(graph, chip), method=method, **kw)


# --- example-based: hand-computed shifts and scales ------------------------------------------------
def test_shift_choice_by_hand():
    # max|W| = 0.5, threshold 1: s = 127 * 2**ws / 0.5 = 254 * 2**ws; threshold must stay <= 32767 >> 2 = 8191
    g = tiny([[0.5, -0.25]], 1.0, 0.0, [1.0, 0.5], 2.0, 0.0)
    qg = q(g, method="global")
    assert qg.weight_shift_in == 5  # 254 * 32 = 8128 <= 8191 < 254 * 64
    h = qg.population("h")
    assert h.threshold.tolist() == [8128, 8128]
    assert qg.connections[0].weight[..., 0].tolist() == [[127, -64]]  # 8128 * [0.5, -0.25] / 32 = 127, -63.5 -> -64
    # readout: max|W| = 1, th 2: 127 * 2**ws * 2 <= 8191 -> ws = 5, threshold 8128
    assert qg.weight_shift_out == 5 and qg.population("o").threshold.tolist() == [8128]
    # without headroom the largest shift that keeps thresholds in int16 is 7 (254 * 128 = 32512)
    assert q(g, method="global", headroom_bits=0).weight_shift_in == 7


def test_bias_limits_the_scale_instead_of_being_clipped():
    # bias 0.5 must fit the (8-bit) bias range: s <= 127 / 0.5 = 254; full-range weights (max|W| = 1)
    # need s = 127 * 2**ws -> ws 1, threshold 254 (instead of 8128 at ws 6 without the bias)
    g = tiny([[0.5, -1.0]], 1.0, [0.5, 0.0], [1.0, 0.0], 1.0, 0.0)
    qg = q(g, method="global")
    assert qg.weight_shift_in == 1
    assert qg.connections[0].weight[..., 0].tolist() == [[64, -127]]
    assert qg.population("h").bias.tolist() == [127, 0]
    assert qg.population("h").threshold.tolist() == [254, 254]
    assert qg.report.layer("h").clipped == 0


def test_rockpool_example_bias_out_uses_readout_scale():
    # docs/chip-facts.md: rockpool gives bias_out 127 (hidden scale) where 64 (readout scale) is right
    g = tiny([[0.5, -1.0]], 1.0, [0.25, -0.5], [2.0, 0.0], 4.0, 1.0)
    for method in ("global", "channel"):
        qg = q(g, method=method)
        o, h = qg.population("o"), qg.population("h")
        assert o.bias[0] / o.threshold[0] == pytest.approx(1.0 / 4.0, rel=0.02)  # bias_out : threshold_out kept
        assert np.allclose(h.bias / h.threshold, [0.25, -0.5], rtol=0.02)
        assert qg.report.clipped == 0


def test_channel_scales_one_synapse_biases():
    # rockpool's channel_quantize never scales hidden biases in the one-synapse branch (0.25 -> 0)
    g = tiny([[0.5, -1.0]], 1.0, [0.25, -0.5], [2.0, 0.0], 4.0, 1.0)
    h = q(g, method="channel").population("h")
    assert np.all(h.bias != 0) and np.allclose(h.bias / h.scale, [0.25, -0.5], rtol=0.02)


def test_outliers_clip_and_never_wrap():
    # rockpool fuzzy scaling: 20 weights of 0.1 and one of 5.0 -> 262, wrapped to 6 by astype(int8)
    w = np.full((21, 1), 0.1)
    w[20, 0] = 5.0
    g = tiny(w, 1.0, 0.0, [1.0], 1.0, 0.0)
    qg = q(g, clip_percentile=50)
    wq = qg.connections[0].weight[:, 0, 0]
    assert wq[20] == 127 and np.all(wq[:20] == 127)
    rep = qg.report.layer("h")
    assert rep.clipped_weights == 1 and rep.n_weights == 21 and rep.weight_smape > 0


def test_readout_scaled_independently_from_hidden():
    g1 = tiny([[0.5, -1.0]], 1.0, 0.0, [2.0, 1.0], 4.0, 0.0)
    g2 = tiny([[0.5, -1.0]], 1.0, 0.0, [200.0, 100.0], 400.0, 0.0)
    a, b = q(g1, method="global"), q(g2, method="global")
    assert np.array_equal(a.connections[0].weight, b.connections[0].weight)  # hidden unchanged
    assert np.array_equal(a.connections[1].weight, b.connections[1].weight)  # readout is scale-free
    assert a.population("o").threshold.tolist() == b.population("o").threshold.tolist()


def test_global_has_one_hidden_scale_channel_one_per_neuron():
    g = tiny([[0.5, -0.05], [0.1, 0.02]], [1.0, 2.0], 0.0, [1.0, 1.0], 1.0, 0.0)
    rg, rc = q(g, method="global").report.layer("h"), q(g, method="channel").report.layer("h")
    assert rg.scale_min == rg.scale_max
    assert rc.scale_min < rc.scale_max
    assert rc.weight_smape <= rg.weight_smape


def test_tiny_weights_are_reported_as_zeroed():
    g = tiny([[1e-6, 1.0]], [1.0, 1.0], 0.0, [1.0, 1.0], 1.0, 0.0)
    assert q(g, method="global").report.layer("h").zeroed_weights == 1


def test_saturation_risk_by_hand():
    # 4 inputs of weight 1, threshold 1, global: 127 * 2**ws <= 8191 -> ws 6, threshold 8128
    g = tiny(np.ones((4, 1)), 1.0, 0.0, [1.0], 1.0, 0.0)
    qg = q(g, method="global")
    rep = qg.report.layer("h")
    assert qg.weight_shift_in == 6 and qg.population("h").threshold.tolist() == [8128]
    assert rep.unit_drive_ratio == pytest.approx(4 * 127 * 64 / 32767)  # one event per input
    assert rep.worst_drive_ratio == pytest.approx(15 * 4 * 127 * 64 / 32767)  # 15 events per channel
    assert rep.neurons_at_risk == 1 and rep.spikes_before_saturation == 32767 // 8128


def test_two_synapse_weights_share_one_state_scale():
    h = lif("h", 2, n_syn=2)
    o = lif("o", 1, max_spikes=1)
    w = np.array([[[0.5, 0.25], [1.0, -0.1]]])
    g = NetworkGraph(1, (h, o), (Connection(INPUT, "h", w), Connection("h", "o", np.ones((2, 1)))), "o")
    qg = q(g)
    wq = qg.connections[0].weight.astype(float) * 2**qg.weight_shift_in
    hq = qg.population("h")
    assert np.allclose(wq / hq.scale[None, :, None], w, atol=2**qg.weight_shift_in / hq.scale.min())
    assert hq.dash_syn.shape == (2, 2)


@pytest.mark.parametrize(
    ("graph", "needle"),
    [
        (lambda: feedforward_graph(2, [lif("o", 2)], [np.ones((2, 2))]), "no direct input-to-readout"),
        (lambda: NetworkGraph(2, (lif("h", 2), lif("o", 1)),
                              (Connection(INPUT, "h", np.ones((2, 2))), Connection("h", "o", np.ones((2, 1))),
                               Connection("o", "o", np.ones((1, 1)))), "o"), "readout neurons cannot drive"),
    ],
)  # fmt: skip
def test_unsupported_structure(graph, needle):
    with pytest.raises(QuantizationError, match=needle):
        q(graph())


def test_argument_errors():
    g = tiny([[0.5, -1.0]], 1.0, 0.0, [1.0, 0.0], 1.0, 0.0)
    with pytest.raises(QuantizationError, match="unknown quantisation method"):
        quantize_weights(g, "xylo-imu", method="fuzzy")
    with pytest.raises(QuantizationError, match="needs a chip"):
        quantize_weights(g)
    with pytest.raises(QuantizationError, match="not 'xylo-imu'"):
        quantize_weights(quantize_time_constants(g, "xylo-audio2"), "xylo-imu")
    with pytest.raises(QuantizationError, match="clip_percentile"):
        quantize_weights(g, "xylo-imu", clip_percentile=0)


# --- property-based ---------------------------------------------------------------------------------
@st.composite
def graphs(draw):
    n_in = draw(st.integers(1, 6))
    sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    n_out = draw(st.integers(1, 4))
    mag = draw(st.sampled_from([1e-3, 0.1, 1.0, 30.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    pops, ws, prev = [], [], n_in
    for i, n in enumerate([*sizes, n_out]):
        bias = rng.normal(0, mag * draw(st.sampled_from([0.0, 0.01, 1.0])), n)
        pops.append(lif(f"p{i}", n, threshold=rng.uniform(0.1, 3.0, n) * mag, bias=bias))
        w = rng.normal(0, mag, (prev, n)) * (rng.random((prev, n)) < 0.8)
        ws.append(w)
        prev = n
    rec = {"p0": rng.normal(0, mag, (sizes[0], sizes[0]))} if draw(st.booleans()) else None
    return feedforward_graph(n_in, pops, ws, recurrent=rec)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    g=graphs(),
    chip=st.sampled_from(available_chips()),
    method=st.sampled_from(["global", "channel"]),
    pct=st.sampled_from([100.0, 90.0]),
    headroom=st.integers(0, 4),
)
def test_quantized_values_always_in_range_and_input_untouched(g, chip, method, pct, headroom):
    spec = get_chip(chip)
    before = copy.deepcopy(g)
    qg = q(g, chip, method, clip_percentile=pct, headroom_bits=headroom)
    for c in qg.connections:
        assert spec.weight_range.lo <= c.weight.min() and c.weight.max() <= spec.weight_range.hi
    for p in qg.populations:
        assert p.threshold.min() >= 1 and p.threshold.max() <= spec.threshold_range.hi
        assert spec.bias_range.lo <= p.bias.min() and p.bias.max() <= spec.bias_range.hi
    for s in (qg.weight_shift_in, qg.weight_shift_rec, qg.weight_shift_out):
        assert spec.weight_shift_range.lo <= s <= spec.weight_shift_range.hi
    # never mutates the input graph
    for a, b in zip(before.populations, g.populations, strict=True):
        for f in ("tau_mem", "tau_syn", "threshold", "bias"):
            assert np.array_equal(getattr(a, f), getattr(b, f))
    for a, b in zip(before.connections, g.connections, strict=True):
        assert np.array_equal(a.weight, b.weight)
    # de-quantised weights are within half an LSB of the float weights wherever nothing was clipped
    if pct == 100.0:
        floats = {(c.source, c.target): c for c in g.connections}
        for c in qg.connections:
            fc = floats[(c.source, c.target)]
            s = qg.population(c.target).scale[None, :, None]
            lsb = 2.0 ** qg.shift(c.group) / s
            assert np.all(np.abs(c.weight * lsb - fc.weight) <= lsb / 2 + 1e-9 * np.abs(fc.weight))
        for p in qg.populations:
            fp = g.population(p.name)
            if qg.report.layer(p.name).clipped_thresholds == 0:
                assert np.all(np.abs(p.threshold / p.scale - fp.threshold) <= 0.5 / p.scale + 1e-12)
