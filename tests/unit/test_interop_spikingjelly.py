"""SpikingJelly -> NetworkGraph: LIF membrane exactness, structure of Delay/VotingLayer, chip agreement, refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spikingjelly")
from spikingjelly.activation_based import functional, layer, neuron  # noqa: E402

from xylodeploy.errors import ConfigError  # noqa: E402
from xylodeploy.interop._common import graph_to_spec, reference_spike_counts, simulate_graph  # noqa: E402
from xylodeploy.interop.spikingjelly import from_spikingjelly  # noqa: E402


def run_sj(model, x: np.ndarray) -> np.ndarray:
    out = []
    with torch.no_grad():
        for clip in torch.as_tensor(x, dtype=torch.float32):
            functional.reset_net(model)
            out.append(torch.stack([model(xt[None])[0] for xt in clip]))
    return torch.stack(out).numpy()


def _model(scale: float = 4.0) -> torch.nn.Module:
    torch.manual_seed(0)
    m = torch.nn.Sequential(
        layer.Linear(8, 20, bias=False), neuron.LIFNode(tau=4.0, v_reset=None), layer.SynapseFilter(tau=4.0),
        layer.Linear(20, 4, bias=False), neuron.LIFNode(tau=8.0, v_reset=None, decay_input=False),
    )  # fmt: skip
    with torch.no_grad():
        m[0].weight.mul_(scale)
        m[3].weight.mul_(scale)
    return m


def test_chip_spike_counts_agree_with_spikingjelly():
    m, x = _model(), (np.random.default_rng(0).random((3, 150, 8)) < 0.3).astype(np.float64)
    ref = run_sj(m, x).sum(axis=1)
    graph, report = from_spikingjelly(m)
    assert not report.exact
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = graph_to_spec(graph, "xylo-audio2")
    chip = reference_spike_counts(spec, x)
    float_graph = simulate_graph(graph, x)[graph.readout].sum(axis=1)
    assert ref.sum() > 100
    # measured 0.196 (float graph vs SpikingJelly: fast-synapse and filter approximations) and 0.202 (chip)
    assert np.abs(float_graph - ref).sum() / ref.sum() < 0.3
    assert np.abs(chip - ref).sum() / ref.sum() < 0.35


def test_lif_membrane_is_exact_when_fed_through_a_synapse_filter_of_currents():
    # SynapseFilter on a Linear's output currents is linear between spikes; with the filter before
    # a LIFNode the graph's membrane reproduces SpikingJelly's alpha = 1 - 1/tau exactly
    m = torch.nn.Sequential(layer.Linear(3, 2, bias=False), neuron.LIFNode(tau=2.0, v_reset=None, decay_input=True),
                            layer.Linear(2, 2, bias=False), neuron.LIFNode(tau=2.0, v_reset=None))  # fmt: skip
    graph, _ = from_spikingjelly(m, dt=1e-3)
    h = graph.populations[0]
    np.testing.assert_allclose(np.exp(-1e-3 / h.tau_mem), 0.5, rtol=1e-12)
    w = graph.incoming(h.name)[0].weight[:, :, 0]
    np.testing.assert_allclose(w, m[0].weight.detach().double().numpy().T * 0.5, rtol=1e-6)  # gain 1/tau


def test_delay_and_voting_become_relays_and_a_counting_readout():
    m = torch.nn.Sequential(
        layer.Linear(8, 6, bias=False), neuron.LIFNode(tau=4.0, v_reset=None), layer.Delay(2),
        layer.Linear(6, 6, bias=False), neuron.LIFNode(tau=4.0, v_reset=None), layer.VotingLayer(3),
    )  # fmt: skip
    graph, report = from_spikingjelly(m)
    assert [p.name for p in graph.populations] == ["1", "2.relay0", "2.relay1", "4", "5"]
    assert graph.readout_population.size == 2
    np.testing.assert_allclose(graph.incoming("5")[0].weight[:, :, 0].sum(axis=0), [1.0, 1.0])
    assert any("relay" in n.message for n in report.notes)


@pytest.mark.parametrize(
    ("mod", "match"),
    [
        (lambda: neuron.LIFNode(tau=2.0, v_reset=-0.5), "layer '1' \\(LIFNode\\): hard reset to v_reset=-0.5"),
        (lambda: neuron.IzhikevichNode(), "layer '1' \\(IzhikevichNode\\): only LIFNode, SimpleLIFNode"),
        (lambda: layer.Conv1d(1, 1, 3), "layer '1' \\(Conv1d\\): no Xylo equivalent"),
    ],
)
def test_refusals_name_the_layer(mod, match):
    m = torch.nn.Sequential(layer.Linear(4, 4), mod(), layer.Linear(4, 2), neuron.LIFNode(tau=2.0, v_reset=None))
    with pytest.raises(ConfigError, match=match):
        from_spikingjelly(m)


def test_hard_reset_to_zero_is_an_explicit_approximation():
    m = torch.nn.Sequential(layer.Linear(4, 4), neuron.LIFNode(tau=2.0), layer.Linear(4, 2), neuron.IFNode())
    _, report = from_spikingjelly(m)
    hard = [n for n in report.notes if "hard reset to 0" in n.message]
    assert [n.layer for n in hard] == ["1", "3"] and not any(n.exact for n in hard)


def test_every_unsupported_layer_is_named_at_once_by_its_own_type():
    net = torch.nn.Sequential(layer.Linear(4, 8), neuron.LIFNode(), torch.nn.ReLU(), layer.Linear(8, 2),
                              neuron.QIFNode())  # fmt: skip
    with pytest.raises(ConfigError) as err:
        from_spikingjelly(net)
    msg = str(err.value)
    assert msg.startswith("2 layers have no Xylo equivalent")
    assert "'2' (ReLU)" in msg and "'4' (QIFNode): only LIFNode" in msg
