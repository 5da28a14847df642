"""Fast feed-forward LIF recurrence with a hand-written backward pass.

Per neuron ``n``, synapse ``s``, step ``t`` (state zero before ``t = 0``), the forward is::

    a_s[t]    = isyn_s[t-1] + I_s[t]
    isyn_s[t] = β_s · a_s[t]
    u[t]      = α · v[t-1] + Σ_s isyn_s[t] + b
    n[t]      = spike_count(u[t], θ, M)           (surrogate ∂n/∂u = g_u, ∂n/∂θ = g_θ)
    v[t]      = u[t] - n[t] · θ

and the backward is the exact reverse-mode adjoint of those equations (``λ`` = total derivative of the
loss, ``ḡ`` = incoming gradients of the outputs ``n`` and ``v``), for ``t = T-1 .. 0``::

    dv      = ḡ_v[t] + α · λu[t+1]
    dn      = ḡ_n[t] - θ · dv
    λu[t]   = dv + dn · g_u(u[t])
    ∂θ     += -n[t] · dv + dn · g_θ(u[t]) ;  ∂α += λu[t] · v[t-1] ;  ∂b += λu[t]
    di_s    = λu[t] + λa_s[t+1]
    λa_s[t] = β_s · di_s = ∂I_s[t] ;  ∂β_s += di_s · a_s[t]

Substituting ``dv`` and ``dn`` gives two *linear* reverse recurrences, the only sequential part of the
backward (``c = 1 - θ·g_u``, ``e = c·ḡ_v + g_u·ḡ_n``, both computed vectorised)::

    λu[t] = c[t] · α · λu[t+1] + e[t] ;   λa_s[t] = β_s · (λu[t] + λa_s[t+1])

after which the parameter gradients are vectorised sums over batch and time.

The forward loop and the reverse recurrences run in a numba kernel (CPU, parallel over the batch) or in a
plain-torch loop over time with no autograd graph (any device). :func:`lif_scan` picks numba for CPU tensors.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from xylodeploy.models.surrogate import spike_count, surrogate_grads

_NB = {"cache": True, "parallel": True, "nogil": True, "error_model": "numpy"}


@numba.njit(inline="always")
def _count(u, th, M):
    # all arguments share one float dtype, so the arithmetic matches torch's bit for bit
    if u < th:
        return M - M
    if th <= 0:
        return M
    k = np.floor(u / th)
    return M if k > M else k


@numba.njit(**_NB)
def _forward_nb(I, alpha, beta, theta, bias, M, spikes, vmem, isyn, upre):  # pragma: no cover - compiled
    B, T, N, S = I.shape
    for b in numba.prange(B):
        v = np.zeros(N, I.dtype)
        cur = np.zeros((N, S), I.dtype)
        for t in range(T):
            for n in range(N):
                tot = M - M
                for s in range(S):
                    c = beta[n, s] * (cur[n, s] + I[b, t, n, s])
                    cur[n, s] = c
                    isyn[b, t, n, s] = c
                    tot = c if s == 0 else tot + c
                u = alpha[n] * v[n] + tot + bias[n]
                upre[b, t, n] = u
                k = _count(u, theta[n], M)
                spikes[b, t, n] = k
                v[n] = u - k * theta[n]
                vmem[b, t, n] = v[n]


@numba.njit(**_NB)
def _adjoint_nb(c, e, alpha, beta, lu, la):  # pragma: no cover - compiled
    B, T, N, S = la.shape
    for b in numba.prange(B):
        lu_next = np.zeros(N, c.dtype)
        la_next = np.zeros((N, S), c.dtype)
        for t in range(T - 1, -1, -1):
            for n in range(N):
                x = c[b, t, n] * alpha[n] * lu_next[n] + e[b, t, n]
                lu[b, t, n] = x
                lu_next[n] = x
                for s in range(S):
                    y = beta[n, s] * (x + la_next[n, s])
                    la[b, t, n, s] = y
                    la_next[n, s] = y


def _forward_torch(I, alpha, beta, theta, bias, M):
    B, T, N, S = I.shape
    spikes, vmem, upre = (I.new_empty(B, T, N) for _ in range(3))
    isyn = torch.empty_like(I)
    v = I.new_zeros(B, N)
    cur = I.new_zeros(B, N, S)
    for t in range(T):
        cur = beta * (cur + I[:, t])
        isyn[:, t] = cur
        u = alpha * v + cur.sum(-1) + bias
        upre[:, t] = u
        k = spike_count(u, theta, M)
        spikes[:, t] = k
        v = u - k * theta
        vmem[:, t] = v
    return spikes, vmem, isyn, upre


def _adjoint_torch(c, e, alpha, beta, lu, la):
    T = c.shape[1]
    lu_next = torch.zeros_like(c[:, 0])
    la_next = torch.zeros_like(la[:, 0])
    for t in range(T - 1, -1, -1):
        lu_next = c[:, t] * alpha * lu_next + e[:, t]
        la_next = beta * (lu_next.unsqueeze(-1) + la_next)
        lu[:, t] = lu_next
        la[:, t] = la_next


def _shift(x: torch.Tensor, step: int) -> torch.Tensor:
    """``x[:, t - step]`` along dim 1 with zeros outside (step = 1: previous step, -1: next step)."""
    z = torch.zeros_like(x[:, :1])
    return torch.cat([z, x[:, :-1]], 1) if step == 1 else torch.cat([x[:, 1:], z], 1)


def _backward(ctx, gs, gv):
    """Adjoint of the module-docstring equations: two linear reverse recurrences plus vectorised reductions."""
    I, alpha, beta, theta, spikes, vmem, isyn, upre = ctx.saved_tensors
    M, window, kind, use_numba = ctx.cfg
    need_i, need_a, need_b, need_th, need_bias = ctx.needs_input_grad[:5]
    g_u, g_th = surrogate_grads(upre, theta, window, M, kind, with_theta=need_th)
    c = 1 - theta * g_u
    e = gs * g_u if gs is not None else torch.zeros_like(upre)
    if gv is not None:
        e = e + c * gv
    lu, la = torch.empty_like(upre), torch.empty_like(I)
    if use_numba:
        _adjoint_nb(*(_np(x) for x in (c, e, alpha, beta, lu, la)))
    else:
        _adjoint_torch(c, e, alpha, beta, lu, la)
    g_alpha = g_beta = g_theta = g_bias = None
    if need_th:
        dv = alpha * _shift(lu, -1) + (gv if gv is not None else 0)
        dn = (gs if gs is not None else 0) - theta * dv
        g_theta = (dn * g_th - spikes * dv).sum((0, 1))
    if need_a:
        g_alpha = (lu * _shift(vmem, 1)).sum((0, 1))
    if need_bias:
        g_bias = lu.sum((0, 1))
    if need_b:
        di = lu.unsqueeze(-1) + _shift(la, -1)
        g_beta = (di * (I + _shift(isyn, 1))).sum((0, 1))
    return (la if need_i else None), g_alpha, g_beta, g_theta, g_bias


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().contiguous().numpy()


class _LIFScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, I, alpha, beta, theta, bias, M, window, kind, use_numba):  # type: ignore[override]
        I = I.contiguous()
        if use_numba:
            B, T, N, _ = I.shape
            spikes, vmem, upre = (I.new_empty(B, T, N) for _ in range(3))
            isyn = torch.empty_like(I)
            Mt = _np(I).dtype.type(M)  # the cap in the data's dtype keeps the kernel's arithmetic in that dtype
            _forward_nb(_np(I), _np(alpha), _np(beta), _np(theta), _np(bias), Mt, *map(_np, (spikes, vmem, isyn, upre)))
        else:
            spikes, vmem, isyn, upre = _forward_torch(I, alpha, beta, theta, bias, M)
        ctx.save_for_backward(I, alpha, beta, theta, spikes, vmem, isyn, upre)
        ctx.cfg = (M, window, kind, use_numba)
        ctx.mark_non_differentiable(isyn)
        return spikes, vmem, isyn

    @staticmethod
    def backward(ctx, gs, gv, _gi):  # type: ignore[override]
        return (*_backward(ctx, gs, gv), None, None, None, None)


def lif_scan(
    i_in: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor,
    theta: torch.Tensor,
    bias: torch.Tensor,
    max_spikes: int,
    window: float,
    kind: int,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the feed-forward LIF recurrence from rest; differentiable in every tensor argument.

    Args:
        i_in: synaptic input ``(B, T, N, S)``.
        alpha: membrane decay ``(N,)``; beta: synaptic decays ``(N, S)``; theta, bias: ``(N,)``.
        max_spikes: spike cap ``M`` per step; window: surrogate width; kind: surrogate code.
        backend: ``"numba"``, ``"torch"`` or ``"auto"`` (numba for CPU tensors).

    Returns:
        ``(spikes, vmem, isyn)``: ``(B, T, N)``, ``(B, T, N)`` after reset, ``(B, T, N, S)`` after decay
        (``isyn`` carries no gradient).
    """
    dtype = i_in.dtype
    params = [p.to(dtype=dtype).contiguous() for p in (alpha, beta, theta, bias)]
    if backend == "auto":
        backend = "numba" if i_in.device.type == "cpu" else "torch"
    if backend not in ("numba", "torch"):
        raise ValueError(f"lif_scan: backend must be 'auto', 'numba' or 'torch', got {backend!r}")
    if backend == "numba" and i_in.device.type != "cpu":
        raise ValueError(f"lif_scan: the numba backend needs CPU tensors, got device {i_in.device}")
    return _LIFScan.apply(i_in, *params, float(max_spikes), float(window), int(kind), backend == "numba")
