"""snnTorch -> `NetworkGraph`: chains of ``nn.Linear`` [``nn.BatchNorm1d``] and ``Leaky`` / ``Synaptic`` /
``RLeaky`` / ``RSynaptic`` / ``Lapicque`` neurons.

snnTorch (per step, input ``I = W x + b`` of the preceding ``nn.Linear``; ``V s`` the recurrence)::

    Synaptic:  syn[t] = alpha * syn[t-1] + I[t];  mem[t] = beta * mem[t-1] + syn[t] - R
    Leaky:                                        mem[t] = beta * mem[t-1] + I[t]   - R
    RSynaptic / RLeaky: as above with I[t] + V spk[t-1] (+ the recurrent Linear's bias)
    Lapicque:  mem[t] = (1 - T/(RC)) mem[t-1] + (T/C) I[t] - R
    spk[t] = mem[t] > threshold                 (one spike at most)

Translation (graph: ``isyn = b_s (isyn + I')``, ``v = a v + isyn + bias``, ``v -= n*threshold``):

* ``beta`` -> ``tau_mem = -dt / ln(beta)``; ``alpha`` -> ``tau_syn = -dt / ln(alpha)`` and the
  weights are divided by ``alpha``, which moves snnTorch's "decay, then add input" to the graph's
  "add input, then decay": ``isyn == syn`` exactly. Scalars or per-neuron tensors.
* ``Leaky`` has no synaptic state: it gets the fastest chip synapse (dash 1, ``b_s = 1/2``) and
  unchanged weights, so each event's charge reaches ``v`` over several steps (approximation).
* Reset: with ``reset_delay=False`` snnTorch subtracts ``threshold`` in the spiking step, the
  graph's rule; it is exact while ``mem`` stays below ``2 * threshold`` (above, snnTorch's
  "avoid double reset" term lowers the next step's spike test by one more threshold). With the
  default ``reset_delay=True`` it subtracts it one step later, after the decay: each spike
  removes an extra ``(1 - beta) * threshold`` (approximation). Both are reported.
  ``spk = mem > thr`` vs the graph's ``>=`` differ only at equality.
* ``nn.Linear`` bias: for ``Leaky`` it is a constant added to ``mem`` = the neuron bias (exact);
  for ``Synaptic`` it passes the synaptic filter and becomes the bias ``b / (1 - alpha)`` of its
  steady state (the first steps differ by ``b alpha^(t+1) / (1 - alpha)``; reported).
* Recurrence (``RLeaky``/``RSynaptic``, ``all_to_all`` Linear or one-to-one ``V``) -> a recurrent
  connection delivering the previous step's spikes, as snnTorch does, scaled like the input (exact);
  its Linear bias is a constant (neuron bias). A recurrent readout is refused (Xylo has none).
* ``Lapicque`` -> ``beta = 1 - T/(RC)``, input gain ``T/C`` (as ``Leaky`` otherwise).
* ``nn.BatchNorm1d`` right after a Linear is folded into it with its running statistics (exact at
  inference); ``nn.Dropout`` is off at inference (skipped, reported).
* A readout with ``reset_mechanism="none"`` (its membrane trained with a loss) -> a membrane readout
  (a threshold it never reaches; the report's readout is ``"vmem"``).
* ``graded_spikes_factor`` g on a hidden (non-recurrent) layer: spikes are unit events on the chip and
  g folds into the next Linear's weights (exact).
* Refused with the module path and the reason: ``reset_mechanism`` "zero" (and "none" on hidden layers),
  graded spikes on the readout or a recurrent layer,
  ``inhibition``, ``state_quant``, ``Alpha`` (its reset acts on its two currents), ``BatchNormTT1d``
  (one norm per step), LSTM/convolutional neurons, convolutions, pooling, non-spiking activations.
  ``nn.Flatten``/``nn.Identity`` are skipped.
* Hidden layers spike at most once per step in snnTorch but up to 31 times on the chip; the chip
  import's agreement check names this where it costs accuracy (`xylodeploy.interop.agreement`).

``model`` is an ``nn.Sequential`` or any module whose forward applies its children in
registration order (nested containers are flattened). snnTorch has no time step: pass ``dt``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xylodeploy._optional import require
from xylodeploy.errors import ConfigError
from xylodeploy.interop import _common as common
from xylodeploy.interop._common import Chain, ImportReport, chain_inputs, fast_synapse, fold_batchnorm, tau_from_decay
from xylodeploy.ir.graph import NetworkGraph

_SKIP = ("Flatten", "Identity", "Dropout", "Dropout1d", "AlphaDropout")
_UNSUPPORTED = {
    "Alpha": "its dynamics fit two chip synapses and a memoryless membrane, but its reset acts on the two "
    "currents (exc -= threshold, inh = 0, or all to 0), which Xylo cannot do; without it the neuron keeps "
    "firing (measured 4.6x the spike count on random nets), so it is refused",
    "SConv2dLSTM": "convolutional LSTM neurons have no Xylo equivalent",
    "SLSTM": "LSTM neurons have no Xylo equivalent",
    "BatchNormTT1d": "a separate batch norm per time step has no Xylo equivalent (chip weights are fixed over time)",
    "BatchNormTT2d": "a separate batch norm per time step has no Xylo equivalent (chip weights are fixed over time)",
}


def _snn() -> Any:
    return require("snntorch", "snntorch", "importing snnTorch models")


def _leaves(module: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Modules in registration order, containers flattened (neurons are leaves)."""
    snn = _snn()
    kids = list(module.named_children())
    if not kids or isinstance(module, snn.SpikingNeuron) or _is_bn_tt(module):
        return [(prefix or type(module).__name__, module)]
    out: list[tuple[str, Any]] = []
    for name, child in kids:
        out += _leaves(child, f"{prefix}.{name}" if prefix else name)
    return out


