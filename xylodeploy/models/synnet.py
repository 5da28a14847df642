"""SynNet (Bos & Muir 2022): feed-forward LIF layers with a pyramid of synaptic time constants."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from xylodeploy.errors import ConfigError
from xylodeploy.models.lif import LIFLayer, LIFState, _kaiming

VMEM_OUTPUT_THRESHOLD = 2**15 - 1
"""Readout threshold rockpool's SynNet uses when ``output='vmem'`` (its ``THRESHOLD_OUT``)."""


def snap_tau(tau: float, dt: float) -> float:
    """Snap ``tau`` to the nearest bit-shift-representable value, as rockpool's SynNet does.

    ``dash = round(-log2(1 - exp(-dt/τ)))`` (half to even), then ``τ' = -dt / ln(1 - 2^-dash)``.
    """
    dash = round(-math.log2(1.0 - math.exp(-dt / tau)))
    return -dt / math.log(1.0 - 2.0**-dash)


def tau_pyramid(n_neurons: int, n_tau: int, tau_syn_base: float, dt: float, quantize: bool) -> list[float]:
    """Synaptic time constants of one SynNet hidden layer: neuron ``i`` gets ``(τ_base/dt)^(i mod n_tau + 1)·dt``."""
    taus = [(tau_syn_base / dt) ** (i % n_tau + 1) * dt for i in range(n_neurons)]
    return [snap_tau(t, dt) for t in taus] if quantize else taus


def delay_one_step(s: torch.Tensor) -> torch.Tensor:
    """Shift ``(B, T, N)`` along time by one step: ``out[:, t] = s[:, t-1]``, ``out[:, 0] = 0``."""
    return torch.nn.functional.pad(s[:, :-1], (0, 0, 1, 0))


@dataclass
class SynNetRecord:
    """Traces of one :meth:`SynNet.record` call: the model output, and per layer spikes/vmem/isyn.

    ``hidden[i].spikes`` are the counts layer ``i`` emits at each step (before dropout and hop delay).
    """

    output: torch.Tensor
    hidden: list[LIFState]
    readout: LIFState


