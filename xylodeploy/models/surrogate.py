"""Multi-spike generation with surrogate gradients.

Forward (every surrogate), for membrane potential ``u`` and threshold ``θ > 0``::

    n = clamp(floor(u / θ), 0, M)   if u >= θ  else 0        (M = max spikes per step)

A threshold ``θ <= 0`` makes the neuron fire ``M`` spikes whenever ``u >= θ`` (what Xylo does for th = 0).

Backward, ``g_u = ∂n/∂u`` and ``g_θ = ∂n/∂θ`` are replaced by a surrogate:

* ``"periodic_exponential"`` (rockpool's ``PeriodicExponential``; one bump per spike count)::

      w  = u - θ/2 ;  k = min(floor(w/θ), M - 1)
      r  = w - k·θ  if u >= θ  else  w
      g_u = exp(-|r - θ/2| / window) / θ ;   g_θ = -g_u · u / θ

* ``"step_pwl"`` (rockpool's ``StepPWL``; a simple boxcar-ramp alternative)::

      g_u = [u >= θ - window] / θ ;   g_θ = -[u >= θ - window] · u / θ²
"""

from __future__ import annotations

import torch

SURROGATES: dict[str, int] = {"periodic_exponential": 0, "step_pwl": 1}
"""Surrogate names and the integer code used by the compiled kernels."""


def surrogate_code(name: str) -> int:
    """Return the kernel code of surrogate ``name`` or raise ``ValueError`` naming the choices."""
    try:
        return SURROGATES[name]
    except KeyError:
        raise ValueError(f"surrogate: unknown {name!r}; choose one of {sorted(SURROGATES)}") from None


def spike_count(u: torch.Tensor, theta: torch.Tensor, max_spikes: float) -> torch.Tensor:
    """Forward spike count ``n`` (see module docstring); same dtype and shape as ``u``."""
    pos = theta > 0
    safe = torch.where(pos, theta, torch.ones_like(theta))
    n = torch.clamp(torch.floor(u / safe), max=max_spikes)
    n = torch.where(pos, n, torch.full_like(n, max_spikes))
    return torch.where(u >= theta, n, torch.zeros_like(n))


def surrogate_grads(
    u: torch.Tensor, theta: torch.Tensor, window: float, max_spikes: float, kind: int, with_theta: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Surrogate derivatives ``(g_u, g_θ)`` of the spike count at ``u`` (``g_θ`` None unless ``with_theta``)."""
    if kind == 0:  # written in place to keep large temporaries few; same values as the formula above
        w = u - theta / 2
        k = (w / theta).floor_().clamp_(max=max_spikes - 1).mul_(theta).masked_fill_(u < theta, 0)
        g_u = w.sub_(k).sub_(theta / 2).abs_().div_(-window).exp_().div_(theta)
    elif kind == 1:
        g_u = (u >= theta - window).to(u.dtype) / theta
    else:
        raise ValueError(f"surrogate: unknown kernel code {kind}")
    return g_u, (-g_u * u / theta if with_theta else None)


class MultiSpike(torch.autograd.Function):
    """``n = spike_count(u, θ, M)`` with the surrogate backward; used by the step-by-step (recurrent) path."""

    @staticmethod
    def forward(ctx, u, theta, window, max_spikes, kind):  # type: ignore[override]
        ctx.save_for_backward(u, theta)
        ctx.window, ctx.max_spikes, ctx.kind = window, max_spikes, kind
        return spike_count(u, theta, max_spikes)

    @staticmethod
    def backward(ctx, grad_n):  # type: ignore[override]
        u, theta = ctx.saved_tensors
        g_u, g_th = surrogate_grads(u, theta, ctx.window, ctx.max_spikes, ctx.kind)
        grad_theta = None
        if ctx.needs_input_grad[1]:
            grad_theta = _sum_to(grad_n * g_th, theta.shape)
        return grad_n * g_u, grad_theta, None, None, None


def _sum_to(x: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast gradient back to ``shape``."""
    while x.dim() > len(shape):
        x = x.sum(0)
    return x.reshape(shape)


def multi_spike(u: torch.Tensor, theta: torch.Tensor, window: float, max_spikes: float, kind: int) -> torch.Tensor:
    """Spike count with surrogate gradient (autograd-friendly wrapper of :class:`MultiSpike`)."""
    return MultiSpike.apply(u, theta, window, max_spikes, kind)
