"""SpikingJelly -> `NetworkGraph`: chains of ``layer.Linear`` [``BatchNorm1d``], ``neuron.LIFNode`` /
``ParametricLIFNode`` / ``IFNode`` / ``CUBALIFNode``, ``layer.SynapseFilter``, ``layer.VotingLayer`` and
``layer.Delay`` (``spikingjelly.activation_based``).

SpikingJelly (per step; ``x`` = output of the preceding Linear)::

    LIFNode:       h = v + (x - (v - v_reset)) / tau      (decay_input=True)
                   h = v - (v - v_reset) / tau + x        (decay_input=False)
                   spike = h >= v_threshold;  v = h - spike * v_threshold   (v_reset=None: soft reset)
    SynapseFilter: I[t] = I[t-1] - (1 - S[t]) I[t-1] / tau + S[t]
    ParametricLIFNode: LIFNode with tau = 1 / sigmoid(w);   IFNode: h = v + x
    CUBALIFNode:   c = c_decay c + x;  h = v_decay v + c
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
``Delay(d)`` -> d relay populations (one chip hop each); after a Linear it is moved before it (a
delay commutes with a linear map). ``IFNode`` has no leak (tau_mem = 1e9 dt); ``CUBALIFNode`` maps
like snnTorch's Synaptic (synapse ``c_decay``, weights / c_decay; exact). SpikingJelly's default hard
reset to ``v_reset = 0`` becomes the chip's subtractive reset, reported as an approximation (measured
error in the README's interop table); ``v_reset != 0`` is refused (it is also a leak target).
``BatchNorm1d`` after a Linear is folded into it. ``SimpleLIFNode`` is ``LIFNode``'s dynamics.
``LinearRecurrentContainer(neuron)`` (``i[t] = [x[t], y[t-1]] W^T + b``) -> input weights and
recurrent weights on the neuron's previous spikes. The graph spikes at most once per step
(SpikingJelly's spikes are binary). Other neuron types, ``ElementWiseRecurrentContainer``,
convolutions, pooling and attention are refused with the module path and reason.
SpikingJelly has no time step: pass ``dt``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xylodeploy._optional import require
from xylodeploy.errors import ConfigError
from xylodeploy.interop import _common as common
from xylodeploy.interop._common import Chain, ImportReport, chain_inputs, fast_synapse, fold_batchnorm, tau_from_decay
from xylodeploy.ir.graph import NetworkGraph
from xylodeploy.quantize.timeconst import dash_to_tau

_SKIP = ("Flatten", "Identity", "Dropout")
_SLOWEST_DASH = 15  # "no leak" for the voting readout; clipped to the chip's range by quantize


_RECURRENT_CONTAINERS = ("ElementWiseRecurrentContainer",)  # refused whole (never flattened)
_LEAF_KINDS = ("Linear", "SynapseFilter", "VotingLayer", "Delay", "BatchNorm1d", "LinearRecurrentContainer",
               *_RECURRENT_CONTAINERS)  # fmt: skip


def _sj() -> Any:
    return require("spikingjelly.activation_based", "spikingjelly", "importing SpikingJelly models")


def _leaves(module: Any, prefix: str = "") -> list[tuple[str, Any]]:
    kids = list(module.named_children())
    kind = type(module).__name__
    if not kids or kind.endswith("Node") or kind in _LEAF_KINDS:
        return [(prefix or kind, module)]
    out: list[tuple[str, Any]] = []
    for name, child in kids:
        out += _leaves(child, f"{prefix}.{name}" if prefix else name)
    return out


def _reset(mod: Any, path: str, kind: str, report: ImportReport) -> None:
    """Soft reset (``v_reset=None``) is the graph's; hard reset to 0 is approximated by subtraction."""
    v_reset = mod.v_reset
    if v_reset is None:
        return
    if float(v_reset) != 0.0:
        raise ConfigError(
            f"layer '{path}' ({kind}): hard reset to v_reset={v_reset} (a leak towards it) is not supported; "
            "Xylo resets by subtraction (use v_reset=None or 0)"
        )
    report.note(
        path, f"{kind}: hard reset to 0 -> the chip's subtractive reset (v keeps v - threshold after a spike; "
        "approximation, see the README's interop table for the measured error)", exact=False,
    )  # fmt: skip


def _tau(mod: Any, kind: str) -> float:
    """Membrane time constant in steps: ``tau`` (LIFNode), ``1 / sigmoid(w)`` (ParametricLIFNode), inf (IFNode)."""
    if kind == "IFNode":
        return float("inf")
    if kind == "ParametricLIFNode":
        return float(1.0 / (1.0 / (1.0 + np.exp(-float(mod.w.detach().cpu())))))
    return float(mod.tau)


