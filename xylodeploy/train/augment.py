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
valid raster of integer counts. Off unless ``augment.enabled``. Evaluation (validation, test,
quantization, the chip) never sees augmentation.
"""

from __future__ import annotations

import numpy as np
import torch

from xylodeploy.train.config import AugmentConfig

__all__ = ["AugmentConfig", "augment_batch"]


def _events(x: torch.Tensor) -> torch.Tensor:
    """Flat index into ``x`` of every event (a count of k at one place gives that index k times)."""
    counts = x.detach().flatten().to(torch.int64).numpy()
    return torch.from_numpy(np.repeat(np.arange(counts.size), counts))


def _counts(pos: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Inverse of `_events`: the count raster of events at flat indices ``pos``."""
    return torch.bincount(pos, minlength=like.numel()).view_as(like).to(like.dtype)


def _thin(x: torch.Tensor, keep: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Binomial thinning: each of the ``x`` events survives with probability ``keep`` (broadcast)."""
    pos = _events(x)
    p = keep.clamp(0.0, 1.0).expand_as(x).flatten()[pos]
    return _counts(pos[torch.rand(len(pos), generator=gen) < p], x)


def _shift(x: torch.Tensor, max_steps: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each clip by its own s in [-max_steps, max_steps] steps; zeros fill the gap."""
    b, t, _ = x.shape
    s = torch.randint(-max_steps, max_steps + 1, (b, 1), generator=gen)
    src = torch.arange(t).unsqueeze(0) - s  # x'[t] = x[t - s]
    valid = (src >= 0) & (src < t)
    out = torch.gather(x, 1, src.clamp(0, t - 1).unsqueeze(-1).expand_as(x))
    return out * valid.unsqueeze(-1)


def _jitter(x: torch.Tensor, max_steps: int, gen: torch.Generator) -> torch.Tensor:
    """Move each event by its own d in [-max_steps, max_steps] steps (uniform); events past the ends are lost."""
    _, t, c = x.shape
    pos = _events(x)
    d = torch.randint(-max_steps, max_steps + 1, (len(pos),), generator=gen)
    step = (pos // c) % t + d
    ok = (step >= 0) & (step < t)
    return _counts(pos[ok] + d[ok] * c, x)


def _noise(like: torch.Tensor, rate: float, gen: torch.Generator) -> torch.Tensor:
    """Independent Poisson(rate) counts per element: a Poisson total placed uniformly at random."""
    total = int(torch.poisson(torch.tensor(float(rate * like.numel())), generator=gen))
    return _counts(torch.randint(0, like.numel(), (total,), generator=gen), like)


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
        y = y + _noise(y, cfg.noise_rate, gen)
    y = y.clamp(max=cfg.max_count)
    if cfg.p < 1:
        use = (torch.rand((b, 1, 1), generator=gen) < cfg.p).float()
        y = use * y + (1 - use) * x.float()
    return y
