"""Before anything is built: does a run config give at least one time step, and fit a memory budget?

Estimated bytes (float32 training, Adam)::

    steps T     = clip duration / model.dt                (synthetic, shd, audio data; npz: unknown)
    activations = batch * T * (6 * N + C) * 4             N = hidden + readout neurons, C = channels
                                                          (6 saved floats per neuron-step for autograd)
    parameters  = 16 * (C*h1 + sum h_i*h_{i+1} + sum h_i^2 + h_L*K)   (weights, grads, 2 Adam moments)
    dataset     = (n_train + n_val + n_test) * T * C * 8  (synthetic data is generated as int64)

The run is refused (one line stating the estimate) when the sum exceeds ``train.memory_limit_gb``;
a user with a bigger machine raises that key.
"""

from __future__ import annotations

from typing import Any

_GB = float(1 << 30)


def clip_steps(data: Any, dt: float) -> int | None:
    """Time steps per clip implied by the data section (None when only the files know)."""
    if data.kind == "synthetic":
        seconds = data.duration_ms * 1e-3
    elif data.kind in ("shd", "audio"):
        seconds = data.duration
    else:
        return None
    return int(seconds / dt + 1e-9)


def estimate_bytes(cfg: Any) -> tuple[float, dict[str, float]]:
    """(total bytes, parts) for training ``cfg`` (see module docstring)."""
    data, sizes = cfg.data, list(cfg.model.size_hidden_layers)
    steps = clip_steps(data, cfg.model.dt) or 0
    c = float(getattr(data, "n_channels", 16))
    k = float(getattr(data, "n_classes", 16))
    n = float(sum(sizes)) + k
    chain = [c, *map(float, sizes), k]
    params = 16.0 * (sum(a * b for a, b in zip(chain[:-1], chain[1:], strict=True)) + sum(float(h) ** 2 for h in sizes))
    acts = float(cfg.train.batch_size) * steps * (6.0 * n + c) * 4.0
    clips = sum(float(getattr(data, f"n_{s}", 0)) for s in ("train", "val", "test"))
    dataset = clips * steps * c * 8.0
    parts = {"activations": acts, "parameters": params, "dataset": dataset}
    return sum(parts.values()), parts


def check_budget(cfg: Any) -> None:
    """Raise ValueError (a config error) for 0 steps per clip or an estimate above the memory limit."""
    steps = clip_steps(cfg.data, cfg.model.dt)
    if steps is not None and steps < 1:
        raise ValueError(f"the clip duration gives {steps} time steps at model.dt = {cfg.model.dt} s (need >= 1)")
    total, parts = estimate_bytes(cfg)
    limit = cfg.train.memory_limit_gb
    if total > limit * _GB:
        detail = ", ".join(f"{k} {v / _GB:.3g}" for k, v in parts.items())
        raise ValueError(
            f"estimated training memory {total / _GB:.3g} GB ({detail}; {steps or '?'} steps x "
            f"{sum(cfg.model.size_hidden_layers)} hidden x batch {cfg.train.batch_size}) exceeds "
            f"train.memory_limit_gb = {limit:g}; shrink the run or raise train.memory_limit_gb"
        )


__all__ = ["check_budget", "clip_steps", "estimate_bytes"]
