"""NIR files written by other libraries' own exporters (rockpool, snnTorch, SpikingJelly; nirtorch),
compared spike for spike with those libraries' own forward passes; dt/discretisation rules; refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")

from xylodeploy.errors import ConfigError  # noqa: E402
from xylodeploy.interop._common import simulate_graph  # noqa: E402
from xylodeploy.interop.nir import from_nir  # noqa: E402


def _x(n_in: int, seed: int = 0, rate: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).random((4, 100, n_in)) < rate).astype(np.float32)


def _rockpool_file(tmp_path, readout: str = "lif"):
    pytest.importorskip("rockpool")
    pytest.importorskip("nirtorch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from rockpool.nn.combinators import Sequential
        from rockpool.nn.modules import ExpSynTorch, LIFTorch, LinearTorch
        from rockpool.nn.modules.torch.nir import to_nir

    torch.manual_seed(0)
    last = LIFTorch(4) if readout == "lif" else ExpSynTorch(4, tau=5e-3)
    net = Sequential(LinearTorch((16, 24)), LIFTorch(24, tau_mem=1.4427e-3, tau_syn=3.476e-3), LinearTorch((24, 4)),
                     last)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = to_nir(net)
    for node in graph.nodes.values():  # rockpool's exporter leaves LI.tau a grad tensor h5py cannot write
        if type(node).__name__ == "LI":
            for attr in ("tau", "r", "v_leak"):
                setattr(node, attr, np.broadcast_to(np.asarray(getattr(node, attr).detach()), (4,)).copy())
    nir.write(tmp_path / "rp.nir", graph)
    return net, tmp_path / "rp.nir"


def test_rockpool_export_imports_with_exact_decay_and_the_same_spikes(tmp_path):
    net, path = _rockpool_file(tmp_path)
    x = _x(16)
    ref = net(torch.as_tensor(x))[0].detach().numpy()
    g, rep = from_nir(path)  # no dt in the file: solved from rockpool's r = tau exp(-dt/tau) / dt
    assert any("producer: rockpool" in n.message for n in rep.notes)
    assert any("dt: 0.001 s derived" in n.message for n in rep.notes)
    hidden = g.populations[0]
    assert np.allclose(np.exp(-g.dt / hidden.tau_mem), 0.5, atol=1e-4)  # not Euler's 0.307
    assert ref.sum() > 1000
    np.testing.assert_array_equal(simulate_graph(g, x)[g.readout], ref)  # measured: equal
    g_euler, _ = from_nir(path, dt=1e-3, discretization="euler")
    assert np.allclose(1 - g.dt / 1.4427e-3, np.exp(-g_euler.dt / g_euler.populations[0].tau_mem), atol=1e-3)


def test_rockpool_exp_syn_readout_is_an_exact_membrane_readout(tmp_path):
    net, path = _rockpool_file(tmp_path, readout="expsyn")
    x = _x(16)
    ref = net(torch.as_tensor(x))[0].detach().numpy()
    g, rep = from_nir(path, dt=1e-3)
    assert rep.readout == "vmem"
    np.testing.assert_allclose(simulate_graph(g, x)[f"{g.readout}.v"], ref, rtol=1e-4, atol=1e-5)


def _snntorch_net(kind: str):
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    torch.manual_seed(0)

    def neuron(n: int, out: bool = False):
        kw = {"beta": torch.full((n,), 0.8), "threshold": torch.ones(n), "init_hidden": True, "reset_delay": False,
              "output": out}  # fmt: skip
        return snn.Leaky(**kw) if kind == "leaky" else snn.Synaptic(alpha=torch.full((n,), 0.6), **kw)

    net = torch.nn.Sequential(torch.nn.Linear(16, 32), neuron(32), torch.nn.Linear(32, 4), neuron(4, True))
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.mul_(4.0)
    return net


def _snntorch_counts(net, x: np.ndarray) -> np.ndarray:
    from snntorch import utils

    utils.reset(net)
    with torch.no_grad():
        out = [net(torch.as_tensor(x[:, t]))[0] for t in range(x.shape[1])]
    return torch.stack(out, 1).numpy().sum(1)


@pytest.mark.parametrize(("kind", "bound"), [("leaky", 0.3), ("synaptic", 0.06)])
def test_snntorch_export_to_nir_imports_at_its_dt(tmp_path, kind, bound):
    from snntorch.export_nir import export_to_nir

    net, x = _snntorch_net(kind), _x(16)
    nir.write(tmp_path / "s.nir", export_to_nir(net, torch.zeros(1, 16), ignore_dims=[0]))
    ref = _snntorch_counts(net, x)
    g, rep = from_nir(tmp_path / "s.nir")
    assert np.isclose(g.dt, 1e-4) and any("producer: snntorch" in n.message for n in rep.notes)
    ours = simulate_graph(g, x)[g.readout].sum(1)
    assert ref.sum() > 100
    err = np.abs(ours - ref).sum() / ref.sum()
    assert err < bound  # measured: Leaky 0.195 (fastest chip synapse), Synaptic 0.035
    with pytest.raises(ConfigError, match="unstable under Euler"):  # the old silent default dt = 1 ms
        from_nir(tmp_path / "s.nir", dt=1e-3)


def test_spikingjelly_export_needs_dt_and_hard_reset_is_reported(tmp_path):
    pytest.importorskip("spikingjelly")
    pytest.importorskip("nirtorch")
    from spikingjelly.activation_based import neuron
    from spikingjelly.activation_based.nir_exchange.to_nir import export_to_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32, bias=False), neuron.LIFNode(tau=4.0),
                              torch.nn.Linear(32, 4, bias=False), neuron.IFNode())  # fmt: skip
    with torch.no_grad():
        net[0].weight.mul_(6.0)
        net[2].weight.mul_(3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_to_nir(net, torch.zeros(1, 16), dt=1e-4, save_path=str(tmp_path / "sj.nir"))
    with pytest.raises(ConfigError, match="no 'dt' in its metadata.*--dt"):
        from_nir(tmp_path / "sj.nir")
    g, rep = from_nir(tmp_path / "sj.nir", dt=1e-4)
    assert any("resets v to v_reset" in n.message and not n.exact for n in rep.notes)
    x = _x(16)
    from spikingjelly.activation_based import functional

    functional.reset_net(net)
    with torch.no_grad():
        ref = torch.stack([net(torch.as_tensor(x[:, t])) for t in range(100)], 1).numpy().sum(1)
    ours = simulate_graph(g, x)[g.readout].sum(1)
    assert ref.sum() > 50
    assert np.abs(ours - ref).sum() / ref.sum() < 0.8  # measured 0.60: hard reset and IF readout (approx)


def test_every_unsupported_node_is_listed_by_its_own_name_and_type(tmp_path):
    n = 4
    nodes = {
        "in": nir.Input(input_type={"input": np.array([n])}),
        "w": nir.Linear(weight=np.eye(n)),
        "thr": nir.Threshold(threshold=np.ones(n)),
        "pool": nir.SumPool2d(kernel_size=np.array([1, 1]), stride=np.array([1, 1]), padding=np.array([0, 0])),
        "a_flat": nir.Flatten(input_type={"input": np.array([n])}),
        "out": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("in", "w"), ("w", "thr"), ("thr", "pool"), ("pool", "a_flat"), ("a_flat", "out")]
    g = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3}, type_check=False)
    nir.write(tmp_path / "u.nir", g)
    for src in (g, tmp_path / "u.nir"):
        with pytest.raises(ConfigError) as err:
            from_nir(src)
        msg = str(err.value)
        assert "2 node(s)" in msg and "'thr' (Threshold)" in msg and "'pool' (SumPool2d)" in msg
        assert "Flatten" not in msg.split("(Xylo")[0]


def test_unreadable_file_is_one_line_error(tmp_path):
    (tmp_path / "bad.nir").write_bytes(b"not hdf5")
    with pytest.raises(ConfigError, match=r"bad.nir: not a (readable )?NIR file") as err:
        from_nir(tmp_path / "bad.nir")
    assert "\n" not in str(err.value)


def test_metadata_names_producer_and_discretization_and_user_overrides(tmp_path):
    from xylodeploy.interop.nir_conventions import resolve

    g = nir.NIRGraph(nodes={"i": nir.Input(input_type={"input": np.array([2])})}, edges=[],
                     metadata={"producer": "norse 1.1"}, type_check=False)  # fmt: skip
    with pytest.raises(ConfigError, match="--dt"):
        resolve(g)
    conv = resolve(g, dt=1e-3)
    assert (conv.producer, conv.discretization, conv.dt, conv.file_dt) == ("norse", "euler", 1e-3, 1e-3)
    assert resolve(g, dt=1e-3, discretization="exact").discretization == "exact"
    g.metadata = {"producer": "sinabs 3.1"}  # counts taus in steps: no dt needed, the graph clock is said
    conv = resolve(g)
    assert (conv.producer, conv.discretization, conv.dt, conv.file_dt) == ("sinabs", "exact", 1e-3, 1.0)
    assert any("taus count time steps" in m for m in conv.messages)
    assert resolve(g, dt=5e-4).dt == 5e-4 and resolve(g, producer="rockpool", dt=1e-3).producer == "rockpool"
    with pytest.raises(ConfigError, match="producer 'brian'"):
        resolve(g, producer="brian")
    g.metadata = {"dt": 2e-3, "discretization": "exact"}
    assert (resolve(g).dt, resolve(g).discretization) == (2e-3, "exact")


def test_rockpool_synnet_export_with_uniform_taus_is_read_as_rockpool_not_snntorch(tmp_path):
    """One tau per layer makes tau/r agree across neurons (the Euler signature); only snnTorch's fixed
    dt = 1e-4 marks an snnTorch file, so this SynNet file is rockpool's (exact decay), as it says."""
    pytest.importorskip("rockpool")
    pytest.importorskip("nirtorch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from rockpool.nn.modules.torch.nir import to_nir
        from rockpool.nn.networks import SynNet

        torch.manual_seed(8)
        net = SynNet(n_channels=16, n_classes=3, size_hidden_layers=[24], time_constants_per_layer=[2])
        with torch.no_grad():
            for name, mod in net.seq.modules().items():
                if "linear" in name:
                    mod.weight.data *= 8.0
        nir.write(tmp_path / "synnet.nir", to_nir(net))
        x = _x(16, rate=0.3)
        ref = net(torch.as_tensor(x))[0].detach().numpy().sum(1)
    g, rep = from_nir(tmp_path / "synnet.nir")
    assert any("producer: rockpool" in n.message for n in rep.notes)
    assert np.isclose(g.dt, 1e-3) and np.allclose(np.exp(-g.dt / g.populations[0].tau_mem), 0.5, atol=1e-4)
    # the file does not record SynNet's max_spikes_per_dt (31 hidden, 1 readout): said, not exact
    assert not rep.exact and any("spikes per step not in the file" in n.message for n in rep.notes)
    assert ref.sum() > 50
    assert not np.array_equal(simulate_graph(g, x)[g.readout].sum(1), ref)
    pops = tuple(p.replace(max_spikes=31 if p.name != g.readout else 1) for p in g.populations)
    fixed = g.replace(populations=pops)
    np.testing.assert_array_equal(simulate_graph(fixed, x)[g.readout].sum(1), ref)  # the rest is exact
