"""Integer operations of the Xylo core on integer-valued float64 tensors, with straight-through gradients.

Every function here returns *exactly* the integer the chip computes (`xylodeploy.arith.scalar_model`) in its
forward value, stored in a float64 tensor; the backward pass uses a smooth stand-in:

* ``ste(exact, smooth)``: value of ``exact``, gradient of ``smooth``.
* rounding, clamping, saturation and int16 wrap-around pass the gradient straight through.
* bit-shift decay ``x - decrement(x, d)`` has the gradient of the float decay ``x (1 - 2^-d)``.
* the spike count uses a periodic-exponential surrogate per unit threshold (`SpikeCount`).

float64 represents every integer up to 2^53 exactly; the largest sums formed here
(Nh · 31 spikes · 32768) are < 2^36, so sums of products are exact. float32 (2^24) is not enough.
"""

from __future__ import annotations

import torch
from torch import Tensor


def ste(exact: Tensor, smooth: Tensor) -> Tensor:
    """Forward value ``exact``, gradient of ``smooth`` (straight-through estimator)."""
    return smooth + (exact - smooth).detach()


def round_ste(x: Tensor) -> Tensor:
    """``round(x)`` (half to even, like numpy) with identity gradient."""
    return ste(torch.round(x), x)


def clamp_ste(x: Tensor, lo: float | None = None, hi: float | None = None) -> Tensor:
    """``clamp(x, lo, hi)`` with identity gradient (used for saturation and spike caps)."""
    return ste(torch.clamp(x, lo, hi), x)


def wrap_int16(x: Tensor) -> Tensor:
    """Two's-complement truncation to 16 bits: ``(int16)(x)`` for integer-valued ``x``."""
    return torch.remainder(x + 32768.0, 65536.0) - 32768.0


def shifted_weight(w: Tensor, shift: int) -> Tensor:
    """Effective weight ``(int16)(w << shift)`` with gradient ``2^shift`` (docs/chip-arithmetic.md, P7)."""
    scaled = w * float(2**shift)
    return ste(wrap_int16(scaled), scaled)


def decay(x: Tensor, dash: Tensor) -> Tensor:
    """Bit-shift decay ``x - decrement(x, d)`` of `xylodeploy.arith.scalar_model`.

    ``decrement(x, d) = x >> d`` (floor), but at least 1 when ``x > 0``. ``dash`` broadcasts
    against ``x``. Gradient: that of the float decay ``x · (1 - 2^-d)``.
    """
    scale = torch.pow(2.0, -dash)
    with torch.no_grad():
        dec = torch.floor(x * scale)
        dec = torch.where((x > 0) & (dec < 1), torch.ones_like(dec), dec)
        exact = x - dec
    return ste(exact, x * (1.0 - scale))


class SpikeCount(torch.autograd.Function):
    """Spike count of a subtractive-reset neuron, ``n = min(floor(v / th), cap)`` for ``v >= th > 0``.

    Returns ``(n, v_after)`` exactly (`spike_count_exact`; ``v_after`` carries no gradient).
    Backward: with ``u = v/th`` and ``s(u) = exp(-dist(u)/window)``, where ``dist`` is the
    distance to the nearest firing point (``|u - 1|`` below threshold, ``|u - round(u)|``
    above), ``dn/dv = s/th`` and ``dn/dth = -s·u/th``; zero once the count is capped
    (``u >= cap + 1/2``).
    """

    @staticmethod
    def forward(ctx, v: Tensor, th: Tensor, cap: Tensor, max_cap: int, window: float, general: bool):  # type: ignore[override]
        n, v_after = spike_count_exact(v, th, cap, max_cap, general)
        ctx.save_for_backward(v, th, cap)
        ctx.window = window
        ctx.mark_non_differentiable(v_after)
        return n, v_after

    @staticmethod
    def backward(ctx, grad: Tensor, _grad_v_after: Tensor):  # type: ignore[override]
        v, th, cap = ctx.saved_tensors
        th_safe = torch.clamp(th, min=1.0)
        u = v / th_safe
        dist = torch.where(u < 1.0, (u - 1.0).abs(), (u - torch.round(u)).abs())
        s = torch.exp(-dist / ctx.window) * (u < cap + 0.5)
        g_v = grad * s / th_safe if ctx.needs_input_grad[0] else None
        g_th = (-grad * s * u / th_safe).sum_to_size(th.shape) if ctx.needs_input_grad[1] else None
        return g_v, g_th, None, None, None, None


@torch.no_grad()
def spike_count_exact(v: Tensor, th: Tensor, cap: Tensor, max_cap: int, general: bool = True) -> tuple[Tensor, Tensor]:
    """Exact spike loop ``while k < cap and v >= th: v -= th; k += 1`` on int16 state.

    Returns ``(count, v_after)``. For ``th > 0`` this is ``min(floor(v/th), cap)`` (never
    wraps); for ``th == 0`` it is ``cap`` if ``v >= 0``. For ``th < 0`` each spike adds
    ``|th|`` and the int16 state wraps around (observed in xylosim), so those entries are
    iterated explicitly (at most ``max_cap`` times); pass ``general=False`` when no threshold
    is negative to skip that path.
    """
    th_b = th.expand_as(v)
    pos = th_b > 0
    q = torch.floor(v / torch.where(pos, th_b, torch.ones_like(th_b)))
    q = torch.where(pos, torch.clamp(q, min=0.0), torch.where(v >= 0, cap, 0.0))
    n = torch.minimum(q, cap)
    v_after = v - n * th_b
    if general:
        neg = th_b < 0
        vv, kk = v, torch.zeros_like(v)
        for _ in range(max_cap):
            go = neg & (vv >= th_b) & (kk < cap)
            vv = torch.where(go, wrap_int16(vv - th_b), vv)
            kk = kk + go
        n = torch.where(neg, kk, n)
        v_after = torch.where(neg, vv, v_after)
    return n, v_after


def fire(
    v: Tensor, th: Tensor, cap: Tensor, max_cap: int, window: float, general: bool = True
) -> tuple[Tensor, Tensor]:
    """Spike count (at most ``cap <= max_cap``) and post-reset membrane ``v - n·th``.

    Values are exact (`spike_count_exact`), gradients from the `SpikeCount` surrogate.
    """
    n, v_after = SpikeCount.apply(v, th, cap, max_cap, window, general)
    return n, ste(v_after, v - n * th)
