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
from xylodeploy.interop.rockpool import build_rockpool_synnet, rockpool_to_graph  # noqa: E402


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
    graph, report = rockpool_to_graph(net)
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
    graph, _ = rockpool_to_graph(net)
    np.testing.assert_array_equal(simulate_graph(graph, x)[graph.readout], out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = graph_to_spec(graph, "xylo-audio2")
    chip = reference_spike_counts(spec, x)
    ref = out.sum(axis=1)
    assert ref.sum() > 100
    assert np.abs(chip - ref).sum() / ref.sum() < 0.2  # measured 0.076 (quantisation, hop delays)


def test_linear_bias_and_other_modules_are_refused():
    torch.manual_seed(0)
    net = Sequential(LinearTorch((4, 5), has_bias=True), LIFTorch(5), LinearTorch((5, 2)), LIFTorch(2))
    with torch.no_grad():
        net[0].bias.data[:] = 0.5
    with pytest.raises(ConfigError, match="layer '0_LinearTorch' \\(LinearTorch\\): nonzero bias"):
        rockpool_to_graph(net)