def _is_bn_tt(module: Any) -> bool:
    """snnTorch's ``BatchNormTT1d/2d``: a ModuleList of one BatchNorm per time step."""
    kids = list(module.children())
    return type(module).__name__ == "ModuleList" and bool(kids) and all("BatchNorm" in type(k).__name__ for k in kids)


def _values(t: Any, n: int, path: str, field: str) -> np.ndarray:
    a = np.asarray(t.detach().cpu().double().numpy() if hasattr(t, "detach") else t, dtype=np.float64)
    if a.size not in (1, n):
        raise ConfigError(f"layer '{path}': {field} has {a.size} values for {n} neurons")
    return np.broadcast_to(a.reshape(-1), (n,)).copy() if a.size == 1 else a.reshape(-1)


def _check_neuron(mod: Any, path: str, last: bool) -> None:
    mech = getattr(mod, "reset_mechanism", "subtract")
    if mech == "none" and last:
        return  # a membrane readout (module docstring)
    if mech != "subtract":
        where = "" if mech == "zero" else " (a readout without reset is read through its membrane; hidden layers reset)"
        raise ConfigError(
            f"layer '{path}': reset_mechanism='{mech}' is not supported{where}; Xylo resets by subtraction "
            "(use reset_mechanism='subtract')"
        )
    if getattr(mod, "inhibition", False):
        raise ConfigError(f"layer '{path}': inhibition=True (winner-take-all) has no Xylo equivalent")
    if getattr(mod, "state_quant", False):
        raise ConfigError(f"layer '{path}': state_quant is not supported (Xylo's integer states come from quantize)")
    if _graded(mod) is not None and (last or getattr(mod, "recurrent", None) is not None):
        where = "the readout" if last else "a recurrent layer"
        raise ConfigError(
            f"layer '{path}': graded spikes (graded_spikes_factor != 1) on {where} are not supported (Xylo's "
            "spikes are unit events; a hidden layer's factor folds into the next Linear)"
        )


def _graded(mod: Any) -> np.ndarray | None:
    """The layer's ``graded_spikes_factor`` where it is not 1, else None."""
    g = getattr(mod, "graded_spikes_factor", None)
    if g is None:
        return None
    values = np.asarray(g.detach().cpu().double().numpy() if hasattr(g, "detach") else g, dtype=np.float64)
    return None if np.allclose(values, 1.0) else values


