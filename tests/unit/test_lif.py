"""LIFLayer and the fast recurrence vs an independent, naive step-by-step implementation."""

from __future__ import annotations

import math

import pytest
import torch

from tests.support.lif_reference import naive_lif
from xylodeploy.errors import ConfigError
from xylodeploy.models import LIFLayer
from xylodeploy.models._recurrence import lif_scan
from xylodeploy.models.surrogate import surrogate_grads


def _params(N, S, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = (0.3 + 0.6 * torch.rand(N, generator=g, dtype=dtype)).requires_grad_()
    b = (0.2 + 0.7 * torch.rand(N, S, generator=g, dtype=dtype)).requires_grad_()
    th = (0.5 + torch.rand(N, generator=g, dtype=dtype)).requires_grad_()
    bias = (0.1 * torch.randn(N, generator=g, dtype=dtype)).requires_grad_()
    I = (0.8 * torch.randn(3, 40, N, S, generator=g, dtype=dtype)).requires_grad_()
    return I, a, b, th, bias


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("S", [1, 2])
@pytest.mark.parametrize("kind", [0, 1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scan_matches_naive_forward_and_gradients(backend, S, kind, dtype):
    args = _params(6, S, dtype, seed=S + 2 * kind)
    M = 3
    s_ref, v_ref = naive_lif(*args, M, 0.5, kind)
    s, v, isyn = lif_scan(*args, M, 0.5, kind, backend)
    assert torch.equal(s, s_ref) and torch.equal(v, v_ref)  # same operations in the same order
    assert s.max() == M and (s > 0).float().mean() > 0.05  # multi-spike regime actually exercised
    g = torch.Generator().manual_seed(1)
    gs, gv = torch.randn(s.shape, generator=g, dtype=dtype), torch.randn(v.shape, generator=g, dtype=dtype)
    ref = torch.autograd.grad((s_ref * gs).sum() + (v_ref * gv).sum(), args)
    ours = torch.autograd.grad((s * gs).sum() + (v * gv).sum(), args)
    tol = 1e-10 if dtype == torch.float64 else 2e-4
    for name, a, b in zip(["I", "alpha", "beta", "theta", "bias"], ours, ref, strict=True):
        assert torch.allclose(a, b, rtol=tol, atol=tol * b.abs().max()), name


def test_gradcheck_float64_subthreshold():
    """Finite differences of the real forward; subthreshold with step_pwl, so the surrogate is exactly 0."""
    I, a, b, th, bias = _params(3, 2, torch.float64, seed=5)
    I = (0.05 * I.detach()[:1, :8]).requires_grad_()
    th = (th.detach() + 3.0).requires_grad_()
    for backend in ("numba", "torch"):

        def f(I, a, b, th, bias, backend=backend):
            s, v, _ = lif_scan(I, a, b, th, bias, 31, 0.5, 1, backend)
            assert s.sum() == 0
            return s, v

        assert torch.autograd.gradcheck(f, (I, a, b, th, bias))


def test_surrogate_values():
    th = torch.tensor([1.0])
    u = torch.tensor([0.5, 1.0, 2.0, 2.5, 40.0, 0.4, 0.6])
    g, g_th = surrogate_grads(u, th, 0.5, 31, 0)
    expected = [math.exp(-1), 1.0, 1.0, math.exp(-1), None, None, None]
    for gi, ei in zip(g.tolist(), expected, strict=True):
        if ei is not None:
            assert gi == pytest.approx(ei)
    # above the cap the bumps stop: k is clamped at M - 1 = 30, so r grows and the pdf decays
    assert g[4] < 1e-6
    assert torch.allclose(g_th, -g * u)
    g1, _ = surrogate_grads(u, th, 0.5, 31, 1)
    assert g1.tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0]


def test_surrogates_match_rockpool():
    lif_torch = pytest.importorskip("rockpool.nn.modules.torch.lif_torch")
    u = torch.linspace(-2, 9, 301, requires_grad=True)
    th = torch.tensor(1.5)
    for kind, fn in ((0, lif_torch.PeriodicExponential), (1, lif_torch.StepPWL)):
        n = fn.apply(u, th, 0.5, torch.tensor(4.0))
        (gu,) = torch.autograd.grad(n.sum(), u)
        ours, _ = surrogate_grads(u.detach(), th, 0.5, 4.0, kind)
        assert torch.allclose(ours, gu, atol=1e-6)


def test_multi_spike_cap_and_subtractive_reset():
    # β = α = 0.5, θ = 10, cap 3: the excess above 3 spikes stays in vmem
    lif = LIFLayer(1, tau_mem=-1e-3 / math.log(0.5), tau_syn=-1e-3 / math.log(0.5), threshold=10.0, max_spikes=3)
    x = torch.zeros(1, 3, 1)
    x[0, 0, 0] = 100.0
    st = lif.forward_states(x)
    # t0: u = 50 -> 3 (cap), v 20; t1: u = 10 + 25 = 35 -> 3, v 5; t2: u = 2.5 + 12.5 = 15 -> 1, v 5
    assert st.spikes[0, :, 0].tolist() == [3.0, 3.0, 1.0]
    assert st.vmem[0, :, 0].tolist() == pytest.approx([20.0, 5.0, 5.0], rel=1e-5)
    assert st.isyn[0, :, 0, 0].tolist() == pytest.approx([50.0, 25.0, 12.5])


def test_frozen_vs_trainable_parameters():
    frozen = LIFLayer(4)
    assert [n for n, _ in frozen.named_parameters()] == []
    assert {n for n, _ in frozen.named_buffers()} == {"tau_mem", "tau_syn", "threshold", "bias"}
    lif = LIFLayer(4, 2, train_tau=True, train_threshold=True, train_bias=True)
    assert {n for n, _ in lif.named_parameters()} == {"tau_mem", "tau_syn", "threshold", "bias"}
    x = torch.rand(2, 30, 8) * 3
    lif.forward_states(x).vmem.pow(2).sum().backward()
    for p in lif.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert lif.tau_syn.shape == (4, 2) and lif.tau_mem.shape == (4,)


@pytest.mark.parametrize("kind", ["periodic_exponential", "step_pwl"])
def test_recurrent_layer_matches_naive(kind):
    torch.manual_seed(3)
    lif = LIFLayer(5, 2, tau_mem=0.01, tau_syn=[0.004, 0.02], threshold=0.7, max_spikes=4, surrogate=kind,
                   has_rec=True, train_tau=True, train_threshold=True)  # fmt: skip
    assert lif.w_rec.shape == (5, 10)
    x = (torch.randn(2, 30, 10) * 0.8).requires_grad_()
    st = lif.forward_states(x)
    code = 0 if kind == "periodic_exponential" else 1
    s_ref, v_ref = naive_lif(
        x.reshape(2, 30, 5, 2), lif.alpha, lif.beta, lif.threshold, lif.bias, 4, 0.5, code, lif.w_rec
    )
    assert torch.equal(st.spikes, s_ref) and torch.equal(st.vmem, v_ref)
    params = [x, lif.w_rec, lif.tau_mem, lif.tau_syn, lif.threshold]
    ours = torch.autograd.grad(st.spikes.sum() + st.vmem.pow(2).sum(), params)
    ref = torch.autograd.grad(s_ref.sum() + v_ref.pow(2).sum(), params)
    for a, b in zip(ours, ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * b.abs().max())


def test_recurrent_with_zero_weights_equals_fast_path():
    ff = LIFLayer(4, threshold=0.5)
    rec = LIFLayer(4, threshold=0.5, has_rec=True, w_rec=torch.zeros(4, 4))
    x = torch.rand(2, 25, 4)
    assert torch.equal(ff(x), rec(x))


def test_input_validation():
    with pytest.raises(ConfigError, match="input shape"):
        LIFLayer(3, 2)(torch.zeros(1, 5, 3))
    with pytest.raises(ConfigError, match="tau_syn"):
        LIFLayer(3, 2, tau_syn=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="threshold must be > 0"):
        LIFLayer(3, threshold=0.0)
    with pytest.raises(ValueError, match="surrogate"):
        LIFLayer(3, surrogate="nope")
