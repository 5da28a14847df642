"""SynNet: structure as rockpool's, forward/gradients vs a naive network, hop delay, checkpoints."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch

from tests.support.lif_reference import naive_lif
from xylodeploy.errors import ConfigError
from xylodeploy.models import SynNet, snap_tau


def naive_synnet(model: SynNet, x: torch.Tensor) -> torch.Tensor:
    """The network written out with the naive LIF loop, the hop delay as explicit indexing."""
    h = x
    for w, lif in zip(list(model.weights)[:-1], model.hidden, strict=True):
        I = (h @ w).unsqueeze(-1)
        s, _ = naive_lif(I, lif.alpha, lif.beta, lif.threshold, lif.bias, lif.max_spikes, 0.5, 0)
        if model.hop_delay:
            s = torch.cat([torch.zeros_like(s[:, :1]), s[:, :-1]], 1)
        h = s
    r = model.readout
    s, v = naive_lif((h @ model.weights[-1]).unsqueeze(-1), r.alpha, r.beta, r.threshold, r.bias, r.max_spikes, 0.5, 0)
    return s if model.output == "spikes" else v


def _input(B=3, T=50, C=4, rate=0.6, seed=0):
    return torch.poisson(torch.full((B, T, C), rate), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("hop_delay", [True, False])
@pytest.mark.parametrize("output", ["spikes", "vmem"])
def test_matches_naive_network(hop_delay, output):
    torch.manual_seed(1)
    m = SynNet(3, 4, [7, 5], [3, 2], threshold=0.4, output=output, hop_delay=hop_delay, train_threshold=True)
    x = _input()
    y, y_ref = m(x), naive_synnet(m, x)
    assert torch.equal(y, y_ref)
    assert sum(float(st.spikes.detach().sum()) for st in m.record(x).hidden) > 20
    params = list(m.weights) + [lif.threshold for lif in m.hidden]
    ours = torch.autograd.grad(y.pow(2).sum(), params)
    ref = torch.autograd.grad(y_ref.pow(2).sum(), params)
    for a, b in zip(ours, ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * b.abs().max())


def test_backends_agree():
    torch.manual_seed(2)
    a = SynNet(2, 4, [6], [3], threshold=0.3, backend="numba")
    b = SynNet(**{**a.init_kwargs, "backend": "torch"})
    b.load_state_dict(a.state_dict())
    x = _input(seed=3)
    assert torch.equal(a(x), b(x))


def test_time_constant_pyramid_and_weight_normalisation():
    torch.manual_seed(0)
    m = SynNet(2, 3, [7, 4], [3, 4], tau_syn_base=3e-3, dt=1e-3, quantize_time_constants=False)
    base = [3e-3, 9e-3, 27e-3]
    assert m.hidden[0].tau_syn[:, 0].tolist() == pytest.approx([base[i % 3] for i in range(7)])
    assert m.hidden[1].tau_syn[:, 0].tolist() == pytest.approx([3e-3 * 3**i for i in range(4)])
    for (w, lif), n_in in zip(m.layers(), (3, 7, 4), strict=True):
        raw = w / (1e-3 / lif.tau_syn[:, 0])  # undo dt/tau: Kaiming-uniform with bound sqrt(6/in)
        assert raw.abs().max() <= math.sqrt(6 / n_in) + 1e-6
    q = SynNet(2, 3, [4], [4])  # defaults: tau 2 ms, quantised: dash = 1, 2, 3, 4
    expected = [-1e-3 / math.log(1 - 2.0**-d) for d in (1, 2, 3, 4)]
    assert q.hidden[0].tau_syn[:, 0].tolist() == pytest.approx(expected, rel=1e-6)
    assert q.hidden[0].tau_mem.tolist() == pytest.approx([expected[0]] * 4, rel=1e-6)
    assert snap_tau(5.5e-3, 1e-3) == pytest.approx(-1e-3 / math.log(1 - 2.0**-3))  # spec §1.5 table: 3


def test_structure_equals_rockpool():
    pytest.importorskip("rockpool")
    from xylodeploy.interop.rockpool import build_rockpool_synnet

    kw = {"n_classes": 3, "n_channels": 5, "size_hidden_layers": [7, 6], "time_constants_per_layer": [3, 4]}
    for quantize in (True, False):
        torch.manual_seed(11)
        ours = SynNet(**kw, quantize_time_constants=quantize, threshold=0.7, threshold_out=2.0)
        torch.manual_seed(11)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = build_rockpool_synnet(**kw, quantize_time_constants=quantize, threshold=0.7, threshold_out=2.0)
        names = ["0", "1", "out"]
        for name, (w, lif) in zip(names, ours.layers(), strict=True):
            rl, rn = getattr(theirs.seq, f"{name}_linear"), getattr(theirs.seq, f"{name}_neurons")
            assert torch.allclose(w, rl.weight, rtol=1e-5, atol=1e-7)  # same init and dt/tau normalisation
            for attr in ("tau_mem", "tau_syn", "threshold", "bias"):
                r = getattr(rn, attr).detach()
                assert torch.allclose(getattr(lif, attr), torch.broadcast_to(r, getattr(lif, attr).shape), rtol=1e-6)
            assert lif.max_spikes == int(rn.max_spikes_per_dt) and lif.dt == rn.dt


@pytest.mark.parametrize("output", ["spikes", "vmem"])
def test_same_outputs_and_gradients_as_rockpool_without_hop_delay(output):
    pytest.importorskip("rockpool")
    from xylodeploy.interop.rockpool import to_rockpool

    torch.manual_seed(4)
    m = SynNet(3, 4, [6, 5], [2, 3], threshold=0.3, output=output, hop_delay=False)
    net = to_rockpool(m)
    net.reset_state()
    x = _input(B=2, T=40, seed=4)
    y_r, _, _ = net(x)
    y = m(x)
    assert torch.equal(y, y_r)
    g = torch.randn_like(y)
    ours = torch.autograd.grad((y * g).sum(), list(m.weights))
    theirs = torch.autograd.grad((y_r * g).sum(), [p for _, p in net.named_parameters()])
    for a, b in zip(ours, theirs, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * b.abs().max())


def test_hop_delay_one_step_per_hop():
    torch.manual_seed(5)
    kw = {"n_classes": 2, "n_channels": 2, "size_hidden_layers": [4, 4, 4], "time_constants_per_layer": [1, 1, 1]}
    x = torch.zeros(1, 12, 2)
    x[0, 0] = 1.0
    firsts = {}
    for hop in (True, False):
        m = SynNet(**kw, threshold=1e-3, hop_delay=hop)
        with torch.no_grad():
            for w in m.weights:
                w.fill_(1.0)
        rec = m.record(x)
        onsets = [int(st.isyn[0, :, :, 0].abs().sum(-1).nonzero()[0]) for st in [*rec.hidden, rec.readout]]
        firsts[hop] = onsets
    assert firsts[False] == [0, 0, 0, 0]
    assert firsts[True] == [0, 1, 2, 3]  # L hidden layers -> L steps of latency, as on Xylo


def test_hop_delay_feeds_shifted_spikes():
    torch.manual_seed(6)
    m = SynNet(2, 4, [6, 5], [2, 2], threshold=0.3)
    rec = m.record(_input(seed=6))
    s0 = rec.hidden[0].spikes
    shifted = torch.cat([torch.zeros_like(s0[:, :1]), s0[:, :-1]], 1)
    assert torch.equal(m.hidden[1](shifted @ m.weights[1]), rec.hidden[1].spikes)


def test_checkpoint_roundtrip_and_vmem_readout():
    torch.manual_seed(7)
    m = SynNet(3, 4, [5], [2], output="vmem", train_time_constants=True, p_dropout=0.2)
    kw = json.loads(json.dumps(m.init_kwargs))
    m2 = SynNet(**kw)
    m2.load_state_dict(m.state_dict())
    m.eval()
    m2.eval()
    x = _input(seed=7)
    assert torch.equal(m(x), m2(x))
    assert m.readout.threshold.tolist() == [2**15 - 1] * 3 and m.readout.max_spikes == 1
    assert torch.equal(m(x), m.record(x).readout.vmem)
    assert {n for n, _ in m.named_parameters()} >= {"hidden.0.tau_mem", "hidden.0.tau_syn"}


def test_time_step_dropout_only_in_training():
    torch.manual_seed(8)
    m = SynNet(2, 4, [8, 8], [2, 2], threshold=0.2, p_dropout=0.5, hop_delay=False)
    x = _input(seed=8)
    m.eval()
    assert torch.equal(m(x), m(x))
    m.train()
    rec = m.record(x)
    s0 = rec.hidden[0].spikes
    full = m.hidden[1](s0 @ m.weights[1])
    assert not torch.equal(full, rec.hidden[1].spikes)


def test_invalid_arguments():
    with pytest.raises(ConfigError, match="time_constants_per_layer"):
        SynNet(2, 3, [4, 4], [2])
    with pytest.raises(ConfigError, match="tau_syn_base"):
        SynNet(2, 3, tau_syn_base=1e-3)
    with pytest.raises(ConfigError, match="threshold_out"):
        SynNet(2, 3, output="vmem", threshold_out=2.0)
    with pytest.raises(ConfigError, match="input shape"):
        SynNet(2, 3)(torch.zeros(1, 5, 4))