def _lif(chain: Chain, mod: Any, path: str, dt: float, syn_tau: float | None, recurrent: Any = None) -> None:
    """LIFNode / ParametricLIFNode / IFNode (``v += x``: alpha = 1, gain 1) with an optional SynapseFilter."""
    kind = type(mod).__name__
    _reset(mod, path, kind, chain.report)
    n = chain.pending_size
    tau = _tau(mod, kind)
    alpha = 1.0 - 1.0 / tau
    gain = 1.0 / tau if kind != "IFNode" and mod.decay_input else 1.0
    bias = chain.take_bias()
    if bias is not None:
        chain.report.note(
            path, "linear bias enters v directly -> neuron bias (times the input gain)", exact=syn_tau is None
        )
    if syn_tau is None:
        tau_syn, factor = fast_synapse(dt)
        chain.report.note(path, f"{kind} has no synaptic state -> fastest chip synapse (dash 1)", exact=False)
    else:
        b_s = 1.0 - 1.0 / syn_tau
        tau_syn, factor = float(tau_from_decay(b_s, dt, f"layer '{path}' synapse")), 1.0 / b_s
        chain.report.note(path, f"SynapseFilter(tau={syn_tau}) -> synapse (weights / {b_s:.4g})")
    if kind == "IFNode":
        tau_mem = 1e9 * dt
        chain.report.note(path, "IFNode: no leak -> tau_mem = 1e9 dt (the chip's slowest dash when quantised)")
    else:
        tau_mem = float(tau_from_decay(alpha, dt, f"layer '{path}' tau"))
        chain.report.note(path, f"tau={tau:.4g} -> alpha = 1 - 1/tau = {alpha:.4g}, input gain {gain:.4g}")
    rec = None if recurrent is None else (np.asarray(recurrent) * factor * gain)[:, :, None]
    chain.neurons(
        path, in_scale=np.full(n, factor * gain), recurrent=rec, tau_mem=tau_mem, tau_syn=tau_syn,
        threshold=float(mod.v_threshold), bias=0.0 if bias is None else bias * gain, max_spikes=1,
    )  # fmt: skip


def _linear_recurrent(chain: Chain, mod: Any, path: str, dt: float) -> None:
    """``LinearRecurrentContainer(neuron)``: ``i[t] = [x[t], y[t-1]] W^T + b`` into the neuron: ``W``'s first
    columns are a Linear on the input, the rest recurrent weights on the neuron's previous spikes (exact)."""
    sub, kind = mod.sub_module, type(mod.sub_module).__name__
    if kind not in _LIF_KINDS:
        raise ConfigError(f"layer '{path}' (LinearRecurrentContainer): its sub_module must be one of "
                          f"{', '.join(_LIF_KINDS)}, got {kind}")  # fmt: skip
    w = mod.rc.weight.detach().cpu().double().numpy()
    n = w.shape[0]
    bias = None if mod.rc.bias is None else mod.rc.bias.detach().cpu().double().numpy()
    chain.linear(w[:, : w.shape[1] - n].T, bias, f"{path}.rc")
    chain.report.note(path, "LinearRecurrentContainer -> input weights and recurrent weights on the previous step's "
                      "spikes (as SpikingJelly)")  # fmt: skip
    _lif(chain, sub, f"{path}.sub_module", dt, None, recurrent=w[:, w.shape[1] - n :].T)


def _cuba(chain: Chain, mod: Any, path: str, dt: float) -> None:
    """CUBALIFNode: ``c = c_decay c + x``, ``v = v_decay v + c``: synapse ``c_decay`` (weights / c_decay),
    membrane ``v_decay`` (exact, like snnTorch's Synaptic); a linear bias becomes ``b / (1 - c_decay)``."""
    _reset(mod, path, "CUBALIFNode", chain.report)
    c_dec, v_dec = float(mod.c_decay), float(mod.v_decay)
    if not (0 < c_dec < 1 and 0 < v_dec < 1):
        raise ConfigError(f"layer '{path}' (CUBALIFNode): c_decay and v_decay must be in (0, 1), got {c_dec}, {v_dec}")
    n = chain.pending_size
    bias = chain.take_bias()
    if bias is not None:
        chain.report.note(path, "linear bias b -> neuron bias b / (1 - c_decay) (steady state)", exact=False)
        bias = bias / (1.0 - c_dec)
    chain.report.note(path, f"c_decay {c_dec:.4g} -> synapse (weights / c_decay), v_decay {v_dec:.4g} -> membrane")
    chain.neurons(
        path, in_scale=np.full(n, 1.0 / c_dec), tau_mem=float(tau_from_decay(v_dec, dt, f"layer '{path}' v_decay")),
        tau_syn=float(tau_from_decay(c_dec, dt, f"layer '{path}' c_decay")), threshold=float(mod.v_threshold),
        bias=0.0 if bias is None else bias, max_spikes=1,
    )  # fmt: skip