def _fold_graded(chain: Chain, mod: Any, path: str) -> None:
    """Spikes scaled by ``graded_spikes_factor`` g: a pending diagonal map, composed into the next Linear."""
    g = _graded(mod)
    if g is None:
        return
    n = chain.src_size
    chain.linear(np.diag(np.broadcast_to(g.reshape(-1), (n,))), None, f"{path}.graded")
    chain.report.note(path, "graded_spikes_factor -> folded into the next Linear's weights (unit spikes on the chip)")


def _membrane(beta: np.ndarray, dt: float, path: str, report: ImportReport) -> np.ndarray:
    """tau_mem from beta; beta = 0 -> no memory (exact), beta = 1 -> very slow leak (approx)."""
    beta = np.clip(beta, 0.0, 1.0)  # snnTorch clamps beta to [0, 1] in forward
    tau = np.empty_like(beta)
    zero, one = beta <= 0, beta >= 1
    tau[zero] = dt * 1e-6  # exp(-1e6) == 0.0: v keeps nothing
    tau[one] = dt * 1e9
    mid = ~(zero | one)
    tau[mid] = tau_from_decay(beta[mid], dt, f"layer '{path}' beta")
    if np.any(one):
        report.note(path, f"beta = 1 (no leak) at {int(one.sum())} neuron(s) -> tau_mem = 1e9 dt", exact=False)
    return tau


def _readout_threshold(chain: Chain, mod: Any, thr: np.ndarray, in_scale: Any, bias: Any, path: str) -> np.ndarray:
    """``thr``, or for a ``reset_mechanism="none"`` readout a threshold it never reaches (membrane readout)."""
    if getattr(mod, "reset_mechanism", "subtract") != "none":
        return thr
    chain.report.note(path, "reset_mechanism='none' readout -> membrane readout (read vmem_out)")
    chain.report.readout = "vmem"
    return np.full(thr.size, chain.unreachable_threshold(in_scale, bias))


def _reset_note(mod: Any, beta: np.ndarray, thr: np.ndarray, path: str, report: ImportReport) -> None:
    if getattr(mod, "reset_mechanism", "subtract") == "none":
        return
    if getattr(mod, "reset_delay", True):
        extra = float(np.max((1 - np.clip(beta, 0, 1)) * thr))
        report.note(
            path, "reset_delay=True: snnTorch subtracts the threshold one step late (after the decay); "
            f"the graph subtracts it at once (up to {extra:.3g} more charge kept per spike)", exact=False,
        )  # fmt: skip
    else:
        report.note(path, "reset_delay=False: same reset as the graph while mem < 2*threshold", exact=False)


