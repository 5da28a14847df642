"""extract(): SynNet and nn.Sequential(Linear, LIFLayer) -> NetworkGraph; refusals; hop-delay warnings.

The graph's float dynamics are checked against the torch model itself: both run in float64 on the
same clips (`simulate_graph`, an independent numpy loop) and must give the same spikes and membranes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from xylodeploy.extract import ExtractionError, HopDelayWarning, extract
from xylodeploy.interop._common import simulate_graph
from xylodeploy.ir import INPUT
from xylodeploy.models import SynNet
from xylodeploy.models.lif import LIFLayer


def _events(c: int, t: int = 60, b: int = 3, rate: float = 0.4, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((b, t, c), rate, dtype=torch.float64), generator=gen)


def _synnet(sizes: list[int], output: str, **kw) -> SynNet:
    torch.manual_seed(0)
    m = SynNet(4, 8, size_hidden_layers=sizes, time_constants_per_layer=[2] * len(sizes), output=output, **kw)
    m = m.double().eval()
    with torch.no_grad():  # non-trivial biases and enough drive to spike
        for i, lif in enumerate([*m.hidden, m.readout]):
            lif.bias.copy_(torch.linspace(-0.05, 0.08, lif.n_neurons, dtype=torch.float64) * (i + 1))
        for w in m.weights:
            w.mul_(4)
    return m


def _no_warnings(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args)


@pytest.mark.parametrize(("sizes", "output"), [([12], "vmem"), ([12, 10], "spikes")])
def test_synnet_graph_structure_and_parameters(sizes: list[int], output: str) -> None:
    m = _synnet(sizes, output)
    g = _no_warnings(extract, m)  # hop_delay=True matches the chip: no warning
    names = [f"hidden{i}" for i in range(len(sizes))] + ["readout"]
    assert [p.name for p in g.populations] == names and g.readout == "readout"
    assert g.n_inputs == 8 and [p.size for p in g.populations] == [*sizes, 4]
    lifs = [*m.hidden, m.readout]
    for pop, lif in zip(g.populations, lifs, strict=True):
        assert np.array_equal(pop.tau_mem, lif.tau_mem.numpy())
        assert np.array_equal(pop.tau_syn.reshape(lif.n_neurons, -1), lif.tau_syn.numpy().reshape(lif.n_neurons, -1))
        assert np.array_equal(pop.threshold, lif.threshold.numpy())
        assert np.array_equal(pop.bias, lif.bias.numpy()) and np.any(pop.bias != 0)
        assert pop.max_spikes == lif.max_spikes and pop.dt == lif.dt
    sources = [INPUT, *names[:-1]]
    assert [(c.source, c.target) for c in g.connections] == list(zip(sources, names, strict=True))
    for c, w in zip(g.connections, m.weights, strict=True):  # [source, target, synapse] = torch (in, out)
        assert c.weight.shape == (*w.shape, 1)
        assert np.array_equal(c.weight[:, :, 0], w.detach().numpy())
    assert g.readout_population.threshold[0] == m.readout.threshold[0]


@pytest.mark.parametrize(("sizes", "output"), [([12], "vmem"), ([12, 10], "spikes")])
def test_synnet_graph_dynamics_equal_torch(sizes: list[int], output: str) -> None:
    m = _synnet(sizes, output)
    x = _events(8)
    with torch.no_grad():
        rec = m.record(x)
    sim = simulate_graph(extract(m), x.numpy(), hop_delay=True)
    for i, h in enumerate(rec.hidden):
        assert h.spikes.sum() > 0
        assert np.array_equal(sim[f"hidden{i}"], h.spikes.numpy())
        np.testing.assert_allclose(sim[f"hidden{i}.v"], h.vmem.numpy(), rtol=0, atol=1e-9)
    assert np.array_equal(sim["readout"], rec.readout.spikes.numpy())
    np.testing.assert_allclose(sim["readout.v"], rec.readout.vmem.numpy(), rtol=0, atol=1e-9)


def test_synnet_without_hop_delay_warns_with_hop_count() -> None:
    for sizes in ([12], [12, 10]):
        m = _synnet(sizes, "vmem", hop_delay=False)
        with pytest.warns(HopDelayWarning, match=rf"each of its {len(sizes)} hidden->hidden/readout hop"):
            g = extract(m)
        x = _events(8, seed=2)
        with torch.no_grad():
            rec = m.record(x)
        sim = simulate_graph(g, x.numpy(), hop_delay=False)  # rockpool timing: same-step delivery
        assert np.array_equal(sim["readout"], rec.readout.spikes.numpy())
        np.testing.assert_allclose(sim["readout.v"], rec.readout.vmem.numpy(), rtol=0, atol=1e-9)


def _sequential() -> nn.Sequential:
    torch.manual_seed(3)
    rec = LIFLayer(6, tau_mem=8e-3, tau_syn=torch.linspace(2e-3, 9e-3, 6), threshold=0.9, bias=0.02, has_rec=True)
    two = LIFLayer(3, 2, tau_mem=6e-3, tau_syn=[[2e-3, 12e-3]] * 3, threshold=[0.7, 0.8, 1.1], max_spikes=1)
    seq = nn.Sequential(nn.Linear(5, 6, bias=False), rec, nn.Dropout(0.1), nn.Linear(6, 6, bias=False), two)
    seq = seq.double().eval()
    with torch.no_grad():
        seq[0].weight.mul_(3)
        seq[3].weight.mul_(3)
        rec.w_rec.mul_(0.5)
    return seq


def test_sequential_recurrent_and_two_synapse_layers() -> None:
    seq = _sequential()
    with pytest.warns(HopDelayWarning, match="nn.Sequential"):
        g = extract(seq)
    assert [p.name for p in g.populations] == ["hidden0", "readout"] and g.n_inputs == 5
    h, r = g.populations
    assert (h.n_synapses, r.n_synapses, r.max_spikes) == (1, 2, 1)
    assert np.array_equal(r.tau_syn, seq[4].tau_syn.numpy()) and np.allclose(r.threshold, [0.7, 0.8, 1.1])
    assert np.allclose(h.bias, 0.02)
    conns = {(c.source, c.target): c.weight for c in g.connections}
    assert set(conns) == {(INPUT, "hidden0"), ("hidden0", "hidden0"), ("hidden0", "readout")}
    assert np.array_equal(conns[(INPUT, "hidden0")][:, :, 0], seq[0].weight.detach().numpy().T)
    assert np.array_equal(conns[("hidden0", "hidden0")][:, :, 0], seq[1].w_rec.detach().numpy())
    w_out = seq[3].weight.detach().numpy().T  # (6 sources, 3 neurons * 2 synapses), column n*2 + s
    assert conns[("hidden0", "readout")].shape == (6, 3, 2)
    assert np.array_equal(conns[("hidden0", "readout")][:, 1, 0], w_out[:, 2])
    assert np.array_equal(conns[("hidden0", "readout")][:, 1, 1], w_out[:, 3])
    x = _events(5, seed=1, rate=0.6)
    with torch.no_grad():
        hid = seq[1].forward_states(seq[0](x))
        out = seq[4].forward_states(seq[3](hid.spikes))
    assert hid.spikes.sum() > 0 and out.spikes.sum() > 0
    sim = simulate_graph(g, x.numpy(), hop_delay=False)
    assert np.array_equal(sim["hidden0"], hid.spikes.numpy())
    assert np.array_equal(sim["readout"], out.spikes.numpy())
    np.testing.assert_allclose(sim["readout.v"], out.vmem.numpy(), rtol=0, atol=1e-9)


def test_linear_with_zero_bias_is_accepted() -> None:
    seq = nn.Sequential(nn.Linear(4, 3), LIFLayer(3), nn.Linear(3, 2), LIFLayer(2))
    with torch.no_grad():
        seq[0].bias.zero_()
        seq[2].bias.zero_()
    with pytest.warns(HopDelayWarning):
        assert extract(seq).n_hidden == 3


@pytest.mark.parametrize(
    ("modules", "needles"),
    [
        (lambda: [nn.Linear(4, 3), LIFLayer(3), nn.Linear(3, 2), LIFLayer(2)], ["module '0'", "nn.Linear", "bias"]),
        (lambda: [nn.Linear(4, 3, bias=False), nn.Conv1d(3, 3, 1), LIFLayer(3)], ["module '1'", "Conv1d", "convol"]),
        (lambda: [nn.Linear(4, 3, bias=False), nn.ReLU(), LIFLayer(3)], ["module '1'", "ReLU", "analog"]),
        (
            lambda: [nn.Linear(4, 3, bias=False), nn.Linear(3, 3, bias=False), LIFLayer(3)],
            ["module '1'", "two linear layers in a row"],
        ),
        (lambda: [nn.Linear(4, 3, bias=False), LIFLayer(3), nn.Linear(3, 2, bias=False)], ["LIFLayer readout"]),
        (lambda: [LIFLayer(4), nn.Linear(4, 2, bias=False), LIFLayer(2)], ["module '0'", "fed by an nn.Linear"]),
        (lambda: [nn.Linear(4, 2, bias=False), LIFLayer(2)], ["at least one hidden LIFLayer"]),
        (lambda: [nn.Linear(4, 3, bias=False), LIFLayer(2)], ["module '0'", "does not feed 2 neurons"]),
    ],
)
def test_sequential_refusals_name_module_and_reason(modules, needles: list[str]) -> None:
    seq = nn.Sequential(*modules())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HopDelayWarning)
        with pytest.raises(ExtractionError) as exc:
            extract(seq)
    msg = str(exc.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg


def test_named_sequential_paths_and_unsupported_roots() -> None:
    from collections import OrderedDict

    seq = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 3, bias=False), act=nn.Tanh(), lif=LIFLayer(3)))
    with pytest.raises(ExtractionError, match=r"module 'act' \(Tanh\).*analog"):
        extract(seq)
    with pytest.raises(ExtractionError, match=r"module '<root>' \(GRU\).*supported: SynNet"):
        extract(nn.GRU(4, 4))
    with pytest.raises(ExtractionError, match="expects a torch nn.Module, got int"):
        extract(42)
