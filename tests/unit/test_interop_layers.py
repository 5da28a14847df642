"""Cross-framework layer tests: models built with snnTorch / SpikingJelly / rockpool / Norse / sinabs' own
modules, run by those libraries' own forward passes (Norse and sinabs models through their own ``to_nir``),
imported with xylodeploy and compared spike count for spike count on the same rasters (float graph), and on
the chip (quantised spec on the reference simulator).

    error = sum |n_ours - n_theirs| / sum n_theirs     (readout spike counts per clip and neuron)

``python tests/unit/test_interop_layers.py`` prints the table that goes into the README.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xylodeploy.interop._common import reference_spike_counts, simulate_graph  # noqa: E402

N_IN, T, B = 12, 120, 4


def _x(rate: float = 0.25, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((B, T, N_IN)) < rate).astype(np.float32)


def _scaled(seq, gain: float):
    torch.manual_seed(0)
    with torch.no_grad():
        for m in seq.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(gain)
    return seq


def _step_run(net, x: np.ndarray, reset: Callable) -> np.ndarray:
    """Readout spike counts (B, n) of a stateful torch model stepped over time."""
    reset(net)
    out = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            y = net(torch.as_tensor(x[:, t]))
            out.append(y[0] if isinstance(y, tuple) else y)
    return torch.stack(out, 1).numpy().sum(1)


# ---- snnTorch ----------------------------------------------------------------------------------------------


def _snn_seq(neuron: Callable[[int, bool], object], mid=None, gain: float = 3.0, readout=None):
    torch.manual_seed(0)
    layers = [torch.nn.Linear(N_IN, 20)] + ([mid] if mid is not None else []) + [neuron(20, False)]
    layers += [torch.nn.Linear(20, 4), (readout or neuron)(4, True)]
    return _scaled(torch.nn.Sequential(*layers), gain)


def _snn_cases() -> dict[str, Callable[[], object]]:
    snn = pytest.importorskip("snntorch")
    kw = {"init_hidden": True, "reset_delay": False}

    def bn():
        torch.manual_seed(1)
        m = torch.nn.BatchNorm1d(20)
        with torch.no_grad():
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
        return m.eval()

    def syn(n: int, o: bool):
        return snn.Synaptic(alpha=0.75, beta=0.875, output=o, **kw)

    return {
        "snntorch Leaky": lambda: _snn_seq(lambda n, o: snn.Leaky(beta=0.85, output=o, **kw)),
        "snntorch Synaptic": lambda: _snn_seq(lambda n, o: snn.Synaptic(alpha=0.75, beta=0.875, output=o, **kw)),
        "snntorch RLeaky": lambda: _snn_seq(
            lambda n, o: snn.RLeaky(beta=0.85, linear_features=n, output=o, **kw),
            readout=lambda n, o: snn.Leaky(beta=0.85, output=o, **kw),
        ),
        "snntorch RSynaptic": lambda: _snn_seq(
            lambda n, o: snn.RSynaptic(alpha=0.75, beta=0.875, linear_features=n, output=o, init_hidden=True),
            # (snnTorch 1.0's RSynaptic fails with reset_delay=False: its default, a one-step-late reset, is used)
            readout=lambda n, o: snn.Synaptic(alpha=0.75, beta=0.875, output=o, **kw),
        ),
        "snntorch Lapicque": lambda: _snn_seq(
            lambda n, o: snn.Lapicque(R=5.0, C=2e-3, time_step=1e-3, output=o, init_hidden=True), gain=6.0
        ),
        # Synaptic neurons (near exact) so that the folding / skipping itself is what is measured
        "snntorch Dropout": lambda: _snn_seq(syn, mid=torch.nn.Dropout(0.3)).eval(),
        "snntorch BatchNorm1d": lambda: _snn_seq(syn, mid=bn()),
    }


def _stepped_measure(make, reset: Callable, importer: Callable) -> tuple[np.ndarray, object, object]:
    """(reference counts, graph, report) of a stateful torch model stepped by its own library."""
    net, x = make(), _x()
    ref = _step_run(net, x, reset)
    graph, report = importer(net)
    return ref, graph, report


def _snn_measure(make) -> tuple[np.ndarray, object, object]:
    from snntorch import utils

    from xylodeploy.interop.snntorch import from_snntorch

    return _stepped_measure(make, utils.reset, from_snntorch)


# ---- SpikingJelly ------------------------------------------------------------------------------------------


def _sj_cases() -> dict[str, Callable[[], object]]:
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import layer, neuron

    def seq(node: Callable[[], object], gain: float = 3.0, delay: bool = False):
        torch.manual_seed(0)
        mods = [torch.nn.Linear(N_IN, 20)] + ([layer.Delay(2)] if delay else []) + [node()]
        return _scaled(torch.nn.Sequential(*mods, torch.nn.Linear(20, 4), node()), gain)

    return {
        "spikingjelly LIFNode (soft reset)": lambda: seq(lambda: neuron.LIFNode(tau=4.0, v_reset=None), 20.0),
        "spikingjelly LIFNode (hard reset)": lambda: seq(lambda: neuron.LIFNode(tau=4.0), 20.0),
        "spikingjelly ParametricLIFNode": lambda: seq(
            lambda: neuron.ParametricLIFNode(init_tau=3.0, v_reset=None), 20.0
        ),  # fmt: skip
        "spikingjelly IFNode (soft reset)": lambda: seq(lambda: neuron.IFNode(v_reset=None), 1.5),
        "spikingjelly IFNode (hard reset)": lambda: seq(lambda: neuron.IFNode(), 1.5),
        "spikingjelly CUBALIFNode (soft reset)": lambda: seq(
            lambda: neuron.CUBALIFNode(c_decay=0.5, v_decay=0.75, v_threshold=1.0, v_reset=None), 1.5
        ),
        "spikingjelly Delay after Linear": lambda: seq(lambda: neuron.LIFNode(tau=4.0, v_reset=None), 20.0, True),
    }


def _sj_measure(make) -> tuple[np.ndarray, object, object]:
    from spikingjelly.activation_based import functional

    from xylodeploy.interop.spikingjelly import from_spikingjelly

    return _stepped_measure(make, functional.reset_net, from_spikingjelly)


# ---- rockpool ----------------------------------------------------------------------------------------------


def _rp_cases() -> dict[str, Callable[[], object]]:
    pytest.importorskip("rockpool")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from rockpool.nn.combinators import Sequential
        from rockpool.nn.modules import LIFTorch, LinearTorch

    from xylodeploy.interop.rockpool import build_rockpool_synnet

    def synnet():
        torch.manual_seed(0)
        net = build_rockpool_synnet(n_classes=4, n_channels=N_IN, size_hidden_layers=[20],
                                    time_constants_per_layer=[2], p_dropout=0.3).eval()  # fmt: skip
        with torch.no_grad():
            for name, mod in net.seq.modules().items():
                if "linear" in name:
                    mod.weight.data *= 8.0
        return net

    def biased():
        torch.manual_seed(0)
        net = Sequential(LinearTorch((N_IN, 20), has_bias=True), LIFTorch(20, max_spikes_per_dt=31),
                         LinearTorch((20, 4)), LIFTorch(4, max_spikes_per_dt=1))  # fmt: skip
        with torch.no_grad():
            net[0].weight.data *= 0.3
            net[0].bias.data[:] = 0.03
        return net

    return {"rockpool SynNet(p_dropout=0.3)": synnet, "rockpool LinearTorch(has_bias=True)": biased}


def _rp_measure(make) -> tuple[np.ndarray, object, object]:
    from xylodeploy.interop.rockpool import from_rockpool

    net, x = make(), _x(0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = net(torch.as_tensor(x))[0].detach().numpy().sum(1)
    graph, report = from_rockpool(net)
    return ref, graph, report


# ---- Norse and sinabs: through their own NIR exporters (``to_nir``) -----------------------------------------


def _norse_cases() -> dict[str, Callable[[], object]]:
    nt = pytest.importorskip("norse.torch")
    pytest.importorskip("nirtorch")
    from norse.torch.functional.reset import reset_subtract

    def seq(cell: Callable[[], object], gain: float):
        torch.manual_seed(0)
        return _scaled(nt.SequentialState(torch.nn.Linear(N_IN, 20), cell(), torch.nn.Linear(20, 4), cell()), gain)

    return {
        "norse LIFBoxCell (reset_subtract)": lambda: seq(
            lambda: nt.LIFBoxCell(nt.LIFBoxParameters(reset_method=reset_subtract)), 40.0
        ),
        "norse LIFBoxCell (default reset to 0)": lambda: seq(nt.LIFBoxCell, 40.0),
        "norse LIFCell": lambda: seq(nt.LIFCell, 15.0),
        "norse IAFCell": lambda: seq(nt.IAFCell, 2.0),
    }


def _norse_measure(make) -> tuple[np.ndarray, object, object]:
    from norse.torch import to_nir

    from xylodeploy.interop.nir import from_nir

    net, x, state, out = make(), _x(), None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            y, state = net(torch.as_tensor(x[:, t]), state)
            out.append(y)
    graph, report = from_nir(to_nir(net, torch.zeros(1, N_IN)), dt=1e-3, producer="norse")
    return torch.stack(out, 1).numpy().sum(1), graph, report


def _sinabs_cases() -> dict[str, Callable[[], object]]:
    sl = pytest.importorskip("sinabs.layers")
    pytest.importorskip("nirtorch")
    from sinabs.activation import SingleSpike

    def seq(neuron: Callable[[int], object], gain: float):
        torch.manual_seed(0)
        return _scaled(torch.nn.Sequential(torch.nn.Linear(N_IN, 20), neuron(20), torch.nn.Linear(20, 4),
                                           neuron(4)), gain)  # fmt: skip

    def lif(**kw):
        return lambda n: sl.LIF(tau_mem=torch.full((n,), 10.0), spike_threshold=torch.ones(n), **kw)

    return {
        "sinabs LIF (MultiSpike)": lambda: seq(lif(), 40.0),
        "sinabs LIF (SingleSpike)": lambda: seq(lif(spike_fn=SingleSpike), 40.0),
        "sinabs LIF (norm_input=False)": lambda: seq(lif(norm_input=False), 4.0),
        "sinabs IAF": lambda: seq(lambda n: sl.IAF(spike_threshold=torch.ones(n)), 1.5),
    }


def _sinabs_measure(make) -> tuple[np.ndarray, object, object]:
    from sinabs.nir import to_nir

    from xylodeploy.interop.nir import from_nir

    net, x = make(), _x()
    with torch.no_grad():
        ref = net(torch.as_tensor(x)).numpy().sum(1)
        graph = to_nir(net, torch.zeros(B, 1, N_IN))
    producer = "sinabs_no_norm" if not getattr(net[1], "norm_input", True) else "sinabs"
    graph, report = from_nir(graph, producer=producer)
    return ref, graph, report


# ---- measurements and bounds -------------------------------------------------------------------------------

# layer -> (float bound, chip bound): the measured values (README table) plus a margin. An exact layer's
# float bound is 0: equal spike counts. The chip error includes the chip's hop delay and, for hidden layers
# that spike at most once per step in the source, the chip's up-to-31 spikes per step (snnTorch RLeaky).
BOUNDS = {
    "snntorch Leaky": (0.2, 0.2), "snntorch Synaptic": (0.03, 0.1), "snntorch RLeaky": (0.2, 0.6),
    "snntorch RSynaptic": (0.04, 0.1), "snntorch Lapicque": (0.15, 0.2), "snntorch Dropout": (0.03, 0.1),
    "snntorch BatchNorm1d": (0.03, 0.2),
    "spikingjelly LIFNode (soft reset)": (0.2, 0.3), "spikingjelly LIFNode (hard reset)": (0.6, 0.6),
    "spikingjelly ParametricLIFNode": (0.2, 0.3), "spikingjelly IFNode (soft reset)": (0.02, 0.05),
    "spikingjelly IFNode (hard reset)": (0.3, 0.3), "spikingjelly CUBALIFNode (soft reset)": (0.03, 0.06),
    "spikingjelly Delay after Linear": (0.2, 0.3),
    "rockpool SynNet(p_dropout=0.3)": (0.0, 0.4), "rockpool LinearTorch(has_bias=True)": (0.1, 0.1),
    "norse LIFBoxCell (reset_subtract)": (0.16, 0.26), "norse LIFBoxCell (default reset to 0)": (0.7, 0.6),
    "norse LIFCell": (0.4, 0.32), "norse IAFCell": (0.4, 0.4),
    "sinabs LIF (MultiSpike)": (0.3, 0.38), "sinabs LIF (SingleSpike)": (0.17, 0.26),
    "sinabs LIF (norm_input=False)": (0.2, 0.26), "sinabs IAF": (0.02, 0.05),
}  # fmt: skip


def measure(name: str) -> tuple[float, float, bool, float]:
    """``(float error, chip error, report.exact, reference spike total)`` for one case."""
    cases, run = {"snntorch": (_snn_cases, _snn_measure), "spikingjelly": (_sj_cases, _sj_measure),
                  "rockpool": (_rp_cases, _rp_measure), "norse": (_norse_cases, _norse_measure),
                  "sinabs": (_sinabs_cases, _sinabs_measure)}[name.split()[0]]  # fmt: skip
    ref, graph, report = run(cases()[name])
    x = _x(0.3 if name.startswith("rockpool") else 0.25).astype(np.int64)
    ours = simulate_graph(graph, x)[graph.readout].sum(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from xylodeploy.interop._common import graph_to_spec

        chip = reference_spike_counts(graph_to_spec(graph, "xylo-audio2"), x)
    total = float(ref.sum())
    return float(np.abs(ours - ref).sum() / total), float(np.abs(chip - ref).sum() / total), report.exact, total


@pytest.mark.parametrize("name", list(BOUNDS))
def test_layer_matches_its_framework(name):
    float_err, chip_err, exact, total = measure(name)
    assert total >= 40, f"{name}: the reference model is too quiet to compare ({total} spikes)"
    assert not exact or float_err == 0.0, f"{name}: the import says exact, float error {float_err:.3f}"
    f_bound, c_bound = BOUNDS[name]
    assert float_err <= f_bound + 1e-9, f"{name}: float error {float_err:.3f} > {f_bound}"
    assert chip_err <= c_bound, f"{name}: chip error {chip_err:.3f} > {c_bound}"


if __name__ == "__main__":
    print("| layer | import | float error | chip error (xylo-audio2) | reference spikes |")
    print("|---|---|---|---|---|")
    for layer in BOUNDS:
        fe, ce, ex, tot = measure(layer)
        print(f"| {layer} | {'exact' if ex else 'approximate'} | {fe:.3f} | {ce:.3f} | {int(tot)} |")
