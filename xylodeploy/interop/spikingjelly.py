"""SpikingJelly -> `NetworkGraph`: chains of ``layer.Linear``, ``neuron.LIFNode``, ``layer.SynapseFilter``,
``layer.VotingLayer`` and ``layer.Delay`` (``spikingjelly.activation_based``).

SpikingJelly (per step; ``x`` = output of the preceding Linear)::

    LIFNode:       h = v + (x - (v - v_reset)) / tau      (decay_input=True)
                   h = v - (v - v_reset) / tau + x        (decay_input=False)
                   spike = h >= v_threshold;  v = h - spike * v_threshold   (v_reset=None: soft reset)
    SynapseFilter: I[t] = I[t-1] - (1 - S[t]) I[t-1] / tau + S[t]
    VotingLayer:   y = mean over consecutive groups of voting_size inputs
    Delay:         y[t] = x[t - delay_steps]

Translation: ``LIFNode`` -> ``alpha = 1 - 1/tau`` (``tau_mem = -dt/ln(alpha)``), input gain
``1/tau`` (decay_input) or 1, soft reset = the graph's subtractive reset (exact membrane); it
has no synaptic state, so without a ``SynapseFilter`` it gets the fastest chip synapse (dash 1;
approximation). A ``SynapseFilter`` (before or after the Linear: it is applied as the next
LIF's synapse) is taken as the linear filter ``I = (1 - 1/tau) I + x``, i.e. ``b_s = 1 - 1/tau``
and weights ``/ b_s`` (exact for that filter; SpikingJelly's filter skips the decay in steps
with a spike, an approximation that is reported). ``VotingLayer`` -> counting readout neurons
(weight 1/voting_size, threshold 1, slowest leak: spike count over a clip ~ summed votes).
``Delay(d)`` -> d relay populations (one chip hop each). The graph spikes at most once per
step (SpikingJelly's spikes are binary). Hard reset (``v_reset`` not None), other neuron types,
convolutions, pooling, normalisation and attention are refused with the module path and reason.
SpikingJelly has no time step: pass ``dt``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xylodeploy._optional import require
from xylodeploy.errors import ConfigError
from xylodeploy.interop._common import Chain, ImportReport, chain_inputs, fast_synapse, tau_from_decay
from xylodeploy.ir.graph import NetworkGraph
from xylodeploy.quantize.timeconst import dash_to_tau

_SKIP = ("Flatten", "Identity", "Dropout")
_SLOWEST_DASH = 15  # "no leak" for the voting readout; clipped to the chip's range by quantize


def _sj() -> Any:
    return require("spikingjelly.activation_based", "spikingjelly", "importing SpikingJelly models")


def _leaves(module: Any, prefix: str = "") -> list[tuple[str, Any]]:
    kids = list(module.named_children())
    kind = type(module).__name__
    if not kids or kind.endswith("Node") or kind in ("Linear", "SynapseFilter", "VotingLayer", "Delay"):
        return [(prefix or kind, module)]
    out: list[tuple[str, Any]] = []
    for name, child in kids:
        out += _leaves(child, f"{prefix}.{name}" if prefix else name)
    return out


def _lif(chain: Chain, mod: Any, path: str, dt: float, syn_tau: float | None) -> None:
    if mod.v_reset is not None:
        raise ConfigError(
            f"layer '{path}' (LIFNode): hard reset to v_reset={mod.v_reset} is not supported; "
            "Xylo resets by subtraction (use v_reset=None)"
        )
    n = chain.pending_size
    tau = float(mod.tau)
    alpha = 1.0 - 1.0 / tau
    gain = 1.0 / tau if mod.decay_input else 1.0
    bias = chain.take_bias()
    if bias is not None:
        chain.report.note(
            path, "linear bias enters v directly -> neuron bias (times the input gain)", exact=syn_tau is None
        )
    if syn_tau is None:
        tau_syn, factor = fast_synapse(dt)
        chain.report.note(path, "LIFNode has no synaptic state -> fastest chip synapse (dash 1)", exact=False)
    else:
        b_s = 1.0 - 1.0 / syn_tau
        tau_syn, factor = float(tau_from_decay(b_s, dt, f"layer '{path}' synapse")), 1.0 / b_s
        chain.report.note(path, f"SynapseFilter(tau={syn_tau}) -> synapse (weights / {b_s:.4g})")
    chain.report.note(path, f"tau={tau} -> alpha = 1 - 1/tau = {alpha:.4g}, input gain {gain:.4g}, soft reset")
    chain.neurons(
        path, in_scale=np.full(n, factor * gain), tau_mem=float(tau_from_decay(alpha, dt, f"layer '{path}' tau")),
        tau_syn=tau_syn, threshold=float(mod.v_threshold),
        bias=0.0 if bias is None else bias * gain, max_spikes=1,
    )  # fmt: skip


def from_spikingjelly(
    model: Any, n_inputs: int | None = None, *, dt: float = 1e-3, name: str = "spikingjelly"
) -> tuple[NetworkGraph, ImportReport]:
    """Translate a SpikingJelly chain into a `NetworkGraph` (module docstring); returns (graph, report)."""
    _sj()
    torch_nn = require("torch.nn", "spikingjelly", "importing SpikingJelly models")
    leaves = _leaves(model)
    n_inputs = chain_inputs(model, leaves, torch_nn.Linear, n_inputs)
    report = ImportReport("spikingjelly")
    chain = Chain(n_inputs, dt, report)
    syn_tau: float | None = None
    for path, mod in leaves:
        kind = type(mod).__name__
        if kind in _SKIP:
            continue
        if isinstance(mod, torch_nn.Linear):
            chain.torch_linear(mod, path)
        elif kind == "LIFNode":
            _lif(chain, mod, path, dt, syn_tau)
            syn_tau = None
        elif kind == "SynapseFilter":
            if getattr(mod, "learnable", False):
                raise ConfigError(
                    f"layer '{path}' (SynapseFilter): learnable=True; read tau out first (tau = 1/sigmoid(w))"
                )
            if syn_tau is not None:
                raise ConfigError(f"layer '{path}' (SynapseFilter): two filters before one neuron layer")
            syn_tau = float(mod.tau)
            report.note(path, "spike steps skip SpikingJelly's decay; the graph always decays", exact=False)
        elif kind == "VotingLayer":
            chain.vote(int(mod.voting_size), path, float(dash_to_tau(_SLOWEST_DASH, dt)))
        elif kind == "Delay":
            if chain.weight is not None:
                raise ConfigError(f"layer '{path}' (Delay): place the delay on spikes, before the Linear layer")
            chain.delay(int(mod.delay_steps), path)
        elif kind.endswith("Node"):
            raise ConfigError(f"layer '{path}' ({kind}): only LIFNode neurons are supported")
        else:
            raise ConfigError(f"layer '{path}' ({kind}): no Xylo equivalent (dense Linear + LIF chains only)")
    if syn_tau is not None:
        raise ConfigError("SynapseFilter at the end of the model: it must be followed by a LIFNode")
    return chain.build(name, type(model).__name__), report


__all__ = ["from_spikingjelly"]