def _recurrent(mod: Any, n: int, path: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(weights (n, n, 1) source x target, constant bias)`` of an RLeaky/RSynaptic ``recurrent`` module."""
    rec = getattr(mod, "recurrent", None)
    if rec is None:
        return None, None
    kind = type(rec).__name__
    if kind == "Linear":
        w = rec.weight.detach().cpu().double().numpy().T
        b = None if rec.bias is None else rec.bias.detach().cpu().double().numpy()
    elif kind == "RecurrentOneToOne":
        w, b = np.diag(_values(rec.V, n, path, "V")), None
    else:
        raise ConfigError(
            f"layer '{path}' ({type(mod).__name__}): {kind} recurrence has no Xylo equivalent (dense only)"
        )
    if w.shape != (n, n):
        raise ConfigError(f"layer '{path}': recurrent weight shape {w.shape}, expected ({n}, {n})")
    return w[:, :, None], (b if b is not None and np.any(b) else None)


def _leaky(chain: Chain, mod: Any, path: str, dt: float) -> None:
    """Leaky / RLeaky (``mem = beta mem + I [+ V spk[t-1] + b_rec]``) and Lapicque (module docstring)."""
    n, kind = chain.pending_size, type(mod).__name__
    if kind == "Lapicque":  # mem = (1 - T/(RC)) mem + (T/C) I
        t_step, r_c = float(mod.time_step), _values(mod.R, n, path, "R") * _values(mod.C, n, path, "C")
        beta, gain = 1.0 - t_step / r_c, t_step / _values(mod.C, n, path, "C")
        chain.report.note(path, "Lapicque: beta = 1 - T/(RC), input gain T/C")
    else:
        beta, gain = _values(mod.beta, n, path, "beta"), np.ones(n)
    thr = _values(mod.threshold, n, path, "threshold")
    tau_syn, factor = fast_synapse(dt)
    rec, rec_b = _recurrent(mod, n, path)
    bias = chain.take_bias()
    if bias is not None:
        chain.report.note(path, f"linear bias -> neuron bias ({kind} adds it straight to mem)")
        bias = bias * gain
    if rec is not None:
        chain.report.note(path, "recurrent weights -> a recurrent connection (previous step's spikes, as snnTorch)")
        rec = rec * factor
        if rec_b is not None:
            bias = rec_b if bias is None else bias + rec_b
            chain.report.note(path, "recurrent Linear bias -> neuron bias")
    chain.report.note(path, f"{kind} has no synaptic state -> fastest chip synapse (dash 1)", exact=False)
    _reset_note(mod, beta, thr, path, chain.report)
    thr = _readout_threshold(chain, mod, thr, factor * gain, bias, path)
    chain.neurons(
        path, in_scale=factor * gain, recurrent=rec, tau_mem=_membrane(beta, dt, path, chain.report),
        tau_syn=tau_syn, threshold=thr, bias=0.0 if bias is None else bias, max_spikes=1,
    )  # fmt: skip


def _synaptic(chain: Chain, mod: Any, path: str, dt: float) -> None:
    """Synaptic / RSynaptic (``syn = alpha syn + I [+ V spk[t-1] + b_rec]``; module docstring)."""
    n = chain.pending_size
    alpha = np.clip(_values(mod.alpha, n, path, "alpha"), 0.0, 1.0)
    beta, thr = _values(mod.beta, n, path, "beta"), _values(mod.threshold, n, path, "threshold")
    if np.any(alpha >= 1):
        raise ConfigError(f"layer '{path}': alpha = 1 (synaptic current never decays) has no Xylo equivalent")
    fast_tau, fast_factor = fast_synapse(dt)
    none = alpha <= 0
    tau_syn = np.where(none, fast_tau, 0.0)
    tau_syn[~none] = tau_from_decay(alpha[~none], dt, f"layer '{path}' alpha")
    scale = np.where(none, fast_factor, 1.0 / np.where(none, 1.0, alpha))
    chain.report.note(path, "alpha -> tau_syn with weights / alpha (input added before the decay)")
    if np.any(none):
        chain.report.note(path, f"alpha = 0 at {int(none.sum())} neuron(s) -> fastest chip synapse", exact=False)
    rec, rec_b = _recurrent(mod, n, path)
    bias = chain.take_bias()
    bias = rec_b if bias is None else (bias if rec_b is None else bias + rec_b)
    if bias is not None:
        chain.report.note(
            path, "linear bias b -> neuron bias b / (1 - alpha) (its steady state; early steps differ)", exact=False
        )
        bias = bias / (1.0 - alpha)
    if rec is not None:
        chain.report.note(path, "recurrent weights -> a recurrent connection into the synapse (weights / alpha)")
        rec = rec * scale[None, :, None]
    _reset_note(mod, beta, thr, path, chain.report)
    thr = _readout_threshold(chain, mod, thr, scale, bias, path)
    chain.neurons(
        path, in_scale=scale, recurrent=rec, tau_mem=_membrane(beta, dt, path, chain.report), tau_syn=tau_syn,
        threshold=thr, bias=0.0 if bias is None else bias, max_spikes=1,
    )  # fmt: skip


def _refusal(mod: Any, path: str, linear: type) -> str | None:
    """Why layer ``path`` has no Xylo equivalent, or None when `from_snntorch` handles it."""
    snn, kind = _snn(), type(mod).__name__
    if kind in _SKIP or kind == "BatchNorm1d" or isinstance(mod, linear) or type(mod) in _neuron_types(snn):
        return None
    if _is_bn_tt(mod):
        kind = f"BatchNormTT{type(next(iter(mod.children()))).__name__[-2:]}"
    if kind in _UNSUPPORTED:
        return f"layer '{path}' ({kind}): {_UNSUPPORTED[kind]}"
    if "Conv" in kind:
        return f"layer '{path}' ({kind}): convolutions have no Xylo equivalent (dense weights only)"
    if "Pool" in kind:
        return f"layer '{path}' ({kind}): pooling has no Xylo equivalent"
    if "LSTM" in kind or "GRU" in kind or "RNN" in kind:
        return f"layer '{path}' ({kind}): gated/recurrent cells have no Xylo equivalent"
    return f"layer '{path}' ({kind}): not a Linear, Leaky or Synaptic layer; no Xylo equivalent"


def _neuron_types(snn: Any) -> tuple[type, ...]:
    return (snn.Leaky, snn.RLeaky, snn.Lapicque, snn.Synaptic, snn.RSynaptic)


def from_snntorch(
    model: Any, n_inputs: int | None = None, *, dt: float = 1e-3, name: str = "snntorch"
) -> tuple[NetworkGraph, ImportReport]:
    """Translate an snnTorch chain into a `NetworkGraph` (module docstring).

    Args:
        model: ``nn.Sequential`` (or a module applying its children in order) of ``nn.Linear``
            [``nn.BatchNorm1d``] and ``Leaky`` / ``Synaptic`` / ``RLeaky`` / ``RSynaptic`` / ``Lapicque``.
        n_inputs: input channels (default: ``in_features`` of the first ``nn.Linear``).
        dt: time step [s] the model is meant to run at.
        name: name of the graph.

    Returns:
        ``(graph, report)``; the report lists every exact rewrite and every approximation.
    """
    snn = _snn()
    torch_nn = require("torch.nn", "snntorch", "importing snnTorch models")
    leaves = _leaves(model)
    n_inputs = chain_inputs(model, leaves, torch_nn.Linear, n_inputs)
    common.refuse_unsupported(leaves, lambda path, mod: _refusal(mod, path, torch_nn.Linear))
    report = ImportReport("snntorch")
    chain = Chain(n_inputs, dt, report)
    neurons = [path for path, mod in leaves if isinstance(mod, _neuron_types(snn))]
    for path, mod in leaves:
        kind = type(mod).__name__
        if kind in _SKIP:
            if "Dropout" in kind:
                report.note(path, f"{kind}: off at inference -> skipped")
            continue
        if isinstance(mod, torch_nn.Linear):
            chain.torch_linear(mod, path)
        elif type(mod) in (snn.Leaky, snn.RLeaky, snn.Lapicque):
            _check_neuron(mod, path, path == neurons[-1])
            _leaky(chain, mod, path, dt)
            _fold_graded(chain, mod, path)
        elif type(mod) in (snn.Synaptic, snn.RSynaptic):
            _check_neuron(mod, path, path == neurons[-1])
            _synaptic(chain, mod, path, dt)
            _fold_graded(chain, mod, path)
        elif kind == "BatchNorm1d":
            fold_batchnorm(chain, mod, path)
    return chain.build(name, type(model).__name__), report


def run_snntorch(model: Any, x: np.ndarray) -> np.ndarray:
    """Readout spikes ``(B, T, n)`` of a copy of ``model`` run by snnTorch over ``x`` ``(B, T, C)``: stepped
    (``utils.reset``, one call per step, a tuple's first element is the spikes) for ``init_hidden`` layers,
    else one call on the whole clip, time first, as snnTorch's tutorials write ``forward`` (their loop over
    ``x.size(0)`` returns the recorded spikes, time first)."""
    import copy

    import torch
    from snntorch import utils

    net = copy.deepcopy(model).eval()
    neurons = [m for m in net.modules() if hasattr(m, "reset_mechanism")]
    if neurons and not all(getattr(m, "init_hidden", False) for m in neurons):
        with torch.no_grad():
            y = net(torch.as_tensor(x).transpose(0, 1))
        return (y[0] if isinstance(y, tuple) else y).transpose(0, 1).double().numpy()
    utils.reset(net)
    membrane = bool(neurons) and neurons[-1].reset_mechanism == "none"  # a membrane readout: its mem
    out = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            y = net(torch.as_tensor(x[:, t]))
            out.append(neurons[-1].mem if membrane else y[0] if isinstance(y, tuple) else y)
    return torch.stack(out, 1).double().numpy()


__all__ = ["from_snntorch", "run_snntorch"]