class SynNet(nn.Module):
    """SynNet with rockpool's parameters and defaults (docs/chip-facts.md, rockpool), on fast chip-ordered LIF layers.

    Layer ``i`` is ``I = x_i @ weights[i]`` followed by ``hidden[i]`` (one synapse per neuron); the readout is
    ``weights[-1]`` followed by ``readout``. Initial weights are Kaiming-uniform (bound ``sqrt(6/in)``) times
    ``dt/τ_syn`` of the target neuron. With ``hop_delay`` (default) each hidden layer's spikes reach the next
    layer / readout one step later, as on Xylo (docs/chip-arithmetic.md); ``hop_delay=False`` is rockpool's timing.

    Attributes read by the graph extractor:
        weights: ``nn.ParameterList``; ``weights[i]`` is ``(in, out)``, last entry = readout ``(N_last, n_classes)``.
        hidden: ``nn.ModuleList`` of :class:`LIFLayer`; readout: :class:`LIFLayer` (``n_classes`` neurons).
        Each LIFLayer has ``tau_mem (N,)``, ``tau_syn (N, 1)``, ``threshold (N,)``, ``bias (N,)``, ``dt``,
        ``max_spikes``. ``layers()`` yields ``(weight, lif)`` pairs in order, readout last.
        hop_delay (bool), output (``'spikes'|'vmem'``), dt (float), init_kwargs (dict, JSON-serialisable).

    Args: as rockpool's ``SynNet`` (``n_classes``, ``n_channels``, ``size_hidden_layers``,
        ``time_constants_per_layer``, ``tau_syn_base``, ``tau_mem``, ``tau_syn_out``, ``quantize_time_constants``,
        ``train_time_constants``, ``threshold``, ``threshold_out``, ``train_threshold``, ``max_spikes_per_dt``,
        ``max_spikes_per_dt_out``, ``p_dropout`` (time-step dropout, no rescaling, training only), ``dt``,
        ``output``), plus ``hop_delay``, ``surrogate``, ``window`` (surrogate width) and ``backend``
        (``'auto'|'numba'|'torch'``). ``output='vmem'`` returns the readout membrane after reset with readout
        threshold ``2**15-1``.
    """

    def __init__(
        self,
        n_classes: int,
        n_channels: int,
        size_hidden_layers: Sequence[int] = (60,),
        time_constants_per_layer: Sequence[int] = (10,),
        tau_syn_base: float = 2e-3,
        tau_mem: float = 2e-3,
        tau_syn_out: float = 2e-3,
        quantize_time_constants: bool = True,
        train_time_constants: bool = False,
        threshold: float = 1.0,
        threshold_out: float | Sequence[float] | None = None,
        train_threshold: bool = False,
        max_spikes_per_dt: int = 31,
        max_spikes_per_dt_out: int = 1,
        p_dropout: float = 0.0,
        dt: float = 1e-3,
        output: str = "spikes",
        hop_delay: bool = True,
        surrogate: str = "periodic_exponential",
        window: float = 0.5,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        sizes, n_taus = [int(n) for n in size_hidden_layers], [int(n) for n in time_constants_per_layer]
        _validate(n_classes, n_channels, sizes, n_taus, tau_syn_base, dt, output, threshold_out, p_dropout)
        self.init_kwargs: dict[str, Any] = {
            "n_classes": int(n_classes), "n_channels": int(n_channels), "size_hidden_layers": sizes,
            "time_constants_per_layer": n_taus, "tau_syn_base": float(tau_syn_base), "tau_mem": float(tau_mem),
            "tau_syn_out": float(tau_syn_out), "quantize_time_constants": bool(quantize_time_constants),
            "train_time_constants": bool(train_time_constants), "threshold": float(threshold),
            "threshold_out": _jsonable(threshold_out), "train_threshold": bool(train_threshold),
            "max_spikes_per_dt": int(max_spikes_per_dt), "max_spikes_per_dt_out": int(max_spikes_per_dt_out),
            "p_dropout": float(p_dropout), "dt": float(dt), "output": output, "hop_delay": bool(hop_delay),
            "surrogate": surrogate, "window": float(window), "backend": backend,
        }  # fmt: skip
        self.n_classes, self.n_channels, self.dt = int(n_classes), int(n_channels), float(dt)
        self.output, self.hop_delay, self.p_dropout = output, bool(hop_delay), float(p_dropout)
        if quantize_time_constants:
            tau_mem, tau_syn_out = snap_tau(tau_mem, dt), snap_tau(tau_syn_out, dt)
        th_out = VMEM_OUTPUT_THRESHOLD if output == "vmem" else (threshold if threshold_out is None else threshold_out)
        common = {"dt": dt, "surrogate": surrogate, "window": window, "backend": backend}
        self.weights = nn.ParameterList()
        self.hidden = nn.ModuleList()
        n_in = n_channels
        for n, n_tau in zip(sizes, n_taus, strict=True):
            taus = torch.tensor(tau_pyramid(n, n_tau, tau_syn_base, dt, quantize_time_constants))
            self.weights.append(nn.Parameter(_kaiming((n_in, n)) * (dt / taus)))
            lif = LIFLayer(
                n, tau_mem=tau_mem, tau_syn=taus, threshold=threshold, max_spikes=max_spikes_per_dt,
                train_tau=train_time_constants, train_threshold=train_threshold, **common,
            )  # fmt: skip
            self.hidden.append(lif)
            n_in = n
        self.weights.append(nn.Parameter(_kaiming((n_in, n_classes)) * (dt / tau_syn_out)))
        self.readout = LIFLayer(
            n_classes,
            tau_mem=tau_mem,
            tau_syn=tau_syn_out,
            threshold=th_out,
            max_spikes=max_spikes_per_dt_out,
            **common,
        )

    def layers(self) -> list[tuple[torch.Tensor, LIFLayer]]:
        """``(weight (in, out), LIFLayer)`` for every layer in evaluation order, readout last."""
        return list(zip(self.weights, [*self.hidden, self.readout], strict=True))

    def _run(self, x: torch.Tensor) -> tuple[list[LIFState], LIFState]:
        if x.dim() != 3 or x.shape[-1] != self.n_channels:
            raise ConfigError(f"SynNet: input shape {tuple(x.shape)}, expected (batch, time, {self.n_channels})")
        h = x if x.is_floating_point() else x.float()
        states = []
        for w, lif in zip(list(self.weights)[:-1], self.hidden, strict=True):
            st = lif.forward_states(h @ w)
            states.append(st)
            h = st.spikes
            if self.training and self.p_dropout > 0:
                h = h * (torch.rand_like(h) >= self.p_dropout)
            if self.hop_delay:
                h = delay_one_step(h)
        return states, self.readout.forward_states(h @ self.weights[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, T, n_channels)`` event counts -> ``(B, T, n_classes)`` readout spikes or vmem."""
        _, out = self._run(x)
        return out.spikes if self.output == "spikes" else out.vmem

    def record(self, x: torch.Tensor) -> SynNetRecord:
        """Like ``forward`` but also returns every layer's spikes, vmem and isyn."""
        hidden, out = self._run(x)
        return SynNetRecord(out.spikes if self.output == "spikes" else out.vmem, hidden, out)


def _jsonable(v: float | Sequence[float] | None) -> float | list[float] | None:
    if v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    return [float(a) for a in torch.as_tensor(v).flatten().tolist()]


def _validate(
    n_classes: int, n_channels: int, sizes: list[int], n_taus: list[int], tau_syn_base: float, dt: float,
    output: str, threshold_out: Any, p_dropout: float,
) -> None:  # fmt: skip
    if n_classes < 1 or n_channels < 1 or not sizes or min(sizes) < 1:
        raise ConfigError(
            f"SynNet: need n_classes, n_channels, size_hidden_layers >= 1; got {n_classes}, {n_channels}, {sizes}"
        )
    if len(sizes) != len(n_taus) or min(n_taus) < 1:
        raise ConfigError(f"SynNet: time_constants_per_layer {n_taus} must match size_hidden_layers {sizes}, each >= 1")
    if dt <= 0 or tau_syn_base <= dt:
        raise ConfigError(f"SynNet: need 0 < dt < tau_syn_base, got dt={dt:g}, tau_syn_base={tau_syn_base:g}")
    if output not in ("spikes", "vmem"):
        raise ConfigError(f"SynNet: output must be 'spikes' or 'vmem', got {output!r}")
    if output == "vmem" and threshold_out is not None:
        raise ConfigError("SynNet: threshold_out cannot be set with output='vmem'")
    if not 0.0 <= p_dropout < 1.0:
        raise ConfigError(f"SynNet: p_dropout must be in [0, 1), got {p_dropout}")
