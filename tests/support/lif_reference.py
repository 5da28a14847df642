"""A literal, step-by-step float LIF (rockpool's equations with plain autograd): the independent reference
for the fast LIF layers and SynNet.

    from tests.support.lif_reference import naive_lif
"""

from __future__ import annotations

import torch


class _NaiveSpike(torch.autograd.Function):
    """Rockpool's PeriodicExponential / StepPWL written out literally (out of place)."""

    @staticmethod
    def forward(ctx, u, th, window, M, kind):
        ctx.save_for_backward(u, th)
        ctx.window, ctx.M, ctx.kind = window, M, kind
        n = (u >= th) * torch.floor(u / th)
        return torch.where(n > M, torch.full_like(n, M), n)

    @staticmethod
    def backward(ctx, g):
        u, th = ctx.saved_tensors
        if ctx.kind == 0:
            w = u - th / 2
            k = torch.clamp(torch.div(w, th, rounding_mode="floor"), max=ctx.M - 1)
            r = (w - k * th) * (u >= th) + w * (u < th)
            pdf = torch.exp(-torch.abs(r - th / 2) / ctx.window) / th
        else:
            pdf = (u >= th - ctx.window) / th
        return g * pdf, (g * -pdf * u / th).sum(0), None, None, None


def naive_lif(I, alpha, beta, th, bias, M, window, kind, w_rec=None):
    """The issue's equations, one step at a time, plain autograd. I: (B, T, N, S)."""
    B, T, N, S = I.shape
    v, cur, n = I.new_zeros(B, N), I.new_zeros(B, N, S), I.new_zeros(B, N)
    spikes, vmem = [], []
    for t in range(T):
        drive = I[:, t] if w_rec is None else I[:, t] + (n @ w_rec).reshape(B, N, S)
        cur = beta * (cur + drive)
        u = alpha * v + cur.sum(2) + bias
        n = _NaiveSpike.apply(u, th, window, float(M), kind)
        v = u - n * th
        spikes.append(n)
        vmem.append(v)
    return torch.stack(spikes, 1), torch.stack(vmem, 1)
