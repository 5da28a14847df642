"""Mapping QuantizedGraph -> XyloSpec: layout, projections, synapses, biases, round trip (docs/chip-facts.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xylodeploy.chips import get_chip
from xylodeploy.errors import ConfigError, DesignRuleError
from xylodeploy.ir import INPUT, Connection, LIFPopulation, NetworkGraph, XyloSpec, feedforward_graph
from xylodeploy.mapping import allocate, allocation_order, allocation_violations, map_to_spec, unmap
from xylodeploy.quantize import QuantizedConnection, QuantizedGraph, QuantizedPopulation, quantize_weights


def lif(name, n, n_syn=1, bias=0.0, tau_syn=4e-3):
    return LIFPopulation(name, n, 8e-3, tau_syn, 1.0, bias=bias, n_synapses=n_syn, max_spikes=31)


def quant(graph, chip, method="channel"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_weights(graph, chip, method)


def synnet(sizes=(16, 24, 24, 4), seed=0, bias=0.05):
    rng = np.random.default_rng(seed)
    pops = [lif(f"hidden{i}", n, bias=bias) for i, n in enumerate(sizes[1:-1])] + [lif("readout", sizes[-1], bias=bias)]
    ws = [rng.normal(0, 0.3, (a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return feedforward_graph(sizes[0], pops, ws)


def manual_qgraph(chip="xylo-audio2"):
    """A hand-written QuantizedGraph: input -> a(2, 2 syn) -> b(3) -> out(2), b recurrent."""
    a = QuantizedPopulation("a", "hidden", 2, [1, 2], [[3, 4], [5, 6]], [100, 200], [7, -8])
    b = QuantizedPopulation("b", "hidden", 1, [9, 10, 11], [[12], [13], [14]], [300, 301, 302], [-1, 2, 3])
    o = QuantizedPopulation("out", "readout", 1, [4, 5], [[6], [7]], [400, 500], [9, -9])
    conns = (
        QuantizedConnection(INPUT, "a", "in", np.arange(1, 9).reshape(2, 2, 2)),
        QuantizedConnection("a", "b", "rec", np.arange(10, 16).reshape(2, 3, 1)),
        QuantizedConnection("b", "b", "rec", -np.arange(1, 10).reshape(3, 3, 1)),
        QuantizedConnection("b", "out", "out", np.arange(20, 26).reshape(3, 2, 1)),
    )
    return QuantizedGraph(chip, 2, (a, b, o), conns, "out", 1e-3, 1, 2, 3, method="manual")


def test_manual_layout_every_parameter_in_place():
    spec = map_to_spec(manual_qgraph())
    assert (
        spec.weights_in.shape == (2, 5, 2) and spec.weights_rec.shape == (5, 5, 2) and spec.weights_out.shape == (5, 2)
    )
    assert np.array_equal(spec.weights_in[:, 0:2, :], np.arange(1, 9).reshape(2, 2, 2))
    assert np.all(spec.weights_in[:, 2:, :] == 0)
    assert np.array_equal(spec.weights_rec[0:2, 2:5, 0], np.arange(10, 16).reshape(2, 3))  # feed-forward a -> b
    assert np.array_equal(spec.weights_rec[2:5, 2:5, 0], -np.arange(1, 10).reshape(3, 3))  # recurrent b -> b
    assert np.all(spec.weights_rec[..., 1] == 0) and np.all(spec.weights_rec[0:2, 0:2] == 0)
    assert np.array_equal(spec.weights_out[2:5], np.arange(20, 26).reshape(3, 2)) and np.all(spec.weights_out[:2] == 0)
    assert spec.dash_mem.tolist() == [1, 2, 9, 10, 11]
    assert spec.dash_syn.tolist() == [3, 5, 12, 13, 14] and spec.dash_syn_2[:2].tolist() == [4, 6]
    assert spec.threshold.tolist() == [100, 200, 300, 301, 302]
    assert spec.bias.tolist() == [7, -8, -1, 2, 3]  # hidden biases kept (rockpool drops them, §8.2)
    assert spec.bias_out.tolist() == [9, -9] and spec.threshold_out.tolist() == [400, 500]
    assert spec.dash_mem_out.tolist() == [4, 5] and spec.dash_syn_out.tolist() == [6, 7]
    assert (spec.weight_shift_in, spec.weight_shift_rec, spec.weight_shift_out) == (1, 2, 3)
    assert not spec.has_aliases and spec.dt == 1e-3 and spec.has_bias
    assert dict(spec.provenance["mapping"]["populations"]["b"]) == {"start": 2, "stop": 5, "n_synapses": 1}


def test_round_trip_manual_including_file(tmp_path):
    qg = manual_qgraph("xylo-audio3")
    spec = map_to_spec(qg)
    assert unmap(spec).same_integers(qg)
    spec.save(tmp_path / "net.xylo")
    assert unmap(XyloSpec.load(tmp_path / "net.xylo")).same_integers(qg)


def test_a3_two_synapse_dashes_not_interleaved():
    # rockpool's A3 mapper interleaves dash_syn and leaves dash_syn_2 at 0 (docs/chip-facts.md)
    tau = [[2e-3, 16e-3]] * 3  # dashes 1 and 4
    g = NetworkGraph(
        2,
        (lif("h", 3, n_syn=2, tau_syn=tau), lif("o", 1)),
        (Connection(INPUT, "h", np.ones((2, 3, 2))), Connection("h", "o", np.ones((3, 1)))),
        "o",
    )
    spec = map_to_spec(quant(g, "xylo-audio3"))
    assert spec.dash_syn.tolist() == [1, 1, 1] and spec.dash_syn_2.tolist() == [4, 4, 4]
    assert np.all(spec.weights_in[..., 1] != 0)


def test_imu_two_synapses_rejected_naming_population():
    g = NetworkGraph(
        2,
        (lif("encoder", 3, n_syn=2), lif("o", 1)),
        (Connection(INPUT, "encoder", np.ones((2, 3, 2))), Connection("encoder", "o", np.ones((3, 1)))),
        "o",
    )
    with pytest.raises(DesignRuleError, match="population 'encoder' uses 2 synapses per neuron, xylo-imu has 1"):
        map_to_spec(quant(g, "xylo-imu"))


def test_imu_single_hidden_layer_maps():
    # rockpool's IMU mapper crashes when one module is both IEN and OEN (docs/chip-facts.md)
    spec = map_to_spec(quant(synnet((4, 6, 3)), "xylo-imu"))
    assert spec.weights_in.shape == (4, 6, 1) and spec.weights_out.shape == (6, 3)


@pytest.mark.parametrize("chip", ["xylo-imu", "xylo-audio3"])
def test_projection_layout_ien_first_oen_last(chip):
    g = synnet((16, 100, 100, 100, 8))
    assert allocation_order(quant(g, chip)) == ("hidden0", "hidden1", "hidden2")
    spec = map_to_spec(quant(g, chip))
    assert np.flatnonzero(np.any(spec.weights_in != 0, axis=(0, 2))).max() < 128
    assert np.flatnonzero(np.any(spec.weights_out != 0, axis=1)).min() >= spec.n_hidden - 128


def test_projection_violations_all_at_once():
    g = synnet((16, 130, 40, 129, 8), bias=0.0)
    with pytest.raises(DesignRuleError) as info:
        map_to_spec(quant(g, "xylo-imu"))
    text = str(info.value)
    assert "population 'hidden0' needs hidden ids 0..129 to receive input" in text
    assert "population 'hidden2' needs hidden ids 170..298 to drive the readout" in text
    assert len(info.value.violations) == 2
    # Xylo Audio 2 has no projection limits (this net breaks its fan-out limit, a different rule)
    qa2 = quant(g, "xylo-audio2")
    assert allocation_violations(qa2, allocate(qa2), get_chip("xylo-audio2")) == []


def test_drc_violations_are_raised_and_can_be_skipped():
    g = synnet((16, 1001, 4), bias=0.0)
    qg = quant(g, "xylo-audio2")
    with pytest.raises(DesignRuleError, match="max_hidden"):
        map_to_spec(qg)
    assert map_to_spec(qg, check_rules=False).n_hidden == 1001


def test_wrong_chip_and_missing_provenance():
    qg = quant(synnet(), "xylo-audio2")
    with pytest.raises(ConfigError, match="quantized for 'xylo-audio2'"):
        map_to_spec(qg, "xylo-audio3")
    spec = map_to_spec(qg)
    with pytest.raises(ConfigError, match="no mapping provenance"):
        unmap(spec.replace(provenance={}))


def test_multi_branch_graph():
    a, b, c, o = lif("a", 3), lif("b", 2), lif("c", 4), lif("o", 2)
    conns = (
        Connection(INPUT, "a", np.ones((3, 3))),
        Connection(INPUT, "b", -np.ones((3, 2))),
        Connection("a", "c", np.ones((3, 4))),
        Connection("b", "o", np.ones((2, 2))),
        Connection("c", "o", np.ones((4, 2))),
    )
    qg = quant(NetworkGraph(3, (a, b, c, o), conns, "o"), "xylo-audio3")
    assert allocation_order(qg) == ("a", "b", "c")
    spec = map_to_spec(qg)
    assert (
        np.all(spec.weights_in[:, 3:5] < 0) and np.all(spec.weights_out[3:] > 0) and np.all(spec.weights_out[:3] == 0)
    )
    assert unmap(spec).same_integers(qg)


@st.composite
def graphs(draw, two_syn: bool):
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    n_in = draw(st.integers(1, 16))
    sizes = draw(st.lists(st.integers(1, 20), min_size=1, max_size=3))
    pops, conns, prev = [], [], INPUT
    for i, n in enumerate(sizes):
        k = 2 if two_syn and draw(st.booleans()) else 1
        pops.append(lif(f"h{i}", n, n_syn=k, bias=rng.normal(0, 0.02, n)))
        n_src = n_in if prev == INPUT else pops[-2].size
        conns.append(Connection(prev, f"h{i}", rng.normal(0, 0.5, (n_src, n, k))))
        if draw(st.booleans()):
            conns.append(Connection(f"h{i}", f"h{i}", rng.normal(0, 0.1, (n, n))))
        prev = f"h{i}"
    n_out = draw(st.integers(1, 8))
    pops.append(lif("out", n_out, bias=rng.normal(0, 0.05, n_out)))
    conns.append(Connection(prev, "out", rng.normal(0, 0.5, (sizes[-1], n_out))))
    return NetworkGraph(n_in, tuple(pops), tuple(conns), "out")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    chip=st.sampled_from(["xylo-audio2", "xylo-imu", "xylo-audio3"]),
    method=st.sampled_from(["global", "channel"]),
)
def test_round_trip_keeps_every_parameter(data, chip, method):
    g = data.draw(graphs(two_syn=get_chip(chip).two_synapses))
    qg = quant(g, chip, method)
    spec = map_to_spec(qg)
    back = unmap(spec)
    assert back.same_integers(qg)
    assert np.array_equal(spec.bias[spec.n_hidden - g.population(g.topological_order()[-2]).size :],
                          qg.population(g.topological_order()[-2]).bias)  # fmt: skip
    nonzero_bias = any(np.any(p.bias != 0) for p in qg.populations)
    assert spec.has_bias == nonzero_bias


def test_mapped_synaptic_currents_follow_the_float_model():
    """Reference simulator on the mapped spec vs a naive float model of the same network.

    Isyn of input-driven neurons does not depend on spikes: isyn[t] = beta * (isyn[t-1] + W x[t]) with
    beta = 1 - 2**-dash_syn and W the de-quantised weights (w_int * 2**ws / s). The chip's floor decay
    differs from the float decay by < 1 LSB per step and the errors decay geometrically, so
    |isyn_int / s - isyn| < 1 / ((1 - beta) s) = 2**dash_syn / s; a wrong scale, shift, dash or
    placement breaks this by orders of magnitude.
    """
    from xylodeploy.backends.reference import ReferenceBackend
    from xylodeploy.quantize import dash_to_tau

    rng = np.random.default_rng(1)
    n_in, n_h, T = 8, 12, 40
    w_float = rng.normal(0, 0.3, (n_in, n_h))
    g = feedforward_graph(n_in, [lif("h", n_h, tau_syn=8e-3), lif("o", 2)], [w_float, rng.normal(0, 0.3, (n_h, 2))])
    qg = quant(g, "xylo-audio2")
    spec = map_to_spec(qg)
    x = (rng.random((T, n_in)) < 0.3).astype(np.int64)
    sim = ReferenceBackend()
    sim.load(spec)
    isyn_int = sim.run(x, record=True).isyn[0].astype(float)  # (T, Nh)

    h = qg.population("h")
    beta = np.exp(-g.dt / dash_to_tau(h.dash_syn[:, 0], g.dt))
    w = qg.connections[0].weight[:, :, 0] * 2.0**qg.weight_shift_in / h.scale
    assert np.abs(w - w_float).max() <= (2.0**qg.weight_shift_in / (2 * h.scale)).max()
    isyn = np.zeros(n_h)
    for t in range(T):
        isyn = beta * (isyn + x[t] @ w)
        assert np.all(np.abs(isyn_int[t] / h.scale - isyn) < 1 / ((1 - beta) * h.scale)), t
    assert np.abs(isyn_int).max() < 32767  # the comparison is only valid without saturation
