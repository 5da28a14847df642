"""Raster augmentation for training: new, plausible variations of each clip every epoch.

Applied to a training batch ``x`` (B, T, C) of event counts, in this order, each with its own
probability of acting on a clip (``p``; 0 switches a transform off):

    shift:   x'[t] = x[t - s],      s ~ U{-S, S} steps per clip, zeros shifted in
    gain:    x'[t, c] ~ Binomial(x[t, c], g_c),  g_c = min(1, exp(N(0, gain_sigma))) per clip
             and channel (thinning: quieter channels, as a speaker's different timbre / level)
    drop:    x'[t, c] ~ Binomial(x[t, c], 1 - event_drop)  (every event lost with that probability)
    jitter:  every event moves to t + d, d ~ U{-J, J} steps (events past the ends are lost)
    noise:   x'[t, c] += Poisson(noise_rate)  (spurious events, rate per step and channel)

and finally ``x' = min(x', max_count)`` (the chip's input event limit), so the result is again a
valid raster of integer counts. Evaluation (validation, test, quantization, the chip) never
sees augmentation.
"""

from __future__ import annotations

import torch

from xylodeploy.train.config import AugmentConfig

__all__ = ["AugmentConfig", "augment_batch"]


def _thin(x: torch.Tensor, keep: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Binomial thinning: each of the ``x`` events survives with probability ``keep`` (broadcast)."""
    keep = keep.expand_as(x).clamp(0.0, 1.0)
    return torch.binomial(x, keep, generator=gen)


def _shift(x: torch.Tensor, max_steps: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each clip by its own s in [-max_steps, max_steps] steps; zeros fill the gap."""
    b, t, _ = x.shape
    s = torch.randint(-max_steps, max_steps + 1, (b, 1), generator=gen)
    src = torch.arange(t).unsqueeze(0) - s  # x'[t] = x[t - s]
    valid = (src >= 0) & (src < t)
    out = torch.gather(x, 1, src.clamp(0, t - 1).unsqueeze(-1).expand_as(x))
    return out * valid.unsqueeze(-1)


def _jitter(x: torch.Tensor, max_steps: int, gen: torch.Generator) -> torch.Tensor:
    """Move each event by d in [-max_steps, max_steps] steps (multinomial split of each count)."""
    n = 2 * max_steps + 1
    t = x.shape[1]
    # split every count x[b, t, c] into n offsets with equal probability (sequential binomials)
    out = torch.zeros_like(x)
    left = x.clone()
    for k, d in enumerate(range(-max_steps, max_steps + 1)):
        part = left if k == n - 1 else torch.binomial(left, torch.full_like(left, 1.0 / (n - k)), generator=gen)
        left = left - part
        if d > 0:
            out[:, d:] += part[:, : t - d]
        elif d < 0:
            out[:, :d] += part[:, -d:]
        else:
            out += part
    return out


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, dt: float, gen: torch.Generator) -> torch.Tensor:
    """Augmented copy of the (B, T, C) count batch ``x`` (float tensor of integers; see module docstring)."""
    if not cfg.active():
        return x
    y = x.float()
    b, _, c = y.shape
    if cfg.shift_ms > 0 and round(cfg.shift_ms * 1e-3 / dt) > 0:
        y = _shift(y, round(cfg.shift_ms * 1e-3 / dt), gen)
    if cfg.gain_sigma > 0:
        g = torch.exp(torch.randn((b, 1, c), generator=gen) * cfg.gain_sigma).clamp(max=1.0)
        y = _thin(y, g, gen)
    if cfg.event_drop > 0:
        y = _thin(y, torch.full((1, 1, 1), 1.0 - cfg.event_drop), gen)
    if cfg.jitter_ms > 0 and round(cfg.jitter_ms * 1e-3 / dt) > 0:
        y = _jitter(y, round(cfg.jitter_ms * 1e-3 / dt), gen)
    if cfg.noise_rate > 0:
        y = y + torch.poisson(torch.full_like(y, cfg.noise_rate), generator=gen)
    y = y.clamp(max=cfg.max_count)
    if cfg.p < 1:
        use = (torch.rand((b, 1, 1), generator=gen) < cfg.p).float()
        y = use * y + (1 - use) * x.float()
    return y
