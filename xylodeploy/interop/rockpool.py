"""Adapter to rockpool (AGPL, optional): the only module of xylodeploy that imports rockpool.

``to_rockpool(model)`` builds rockpool's ``SynNet`` (``LIFTorch`` neurons) with the same weights and neuron
parameters as a :class:`xylodeploy.models.SynNet`; ``synnet_from_rockpool(net)`` goes the other way;
``from_rockpool(net)`` imports a rockpool network as ``(NetworkGraph, ImportReport)`` (the importer registered
in `xylodeploy.interop.registry`). Rockpool has no hop delay and carries state between calls (call
``net.reset_state()``); its ``net(x)`` returns ``(output, state, record)``.
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


def synnet_from_rockpool(net: Any, **overrides: Any) -> SynNet:
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


# --- rockpool -> NetworkGraph (issue 6) --------------------------------------------------------------------


_LIF_KINDS = ("LIFTorch", "LIFBitshiftTorch")


def _rockpool_leaves(net: Any) -> list[tuple[str, Any]]:
    """(path, module) of a rockpool SynNet / (Torch)Sequential, in order; containers flattened."""
    inner = getattr(net, "seq", None)
    if inner is not None and hasattr(inner, "modules"):
        return _rockpool_leaves(inner)
    mods = net.modules() if callable(getattr(net, "modules", None)) else {}
    if isinstance(mods, dict) and mods and type(net).__name__ not in (*_LIF_KINDS, "LinearTorch"):
        out: list[tuple[str, Any]] = []
        for name, m in mods.items():
            inner = _rockpool_leaves(m) if _is_container(m) else [("", m)]
            out += [(f"{name}.{p}" if p else name, mm) for p, mm in inner]
        return out
    return [("", net)]


def _is_container(m: Any) -> bool:
    return type(m).__name__ in ("TorchSequential", "Sequential", "SynNet", "ModSequential")


def from_rockpool(net: Any, *, name: str = "rockpool") -> tuple[Any, Any]:
    """Translate a rockpool ``SynNet`` or Sequential of ``LinearTorch`` + ``LIFTorch`` into a `NetworkGraph`.

    ``LIFTorch`` runs the graph's dynamics in the graph's order (docs/chip-arithmetic.md), so parameters copy over
    exactly: ``tau_mem``, ``tau_syn`` (1 or 2 synapses: input column ``2j+s`` drives synapse ``s`` of neuron
    ``j``), ``threshold``, ``bias``, ``max_spikes_per_dt``, ``dt`` and ``w_rec`` (``has_rec``). Read from the
    module parameters only (rockpool.devices is never imported). A ``LinearTorch`` bias becomes the neuron bias
    of its steady state (approximate), ``noise_std`` is dropped (reported), dropout is skipped (off at
    inference), an ``ExpSynTorch`` readout becomes a membrane readout (exact); ``output="vmem"`` marks the
    report's readout as ``"vmem"``. Other module types are refused with the module path and the reason.
    Returns ``(graph, report)``.
    """
    import numpy as np

    from xylodeploy.errors import ConfigError
    from xylodeploy.interop._common import Chain, ImportReport
    from xylodeploy.interop.rockpool_layers import DROPOUT, exp_syn, lif_torch, to_numpy

    _rockpool_synnet_module()  # the optional-dependency check (names the 'rockpool' extra)
    leaves = _rockpool_leaves(net)
    _refuse(leaves)
    lifs = [m for _, m in leaves if type(m).__name__ in (*_LIF_KINDS, "ExpSynTorch")]
    if not lifs:
        raise ConfigError(f"rockpool model '{type(net).__name__}': no LIFTorch layer found")
    report = ImportReport("rockpool")
    first = next((m for _, m in leaves if type(m).__name__ == "LinearTorch"), None)
    chain = Chain(int(first.size_in) if first is not None else 0, float(lifs[0].dt), report)
    pending_bias = None
    for path, m in leaves:
        kind = type(m).__name__
        if kind == "LinearTorch":
            bias = getattr(m, "bias", None)
            pending_bias = to_numpy(bias).reshape(-1) if bias is not None and np.any(to_numpy(bias)) else None
            chain.linear(to_numpy(m.weight), None, path)
        elif kind in _LIF_KINDS:
            lif_torch(chain, m, path, pending_bias)
            pending_bias = None
        elif kind == "ExpSynTorch":
            exp_syn(chain, m, path, pending_bias)
            pending_bias = None
        elif kind in DROPOUT:
            report.note(path, f"{kind}: dropout is off at inference -> skipped")
    if getattr(net, "output", "spikes") == "vmem" or type(leaves[-1][1]).__name__ == "ExpSynTorch":
        report.readout = "vmem"
    return chain.build(name, type(net).__name__), report


def run_rockpool(net: Any, x: Any) -> Any:
    """Readout output ``(B, T, n)`` (spikes, or the membrane of a vmem / ExpSyn readout) of a copy of ``net``
    run by rockpool over ``x`` ``(B, T, C)`` from a reset state."""
    import copy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = copy.deepcopy(net)
        if hasattr(net, "reset_state"):
            net.reset_state()
        with torch.no_grad():
            out = net(torch.as_tensor(x, dtype=torch.float32))
    out = out[0] if isinstance(out, tuple) else out
    return out.detach().double().numpy()


def _refuse(leaves: list[tuple[str, Any]]) -> None:
    """One ConfigError for the first layer with no Xylo equivalent, or an ExpSynTorch that is not the readout."""
    from xylodeploy.errors import ConfigError
    from xylodeploy.interop.rockpool_layers import DROPOUT

    kinds = [type(m).__name__ for _, m in leaves]
    for (path, _), kind in zip(leaves, kinds, strict=True):
        if kind not in ("LinearTorch", *_LIF_KINDS, "ExpSynTorch", *DROPOUT):
            raise ConfigError(
                f"layer '{path}' ({kind}): only LinearTorch, LIFTorch, LIFBitshiftTorch, ExpSynTorch and dropout "
                "are supported"
            )
    neurons = [i for i, k in enumerate(kinds) if k in (*_LIF_KINDS, "ExpSynTorch")]
    hidden_syn = [leaves[i][0] for i in neurons[:-1] if kinds[i] == "ExpSynTorch"]
    if hidden_syn:
        raise ConfigError(
            f"layer '{hidden_syn[0]}' (ExpSynTorch): only as the readout (the last layer); a hidden ExpSyn passes "
            "a continuous current on, which Xylo's spiking neurons cannot"
        )


def rockpool_quantize_methods() -> ModuleType:
    """rockpool's ``transform.quantize_methods`` (the quantisers the baseline in `xylodeploy.baselines` calls)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return require("rockpool.transform.quantize_methods", "rockpool", "rockpool quantisation baseline")
