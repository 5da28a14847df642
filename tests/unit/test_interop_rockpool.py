"""rockpool -> NetworkGraph: exact float reproduction, chip agreement, refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("rockpool")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch

from xylodeploy.errors import ConfigError  # noqa: E402
from xylodeploy.interop._common import graph_to_spec, reference_spike_counts, simulate_graph  # noqa: E402
from xylodeploy.interop.rockpool import build_rockpool_synnet, from_rockpool  # noqa: E402


def _net() -> object:
    torch.manual_seed(0)
    net = Sequential(
        LinearTorch((6, 16)), LIFTorch((16, 8), has_rec=True, tau_syn=4e-3, max_spikes_per_dt=31),
        LinearTorch((8, 3)), LIFTorch(3, max_spikes_per_dt=1),
    )  # fmt: skip
    with torch.no_grad():
        net[1].w_rec.data *= 0.2
    return net


def _raster(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((3, 100, 6)) < 0.3).astype(np.float32)


def test_two_synapse_recurrent_sequential_is_reproduced_exactly():
    net, x = _net(), _raster()
    out = net(torch.as_tensor(x))[0].detach().numpy()
    graph, report = from_rockpool(net)
    assert report.exact and graph.populations[0].n_synapses == 2 and graph.recurrent(graph.populations[0].name)
    np.testing.assert_array_equal(simulate_graph(graph, x)[graph.readout], out)
    assert out.sum() > 50


def test_synnet_is_reproduced_exactly_and_runs_on_the_chip_within_tolerance():
    torch.manual_seed(0)
    net = build_rockpool_synnet(n_classes=3, n_channels=6, size_hidden_layers=[12, 10], time_constants_per_layer=[2, 3])
    with torch.no_grad():
        for name, mod in net.seq.modules().items():
            if "linear" in name:
                mod.weight.mul_(5)
    x = _raster(1)
    out = net(torch.as_tensor(x))[0].detach().numpy()
    graph, _ = from_rockpool(net)
    np.testing.assert_array_equal(simulate_graph(graph, x)[graph.readout], out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = graph_to_spec(graph, "xylo-audio2")
    chip = reference_spike_counts(spec, x)
    ref = out.sum(axis=1)
    assert ref.sum() > 100
    assert np.abs(chip - ref).sum() / ref.sum() < 0.2  # measured 0.076 (quantisation, hop delays)


def _counts_error(graph, net, x) -> float:
    ref = net(torch.as_tensor(x))[0].detach().numpy()
    ours = simulate_graph(graph, x)[graph.readout]
    assert ref.sum() > 20
    return float(np.abs(ours.sum(1) - ref.sum(1)).sum() / ref.sum())


def test_linear_bias_becomes_a_steady_state_neuron_bias_with_small_error():
    torch.manual_seed(0)
    net = Sequential(LinearTorch((6, 16), has_bias=True), LIFTorch(16), LinearTorch((16, 3)), LIFTorch(3))
    with torch.no_grad():
        net[0].bias.data[:] = 0.05
    graph, report = from_rockpool(net)
    assert not report.exact and any("LinearTorch bias" in n.message for n in report.notes)
    assert _counts_error(graph, net, _raster()) < 0.05  # measured 0.000 (only the first steps differ)


def test_noise_and_dropout_are_noted_and_exp_syn_readout_is_an_exact_membrane_readout():
    from rockpool.nn.modules import ExpSynTorch

    torch.manual_seed(0)
    net = Sequential(LinearTorch((6, 16)), LIFTorch(16, noise_std=0.1), LinearTorch((16, 3)), ExpSynTorch(3, tau=5e-3))
    graph, report = from_rockpool(net)
    assert report.readout == "vmem" and any("noise_std" in n.message and not n.exact for n in report.notes)
    net[1].noise_std = 0.0  # the noise-free rockpool model is what the chip reproduces
    x = _raster()
    ref = net(torch.as_tensor(x))[0].detach().numpy()
    np.testing.assert_allclose(simulate_graph(graph, x)[f"{graph.readout}.v"], ref, rtol=1e-5, atol=1e-6)


def test_vmem_synnet_is_calibrated_on_the_chip_not_zeroed():
    from xylodeploy.drc import advisories
    from xylodeploy.interop import agreement as agr

    torch.manual_seed(0)
    net = build_rockpool_synnet(n_classes=4, n_channels=6, size_hidden_layers=[16], time_constants_per_layer=[2],
                                output="vmem", p_dropout=0.3)  # fmt: skip
    graph, report = from_rockpool(net)
    assert report.readout == "vmem" and any("dropout" in n.message for n in report.notes)
    clips = (np.random.default_rng(1).random((6, 80, 6)) < 0.3).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec, qgraph = agr.quantize_for_chip(graph, "xylo-audio2", "channel", clips, "vmem")
        naive = graph_to_spec(graph, "xylo-audio2")
    assert [v.rule for v in advisories(naive)] == ["dead_readout"]  # the defect of issue 12
    assert np.any(spec.weights_out) and not advisories(spec)
    res = agr.compare(graph, spec, clips, readout_mode="vmem", scale=agr.readout_scale(qgraph))
    assert res.informative == 6 and res.same_class >= 0.8 and res.readout_error < 0.5


def test_other_modules_are_refused_by_path_and_type():
    from rockpool.nn.modules import InstantTorch

    net = Sequential(LinearTorch((4, 5)), LIFTorch(5), InstantTorch(5), LinearTorch((5, 2)), LIFTorch(2))
    with pytest.raises(ConfigError, match="layer '2_InstantTorch' \\(InstantTorch\\)"):
        from_rockpool(net)
