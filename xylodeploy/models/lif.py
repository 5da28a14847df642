"""Leaky integrate-and-fire layer with one or two synaptic currents per neuron (Xylo's order of operations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from xylodeploy.errors import ConfigError
from xylodeploy.models._recurrence import lif_scan
from xylodeploy.models.surrogate import multi_spike, surrogate_code

Floats = float | list[float] | tuple[float, ...] | torch.Tensor


class LIFState(NamedTuple):
    """Recorded traces of one :class:`LIFLayer` call: spikes, vmem ``(B, T, N)``; isyn ``(B, T, N, S)``."""

    spikes: torch.Tensor
    vmem: torch.Tensor
    isyn: torch.Tensor


@dataclass(frozen=True)
class _Cfg:
    max_spikes: int
    window: float
    kind: int
    backend: str


def _as_tensor(name: str, value: Floats, shape: tuple[int, ...]) -> torch.Tensor:
    """Broadcast a scalar / per-neuron / per-synapse value to ``shape`` (float32), naming ``name`` on error."""
    t = torch.as_tensor(value, dtype=torch.float32).detach().clone()
    if len(shape) == 2 and t.shape == (shape[0],) and shape[1] == 1:
        t = t.reshape(shape)
    try:
        return torch.broadcast_to(t, shape).clone()
    except RuntimeError:
        raise ConfigError(f"LIFLayer: {name} has shape {tuple(t.shape)}, expected a scalar or {shape}") from None


def _check_positive(name: str, t: torch.Tensor) -> None:
    if not bool(torch.all(t > 0)):
        raise ConfigError(f"LIFLayer: {name} must be > 0, got min {float(t.min()):g}")


class LIFLayer(nn.Module):
    r"""LIF neurons with ``n_synapses`` (1 or 2) synaptic currents, multi-spike output and subtractive reset.

    Discrete-time update for each step ``t`` (state 0 before ``t = 0``; ``α = exp(-dt/τ_mem)``,
    ``β_s = exp(-dt/τ_syn_s)``; ``n[t-1]`` are this layer's own spikes of the previous step)::

        isyn_s[t] = β_s · (isyn_s[t-1] + I_s[t] + Σ_j W_rec[j, s] · n_j[t-1])     (add, then decay)
        u[t]      = α · v[t-1] + Σ_s isyn_s[t] + bias
        n[t]      = min(floor(u[t] / θ), max_spikes)  if u[t] >= θ  else 0        (surrogate in backward)
        v[t]      = u[t] - n[t] · θ                                              (subtractive reset)

    This is rockpool ``LIFTorch``'s and the Xylo core's order (docs/chip-arithmetic.md) in float arithmetic.
    Each call starts from rest (rockpool carries state between calls; we do not).

    Attributes (all per neuron, float32 tensors; ``nn.Parameter`` when trainable, buffers otherwise):
        tau_mem: ``(N,)`` membrane time constants [s].
        tau_syn: ``(N, S)`` synaptic time constants [s].
        threshold: ``(N,)`` firing thresholds; bias: ``(N,)`` constant input added to ``u`` every step.
        w_rec: ``(N, N*S)`` recurrent weights ``[source, target*S + s]`` or ``None`` (``has_rec=False``).
        dt: step [s] (float); max_spikes: spike cap per step (int); n_neurons, n_synapses (int);
        surrogate (str), window (float): surrogate gradient and its width.

    Input ``I`` is ``(B, T, N*S)`` (column ``n*S + s`` feeds synapse ``s`` of neuron ``n``, as in rockpool)
    or ``(B, T, N, S)``.
    """

    def __init__(
        self,
        n_neurons: int,
        n_synapses: int = 1,
        *,
        tau_mem: Floats = 20e-3,
        tau_syn: Floats = 20e-3,
        threshold: Floats = 1.0,
        bias: Floats = 0.0,
        dt: float = 1e-3,
        max_spikes: int = 31,
        surrogate: str = "periodic_exponential",
        window: float = 0.5,
        train_tau: bool = False,
        train_threshold: bool = False,
        train_bias: bool = False,
        has_rec: bool = False,
        w_rec: torch.Tensor | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if n_neurons < 1 or n_synapses not in (1, 2):
            raise ConfigError(f"LIFLayer: need n_neurons >= 1 and n_synapses in (1, 2), got {n_neurons}, {n_synapses}")
        if dt <= 0 or window <= 0 or int(max_spikes) < 1:
            raise ConfigError(f"LIFLayer: need dt > 0, window > 0, max_spikes >= 1; got {dt}, {window}, {max_spikes}")
        if backend not in ("auto", "numba", "torch"):
            raise ConfigError(f"LIFLayer: backend must be 'auto', 'numba' or 'torch', got {backend!r}")
        N, S = int(n_neurons), int(n_synapses)
        self.n_neurons, self.n_synapses, self.dt = N, S, float(dt)
        self.max_spikes, self.window, self.surrogate = int(max_spikes), float(window), surrogate
        self._cfg = _Cfg(self.max_spikes, self.window, surrogate_code(surrogate), backend)
        tm, ts = _as_tensor("tau_mem", tau_mem, (N,)), _as_tensor("tau_syn", tau_syn, (N, S))
        th = _as_tensor("threshold", threshold, (N,))
        for name, t in (("tau_mem", tm), ("tau_syn", ts), ("threshold", th)):
            _check_positive(name, t)
        self._register("tau_mem", tm, train_tau)
        self._register("tau_syn", ts, train_tau)
        self._register("threshold", th, train_threshold)
        self._register("bias", _as_tensor("bias", bias, (N,)), train_bias)
        self.has_rec = bool(has_rec)
        if not has_rec and w_rec is not None:
            raise ConfigError("LIFLayer: w_rec given but has_rec=False")
        w = None
        if has_rec:
            w = _as_tensor("w_rec", w_rec, (N, N * S)) if w_rec is not None else _kaiming((N, N * S))
        self.register_parameter("w_rec", None if w is None else nn.Parameter(w))

    def _register(self, name: str, value: torch.Tensor, trainable: bool) -> None:
        if trainable:
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    @property
    def alpha(self) -> torch.Tensor:
        """Membrane decay ``exp(-dt/τ_mem)``, ``(N,)``."""
        return torch.exp(-self.dt / self.tau_mem)

    @property
    def beta(self) -> torch.Tensor:
        """Synaptic decays ``exp(-dt/τ_syn)``, ``(N, S)``."""
        return torch.exp(-self.dt / self.tau_syn)

    def _split(self, i_in: torch.Tensor) -> torch.Tensor:
        N, S = self.n_neurons, self.n_synapses
        if i_in.dim() == 3 and i_in.shape[-1] == N * S:
            return i_in.reshape(*i_in.shape[:2], N, S)
        if i_in.dim() == 4 and tuple(i_in.shape[2:]) == (N, S):
            return i_in
        raise ConfigError(f"LIFLayer: input shape {tuple(i_in.shape)}, expected (B, T, {N * S}) or (B, T, {N}, {S})")

    def forward_states(self, i_in: torch.Tensor) -> LIFState:
        """Run the layer on ``i_in`` and return spikes, vmem (after reset) and isyn (after decay)."""
        x = self._split(i_in)
        c = self._cfg
        if self.w_rec is None:
            return LIFState(
                *lif_scan(
                    x, self.alpha, self.beta, self.threshold, self.bias, c.max_spikes, c.window, c.kind, c.backend
                )
            )
        return self._step_loop(x)

    def forward(self, i_in: torch.Tensor) -> torch.Tensor:
        """Spike counts ``(B, T, N)`` for input ``i_in`` (see class docstring for shapes)."""
        return self.forward_states(i_in).spikes

    def _step_loop(self, x: torch.Tensor) -> LIFState:
        """Step-by-step autograd path (needed for recurrent weights)."""
        B, T, N, S = x.shape
        c, dtype = self._cfg, x.dtype
        alpha, beta = self.alpha.to(dtype), self.beta.to(dtype)
        th, bias = self.threshold.to(dtype), self.bias.to(dtype)
        w_rec = self.w_rec.to(dtype) if self.w_rec is not None else None
        v, cur, n = x.new_zeros(B, N), x.new_zeros(B, N, S), x.new_zeros(B, N)
        spikes, vmem, isyn = [], [], []
        for t in range(T):
            drive = x[:, t] if w_rec is None else x[:, t] + (n @ w_rec).reshape(B, N, S)
            cur = beta * (cur + drive)
            u = alpha * v + cur.sum(-1) + bias
            n = multi_spike(u, th, c.window, float(c.max_spikes), c.kind)
            v = u - n * th
            spikes.append(n)
            vmem.append(v)
            isyn.append(cur.detach())
        return LIFState(torch.stack(spikes, 1), torch.stack(vmem, 1), torch.stack(isyn, 1))

    def extra_repr(self) -> str:
        return (
            f"n_neurons={self.n_neurons}, n_synapses={self.n_synapses}, dt={self.dt:g}, max_spikes={self.max_spikes}, "
            f"surrogate={self.surrogate!r}, has_rec={self.has_rec}"
        )


def _kaiming(shape: tuple[int, int]) -> torch.Tensor:
    """Kaiming-uniform ``(in, out)`` matrix, bound ``sqrt(6 / in)`` (rockpool's ``LinearTorch`` default)."""
    return nn.init.kaiming_uniform_(torch.empty(shape[1], shape[0])).T.contiguous()