_LIF_KINDS = ("LIFNode", "SimpleLIFNode", "ParametricLIFNode", "IFNode")
_HANDLED = (*_LIF_KINDS, "BatchNorm1d", "CUBALIFNode", "SynapseFilter", "VotingLayer", "Delay",
            "LinearRecurrentContainer")  # fmt: skip


def _refusal(mod: Any, path: str, linear: type) -> str | None:
    """Why layer ``path`` has no Xylo equivalent, or None when `from_spikingjelly` handles it."""
    kind = type(mod).__name__
    if kind in _SKIP or kind in _HANDLED or isinstance(mod, linear):
        return None
    if kind.endswith("Node"):
        return (f"layer '{path}' ({kind}): only LIFNode, SimpleLIFNode, ParametricLIFNode, IFNode and CUBALIFNode "
                "are supported")  # fmt: skip
    if kind in _RECURRENT_CONTAINERS:
        return (f"layer '{path}' ({kind}): recurrent containers are not supported (their feedback is not "
                "a weight matrix on a population's spikes)")  # fmt: skip
    return f"layer '{path}' ({kind}): no Xylo equivalent (dense Linear + LIF chains only)"


def from_spikingjelly(
    model: Any, n_inputs: int | None = None, *, dt: float = 1e-3, name: str = "spikingjelly"
) -> tuple[NetworkGraph, ImportReport]:
    """Translate a SpikingJelly chain into a `NetworkGraph` (module docstring); returns (graph, report)."""
    _sj()
    torch_nn = require("torch.nn", "spikingjelly", "importing SpikingJelly models")
    leaves = _leaves(model)
    n_inputs = chain_inputs(model, leaves, torch_nn.Linear, n_inputs)
    common.refuse_unsupported(leaves, lambda path, mod: _refusal(mod, path, torch_nn.Linear))
    report = ImportReport("spikingjelly")
    chain = Chain(n_inputs, dt, report)
    syn_tau: float | None = None
    for path, mod in leaves:
        kind = type(mod).__name__
        if kind in _SKIP:
            continue
        if isinstance(mod, torch_nn.Linear):
            chain.torch_linear(mod, path)
        elif kind in _LIF_KINDS:
            _lif(chain, mod, path, dt, syn_tau)
            syn_tau = None
        elif kind == "LinearRecurrentContainer":
            _linear_recurrent(chain, mod, path, dt)
        elif kind == "BatchNorm1d":
            fold_batchnorm(chain, mod, path)
        elif kind == "CUBALIFNode":
            if syn_tau is not None:
                raise ConfigError(f"layer '{path}' (CUBALIFNode): a SynapseFilter before it would be a second synapse")
            _cuba(chain, mod, path, dt)
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
        elif kind == "Delay":  # a delay commutes with the pending linear map: relays on its source spikes
            if chain.weight is not None:
                report.note(path, f"Delay after '{chain.path}' -> applied to that layer's input spikes (linear maps "
                            "commute with delays; a bias is constant)")  # fmt: skip
            chain.delay(int(mod.delay_steps), path)
    if syn_tau is not None:
        raise ConfigError("SynapseFilter at the end of the model: it must be followed by a LIFNode")
    return chain.build(name, type(model).__name__), report


def run_spikingjelly(model: Any, x: np.ndarray) -> np.ndarray:
    """Readout output ``(B, T, n)`` of a copy of ``model`` run by SpikingJelly over ``x`` ``(B, T, C)``:
    the whole clip at once in multi-step mode (``(T, B, C)``), else one call per step."""
    import copy

    import torch
    from spikingjelly.activation_based import functional

    net = copy.deepcopy(model).eval()
    functional.reset_net(net)
    xt = torch.as_tensor(x)
    with torch.no_grad():
        if any(getattr(m, "step_mode", "s") == "m" for m in net.modules()):
            y = net(xt.transpose(0, 1)).transpose(0, 1)
        else:
            y = torch.stack([net(xt[:, t]) for t in range(xt.shape[1])], 1)
    return y.double().numpy()


__all__ = ["from_spikingjelly", "run_spikingjelly"]
