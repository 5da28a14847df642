"""rockpool's quantisers through our adapter, checked against hand-computed values (docs/chip-facts.md, rockpool)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rockpool")

from xylodeploy.baselines.rockpool_quantizers import (  # noqa: E402
    rockpool_deployed_spec,
    rockpool_float_spec,
    rockpool_quantize,
)
from xylodeploy.drc import check  # noqa: E402
from xylodeploy.errors import ConfigError  # noqa: E402
from xylodeploy.ir.graph import Connection, LIFPopulation, NetworkGraph  # noqa: E402


def _tiny(threshold_out: float = 4.0) -> NetworkGraph:
    """docs/chip-facts.md: w_in = [0.5, -1], th = 1, bias = [0.25, -0.5], w_out = [2, 0], th_out = 4, bias_out = 1."""
    h = LIFPopulation("h", 2, tau_mem=2e-3, tau_syn=4e-3, threshold=1.0, bias=[0.25, -0.5])
    r = LIFPopulation("r", 1, tau_mem=2e-3, tau_syn=5.5e-3, threshold=threshold_out, bias=1.0)
    conns = (Connection("input", "h", [[0.5, -1.0]]), Connection("h", "r", [[2.0], [0.0]]))
    return NetworkGraph(1, (h, r), conns, readout="r")


def _two_layers() -> NetworkGraph:
    rng = np.random.default_rng(0)
    h0 = LIFPopulation("h0", 2, tau_mem=4e-3, tau_syn=4e-3, threshold=1.0)
    h1 = LIFPopulation("h1", 3, tau_mem=4e-3, tau_syn=8e-3, threshold=1.0)
    r = LIFPopulation("r", 2, tau_mem=4e-3, tau_syn=4e-3, threshold=1.0)
    conns = (
        Connection("input", "h0", rng.normal(size=(4, 2))), Connection("h0", "h1", rng.normal(size=(2, 3))),
        Connection("h1", "r", rng.normal(size=(3, 2))),
    )  # fmt: skip
    return NetworkGraph(4, (h0, h1, r), conns, readout="r")


def test_float_spec_uses_rockpools_unrounded_log2_dash():
    fs = rockpool_float_spec(_tiny())
    np.testing.assert_allclose(fs["dash_mem"], [1.0, 1.0])
    np.testing.assert_allclose(fs["dash_syn"], [2.0, 2.0])
    np.testing.assert_allclose(fs["dash_syn_out"], [np.log2(5.5)])  # 2.46 -> 2 (our nearest-decay rule gives 3)
    assert fs["weights_in"].shape == (1, 2) and fs["weights_rec"].shape == (2, 2)  # A2: 2-D for one synapse
    q = rockpool_quantize(fs, "global")
    assert q["dash_syn_out"].tolist() == [2]


def test_global_quantize_matches_hand_computed_values():
    q = rockpool_quantize(_tiny(), "global")
    assert q["weights_in"].ravel().tolist() == [64, -127]  # scale 127 / max(0.5, 1, 0.25, 0.5) = 127
    assert q["threshold"].tolist() == [127, 127]
    assert q["bias"].tolist() == [32, -64]
    assert q["weights_out"].ravel().tolist() == [127, 0]  # scale_out 127 / 2
    assert q["threshold_out"].tolist() == [254]
    assert q["bias_out"].tolist() == [127]  # rockpool's bug: hidden scale (63.5 -> 64 would be right)


def test_channel_quantize_matches_hand_computed_values_and_leaves_input_alone():
    fs = rockpool_float_spec(_tiny())
    bias_before, bias_out_before = fs["bias"].copy(), fs["bias_out"].copy()
    q = rockpool_quantize(fs, "channel")
    assert q["weights_in"].ravel().tolist() == [127, -127]  # per neuron: 127 / 0.5 and 127 / 1
    assert q["threshold"].tolist() == [254, 127]
    assert q["bias"].tolist() == [0, 0]  # one-synapse branch never scales hidden biases
    assert q["weights_out"].ravel().tolist() == [127, 0]
    assert q["threshold_out"].tolist() == [254]
    assert q["bias_out"].tolist() == [64]  # 1 * 63.5, round half to even
    np.testing.assert_array_equal(fs["bias"], bias_before)  # rockpool writes in place: we pass a copy
    np.testing.assert_array_equal(fs["bias_out"], bias_out_before)


def test_vmem_readout_threshold_kept_out_of_the_scaling():
    g = _tiny(threshold_out=32767.0)  # rockpool SynNet(output='vmem') readout threshold
    naive = rockpool_quantize(g, "global")
    # round(32767 * 63.5) overflows 16 bit: everything on the readout side is rescaled by 32767 / 2080704
    assert naive["threshold_out"].tolist() == [32767]
    assert naive["weights_out"].ravel().tolist() == [2, 0]
    careful = rockpool_quantize(g, "global", vmem_readout=True)
    assert careful["weights_out"].ravel().tolist() == [127, 0]
    assert careful["threshold_out"].tolist() == [32767]


def test_deployed_spec_drops_hidden_biases_like_config_from_specification():
    fs = rockpool_float_spec(_tiny())
    spec, defects = rockpool_deployed_spec(rockpool_quantize(fs, "global"), fs, "xylo-audio2")
    assert spec.bias.tolist() == [0, 0] and spec.bias_out.tolist() == [127]
    assert defects["hidden_biases_dropped"] == 2 and defects["nonzero_bias_out"] == 1
    assert spec.weights_in[:, :, 0].tolist() == [[64, -127]] and spec.threshold.tolist() == [127, 127]
    assert check(spec) == []


def test_deployed_spec_wraps_int8_and_keeps_bad_dashes():
    fs = rockpool_float_spec(_tiny())
    q = rockpool_quantize(fs, "global")
    q["weights_in"] = np.array([[[262], [-129]]])
    q["dash_mem"] = np.array([16, 1])
    spec, defects = rockpool_deployed_spec(q, fs, "xylo-audio2")
    assert spec.weights_in.ravel().tolist() == [6, 127]  # astype("int8")
    assert spec.dash_mem.tolist() == [16, 1]
    assert defects["int8_wrapped"] == 2 and defects["dashes_out_of_range"] == 1
    assert any("dash" in str(v) for v in check(spec))


@pytest.mark.parametrize("chip", ["xylo-audio2", "xylo-imu", "xylo-audio3"])
def test_layout_per_chip_and_back_to_a_full_spec(chip):
    g = _two_layers()
    fs = rockpool_float_spec(g, chip)
    restricted = chip != "xylo-audio2"
    assert np.shape(fs["weights_in"]) == ((4, 2, 1) if restricted else (4, 5))
    assert np.shape(fs["weights_out"]) == ((3, 2) if restricted else (5, 2))
    w_rec = np.asarray(fs["weights_rec"]).reshape(5, 5)
    np.testing.assert_array_equal(w_rec[0:2, 2:5], g.connections[1].weight[:, :, 0])
    assert np.count_nonzero(w_rec) == 6
    for method in ("channel", "global"):
        spec, _ = rockpool_deployed_spec(rockpool_quantize(fs, method, chip=chip), fs, chip)
        assert spec.weights_in.shape == (4, 5, 1) and spec.weights_out.shape == (5, 2)
        assert not spec.weights_in[:, 2:].any() and not spec.weights_out[:2].any()
        assert spec.weights_out[2:].any() and np.abs(spec.weights_out).max() == 127
        assert check(spec) == []


def test_refuses_time_constants_at_or_below_dt_like_the_mapper():
    h = LIFPopulation("h", 1, tau_mem=1e-3, tau_syn=4e-3, threshold=1.0)
    r = LIFPopulation("r", 1, tau_mem=2e-3, tau_syn=2e-3, threshold=1.0)
    g = NetworkGraph(1, (h, r), (Connection("input", "h", [[1.0]]), Connection("h", "r", [[1.0]])), readout="r")
    with pytest.raises(ConfigError, match="population 'h'"):
        rockpool_float_spec(g)
    with pytest.raises(ConfigError, match="expected one of"):
        rockpool_quantize(_tiny(), "fuzzy")
