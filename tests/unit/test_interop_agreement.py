"""Float-vs-chip agreement of imports: named causes, membrane readouts, silent readouts (hand-built graphs)."""

from __future__ import annotations

import warnings

import numpy as np

from xylodeploy.interop import agreement as agr
from xylodeploy.ir.graph import INPUT, Connection, LIFPopulation, NetworkGraph

DT = 1e-3


def _graph(alpha: float, beta: float, w_out: float = 1.0, thr_out: float = 1.0, seed: int = 0) -> NetworkGraph:
    """8 -> 16 -> 3 chain with snnTorch-style per-step decays ``alpha`` (synapse) and ``beta`` (membrane)."""
    rng = np.random.default_rng(seed)
    tau = lambda a: -DT / np.log(a)  # noqa: E731
    h = LIFPopulation("h", 16, tau_mem=tau(beta), tau_syn=tau(alpha), threshold=1.0, dt=DT, max_spikes=31)
    o = LIFPopulation("o", 3, tau_mem=tau(beta), tau_syn=tau(alpha), threshold=thr_out, dt=DT)
    conns = (
        Connection(INPUT, "h", rng.normal(0.3, 0.5, (8, 16))),
        Connection("h", "o", w_out * rng.normal(0.3, 0.5, (16, 3))),
    )
    return NetworkGraph(8, (h, o), conns, "o", name="t")


