"""Extractors for xylodeploy's own torch modules (`SynNet`, ``nn.Sequential`` of Linear/LIFLayer)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from xylodeploy.errors import ConfigError
from xylodeploy.ir.graph import INPUT, Connection, LIFPopulation, NetworkGraph
from xylodeploy.models.lif import LIFLayer
from xylodeploy.models.synnet import SynNet

_IGNORED = (nn.Dropout, nn.Identity)


class ExtractionError(ConfigError):
    """A module (named by its path) cannot be mapped onto a Xylo core."""


class HopDelayWarning(UserWarning):
    """The float model has no one-step delay per hidden hop, but the chip will add one."""


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy().copy()


def population_from_lif(name: str, lif: LIFLayer) -> LIFPopulation:
    """The float IR of one `LIFLayer` (time constants, threshold, bias, spike cap, dt)."""
    return LIFPopulation(
        name=name,
        size=lif.n_neurons,
        n_synapses=lif.n_synapses,
        tau_mem=_numpy(lif.tau_mem),
        tau_syn=_numpy(lif.tau_syn),
        threshold=_numpy(lif.threshold),
        bias=_numpy(lif.bias),
        max_spikes=lif.max_spikes,
        dt=lif.dt,
    )


def _feed_weight(w_in_out: torch.Tensor, lif: LIFLayer, where: str) -> np.ndarray:
    """``(n_src, N*S)`` torch weight (column ``n*S + s``) -> ``(n_src, N, S)``."""
    w = _numpy(w_in_out)
    n, s = lif.n_neurons, lif.n_synapses
    if w.ndim != 2 or w.shape[1] != n * s:
        raise ExtractionError(f"{where}: weight shape {w.shape} does not feed {n} neurons x {s} synapse(s)")
    return w.reshape(w.shape[0], n, s)


def _recurrent(name: str, lif: LIFLayer) -> list[Connection]:
    if lif.w_rec is None:
        return []
    return [Connection(name, name, _feed_weight(lif.w_rec, lif, f"{name}.w_rec"))]


def extract_synnet(model: SynNet, name: str = "synnet") -> NetworkGraph:
    """`SynNet` -> `NetworkGraph`: populations ``hidden0..``, ``readout``; weights as trained."""
    layers = model.layers()
    pops, conns, source = [], [], INPUT
    for i, (w, lif) in enumerate(layers):
        pname = "readout" if i == len(layers) - 1 else f"hidden{i}"
        pops.append(population_from_lif(pname, lif))
        conns.append(Connection(source, pname, _feed_weight(w, lif, f"weights[{i}]")))
        conns += _recurrent(pname, lif)
        source = pname
    if not model.hop_delay:
        _warn_hop_delay(len(layers) - 1, "SynNet(hop_delay=False)")  # one hop per hidden layer
    return NetworkGraph(model.n_channels, tuple(pops), tuple(conns), readout="readout", name=name)


def _warn_hop_delay(hops: int, what: str) -> None:
    warnings.warn(
        f"{what} was trained without the chip's one-step delay per hidden hop: on Xylo each of its "
        f"{hops} hidden->hidden/readout hop(s) adds one step of latency (train with hop_delay=True to match)",
        HopDelayWarning,
        stacklevel=3,
    )


def _linear_weight(path: str, lin: nn.Linear) -> torch.Tensor:
    if lin.bias is not None and bool(torch.any(lin.bias != 0)):
        raise ExtractionError(
            f"module '{path}' (nn.Linear): a non-zero bias is a constant synaptic current, which the Xylo "
            "core cannot represent; use bias=False and the LIF layer's bias instead"
        )
    return lin.weight.detach().T


def extract_sequential(seq: nn.Sequential, name: str = "sequential") -> NetworkGraph:
    """``nn.Sequential`` of (``nn.Linear``, `LIFLayer`) pairs -> `NetworkGraph` (last LIF = readout)."""
    pending: tuple[str, torch.Tensor] | None = None
    pops, conns, source, n_inputs = [], [], INPUT, None
    modules = [(p, m) for p, m in seq.named_children() if not isinstance(m, _IGNORED)]
    lif_paths = [p for p, m in modules if isinstance(m, LIFLayer)]
    for path, module in modules:
        if isinstance(module, nn.Linear):
            if pending is not None:
                raise ExtractionError(f"module '{path}': two linear layers in a row cannot map (fold them into one)")
            pending = (path, _linear_weight(path, module))
            n_inputs = module.in_features if n_inputs is None else n_inputs
        elif isinstance(module, LIFLayer):
            if pending is None:
                raise ExtractionError(f"module '{path}' (LIFLayer): must be fed by an nn.Linear")
            pname = "readout" if path == lif_paths[-1] else f"hidden{len(pops)}"
            pops.append(population_from_lif(pname, module))
            conns.append(Connection(source, pname, _feed_weight(pending[1], module, f"module '{pending[0]}'")))
            conns += _recurrent(pname, module)
            source, pending = pname, None
        else:
            raise ExtractionError(_unsupported(path, module))
    if pending is not None or not pops:
        raise ExtractionError(f"{name}: must end with a LIFLayer readout (Linear -> LIFLayer pairs)")
    if len(pops) < 2:
        raise ExtractionError(f"{name}: needs at least one hidden LIFLayer and a readout LIFLayer")
    _warn_hop_delay(len(pops) - 1, "nn.Sequential")
    return NetworkGraph(int(n_inputs), tuple(pops), tuple(conns), readout="readout", name=name)


def _unsupported(path: str, module: nn.Module) -> str:
    kind = type(module).__name__
    reasons = {
        nn.Conv1d: "convolutions have no Xylo equivalent (unroll to nn.Linear if the input is small)",
        nn.Conv2d: "convolutions have no Xylo equivalent",
        nn.ReLU: "analog activations cannot run on a spiking core",
        nn.Sigmoid: "analog activations cannot run on a spiking core",
        nn.Tanh: "analog activations cannot run on a spiking core",
        nn.LSTM: "gated recurrent units cannot run on a spiking core",
        nn.GRU: "gated recurrent units cannot run on a spiking core",
        nn.BatchNorm1d: "normalisation layers must be folded into the weights before extraction",
    }
    why = next((r for t, r in reasons.items() if isinstance(module, t)), "no Xylo equivalent is known for it")
    return f"module '{path}' ({kind}): cannot map: {why}"


def extract(module: Any, name: str | None = None) -> NetworkGraph:
    """A trained module -> `NetworkGraph` (see the package docstring for what is supported)."""
    if isinstance(module, SynNet):
        return extract_synnet(module, name or "synnet")
    if isinstance(module, nn.Sequential):
        return extract_sequential(module, name or "sequential")
    if isinstance(module, nn.Module):
        raise ExtractionError(
            _unsupported("<root>", module)
            + "; supported: SynNet, nn.Sequential of nn.Linear + LIFLayer (see xylodeploy.interop for other frameworks)"
        )
    raise ExtractionError(f"extract() expects a torch nn.Module, got {type(module).__name__}")
