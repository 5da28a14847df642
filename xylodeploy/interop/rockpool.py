"""Adapter to rockpool (AGPL, optional): the only module of xylodeploy that imports rockpool.

``to_rockpool(model)`` builds rockpool's ``SynNet`` (``LIFTorch`` neurons) with the same weights and neuron
parameters as a :class:`xylodeploy.models.SynNet`; ``from_rockpool(net)`` goes the other way. Rockpool has no
hop delay and carries state between calls (call ``net.reset_state()``); its ``net(x)`` returns
``(output, state, record)``.
"""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any

import torch

from xylodeploy._optional import require
from xylodeploy.models.synnet import SynNet

_OURS_ONLY = ("hop_delay", "surrogate", "window", "backend")


def _rockpool_synnet_module() -> ModuleType:
    with warnings.catch_warnings():  # rockpool warns about every missing optional backend on import
        warnings.simplefilter("ignore")
        return require("rockpool.nn.networks.synnet", "rockpool", "rockpool SynNet interop")


def build_rockpool_synnet(**kwargs: Any) -> Any:
    """Rockpool's ``SynNet(**kwargs)`` with ``LIFTorch`` neurons (the keyword names of rockpool)."""
    return _rockpool_synnet_module().SynNet(**kwargs)


def _layer_names(n_hidden: int) -> list[tuple[str, str]]:
    return [(f"{i}_linear", f"{i}_neurons") for i in range(n_hidden)] + [("out_linear", "out_neurons")]


def to_rockpool(model: SynNet) -> Any:
    """Rockpool ``SynNet`` with ``model``'s constructor settings, weights and neuron parameters."""
    if model.init_kwargs["surrogate"] != "periodic_exponential":
        raise ValueError("to_rockpool: rockpool's SynNet uses the 'periodic_exponential' surrogate only")
    kwargs = {k: v for k, v in model.init_kwargs.items() if k not in _OURS_ONLY}
    net = build_rockpool_synnet(**kwargs)
    with torch.no_grad():
        for (lin, neu), (w, lif) in zip(_layer_names(len(model.hidden)), model.layers(), strict=True):
            rl, rn = getattr(net.seq, lin), getattr(net.seq, neu)
            rl.weight.data = w.detach().clone().to(rl.weight.dtype)
            for name in ("tau_mem", "tau_syn", "threshold", "bias"):
                ours = getattr(lif, name).detach().clone()
                theirs = getattr(rn, name)
                setattr(rn, name, ours if theirs.numel() > 1 else ours.reshape(-1)[:1].reshape(theirs.shape))
    return net


def from_rockpool(net: Any, **overrides: Any) -> SynNet:
    """:class:`SynNet` with the settings, weights and neuron parameters of rockpool ``SynNet`` ``net``.

    ``overrides`` (e.g. ``hop_delay=False``) go to the :class:`SynNet` constructor. Constructor settings are
    read from the rockpool modules; weights and per-neuron values are then copied over.
    """
    names = [n for n in net.seq.modules() if n.endswith("_neurons") and n != "out_neurons"]
    hidden = [getattr(net.seq, n) for n in names]
    out = net.seq.out_neurons
    kwargs: dict[str, Any] = {
        "n_classes": int(out.size_out), "n_channels": int(net.size_in),
        "size_hidden_layers": [int(h.size_out) for h in hidden], "time_constants_per_layer": [1] * len(hidden),
        "quantize_time_constants": False, "max_spikes_per_dt": int(hidden[0].max_spikes_per_dt),
        "max_spikes_per_dt_out": int(out.max_spikes_per_dt), "dt": float(hidden[0].dt), "output": net.output,
    }  # fmt: skip
    kwargs.update(overrides)
    model = SynNet(**kwargs)
    with torch.no_grad():
        for (lin, neu), (w, lif) in zip(_layer_names(len(hidden)), model.layers(), strict=True):
            w.copy_(getattr(net.seq, lin).weight.detach())
            rn = getattr(net.seq, neu)
            for name in ("tau_mem", "tau_syn", "threshold", "bias"):
                _copy_broadcast(getattr(lif, name), getattr(rn, name))
    return model


def _copy_broadcast(dst: torch.Tensor, src: torch.Tensor) -> None:
    """Copy rockpool's scalar or per-neuron ``src`` into our per-neuron ``dst`` (in place)."""
    src = src.detach().to(dst.dtype)
    src = src.reshape(()) if src.numel() == 1 else src.reshape(dst.shape)
    dst.copy_(torch.broadcast_to(src, dst.shape))