def _run(graph: NetworkGraph, mode: str = "spikes", clips=None):
    if clips is None:
        clips, _ = agr.example_clips(graph, n_clips=4, t_len=80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec, q = agr.quantize_for_chip(graph, "xylo-audio2", "channel", clips, mode)
    causes = agr.diagnose(graph, q)
    return spec, causes, agr.compare(graph, spec, clips, readout_mode=mode, scale=agr.readout_scale(q), causes=causes)


def test_time_constants_that_round_together_are_named_per_layer():
    _, causes, _ = _run(_graph(0.9, 0.85))
    hit = [c for c in causes["h"] if "round together" in c]
    assert hit and "decays 0.85 and 0.9 per step both become dash 3 = 0.875" in hit[0]
    _, causes, _ = _run(_graph(0.5, 0.875))  # both exactly representable, different dashes
    assert "h" not in causes and "o" not in causes


def test_representable_network_agrees_and_loss_is_reported_with_its_cause():
    _, _, good = _run(_graph(0.5, 0.875))
    assert good.informative > 0 and good.readout_error < 0.1 and not good.warnings
    _, _, bad = _run(_graph(0.9, 0.85))
    assert any("round together" in w and "loses" in w for w in bad.warnings)


def test_all_zero_readout_weights_are_a_dead_readout_not_agreement():
    g = _graph(0.5, 0.875, w_out=1e-9)  # every readout weight quantises to zero against the hidden scale
    _, causes, res = _run(g)
    assert any("dead readout" in c for c in causes["o"])
    assert any("dead readout" in w for w in res.warnings)


def test_silent_float_readout_is_never_counted_as_agreement():
    g = _graph(0.5, 0.875, thr_out=1e6)  # readout never fires in float
    clips = np.zeros((2, 40, 8), dtype=np.int64)
    _, _, res = _run(g, clips=clips)
    assert res.informative == 0 and np.isnan(res.same_class)
    assert any("silent on every clip" in w for w in res.warnings)


def test_membrane_readout_is_scaled_on_the_clips_and_compared_on_its_membrane():
    tau = -DT / np.log(0.875)
    h = LIFPopulation("h", 16, tau_mem=tau, tau_syn=-DT / np.log(0.5), threshold=1.0, dt=DT, max_spikes=31)
    o = LIFPopulation("o", 3, tau_mem=tau, tau_syn=-DT / np.log(0.5), threshold=2.0**15 - 1, dt=DT)
    rng = np.random.default_rng(3)
    g = NetworkGraph(8, (h, o), (Connection(INPUT, "h", rng.normal(0.3, 0.5, (8, 16))),
                                 Connection("h", "o", rng.normal(0, 0.5, (16, 3)))), "o")  # fmt: skip
    assert agr.readout_mode_of(g) == "vmem"
    spec, _, res = _run(g, mode="vmem")
    assert np.any(spec.weights_out) and res.informative == 4
    assert res.readout_error < 0.3 and res.same_class >= 0.75


def test_threshold_below_one_chip_unit_is_named():
    g = _graph(0.5, 0.875)
    h = g.populations[0].replace(threshold=np.r_[np.full(15, 1.0), 1e-4])  # needs 0.3 chip units: holds 1
    g = NetworkGraph(g.n_inputs, (h, g.populations[1]), g.connections, "o")
    _, causes, _ = _run(g)
    assert any(c.startswith("threshold out of range: 0.0001 needs") and "1 neuron(s)" in c for c in causes["h"])


def test_silent_chip_readout_never_has_the_same_winning_readout():
    g = _graph(0.5, 0.875)
    w = g.connections[1].weight.copy()
    w[:, 0] = np.abs(w[:, 0]) + 1.0  # readout 0 wins in float: a silent chip's tie-rule class 0 would match
    g = g.replace(connections=(g.connections[0], Connection("h", "o", w)))
    clips, _ = agr.example_clips(g, n_clips=4, t_len=80)
    spec, _, res = _run(g, clips=clips)
    assert res.informative > 0 and res.same_class == 1.0
    dead = spec.replace(weights_out=np.zeros_like(spec.weights_out))  # chip readout silent, argmax 0 by ties
    res = agr.compare(g, dead, clips, causes={})
    assert res.informative > 0 and res.same_class == 0.0
    assert any("loses 100.0%" in w for w in res.warnings)


def test_readout_firing_more_than_once_per_step_in_the_source_is_named():
    g = _graph(0.5, 0.875, w_out=20.0)
    pops = (g.populations[0], g.populations[1].replace(max_spikes=2**16))  # rockpool LIFTorch's default
    g = g.replace(populations=pops)
    _, causes, res = _run(g)
    assert any("at most 1 per step" in c for c in causes["o"])
    assert any("'o' loses" in w and "at most 1 per step" in w for w in res.warnings)


def test_a_loss_just_over_the_threshold_does_not_read_as_equal_to_it():
    ag = agr.Agreement("clips", "spikes", layer_error={"h": 0.104}, readout_error=0.0, informative=1)
    agr._warn(ag, _graph(0.5, 0.875), {}, agr.LOSS_THRESHOLD)
    assert ag.warnings == [
        "layer 'h' loses 10.4% on the chip (threshold 10%): no single static cause found (accumulated quantisation "
        "error)"
    ]


def test_generated_clips_drive_a_model_silent_at_every_rate_as_hard_as_they_can():
    g = _graph(0.5, 0.875, thr_out=1e6)
    h = g.populations[0].replace(threshold=1e6)
    clips, text = agr.example_clips(g.replace(populations=(h, g.populations[1])), n_clips=2, t_len=40)
    assert "rate 0.4 " in text and clips.mean() > 0.3


def test_hidden_layer_allowed_more_spikes_per_step_than_the_chip_is_named():
    g = _graph(0.5, 0.875)
    g = g.replace(populations=(g.populations[0].replace(max_spikes=2**16), g.populations[1]))
    _, causes, _ = _run(g)
    assert any("at most 31 per step" in c for c in causes["h"])
    _, causes, _ = _run(_graph(0.5, 0.875))  # max_spikes=31, as the chip: no such cause
    assert not any("per step" in c for c in causes.get("h", []))


def test_a_hidden_layer_silent_on_both_sides_is_not_judged():
    g = _graph(0.5, 0.875)
    clips = np.zeros((2, 40, 8), dtype=np.int64)
    _, _, res = _run(g, clips=clips)
    assert np.isnan(res.layer_error["h"])
    assert "  layer 'h': silent in the float graph and on the chip (not judged)" in res.lines()
