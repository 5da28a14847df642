"""rockpool layers -> `NetworkGraph` populations, read from module attributes only (no rockpool import here:
`xylodeploy.interop.rockpool` is the only module that imports rockpool; it calls these).

* ``LIFTorch``: parameters copied (rockpool runs the graph's dynamics in the graph's order); ``noise_std``
  is dropped (the chip is deterministic; reported). ``LIFBitshiftTorch`` (the Xylo neuron): the same,
  with the bit-shift decays ``1 - 2**-dash`` it runs.
* ``LinearTorch`` bias ``b``: rockpool adds it to ``isyn`` every step, ``isyn = beta (isyn + b)``, so the
  membrane receives ``beta b / (1 - beta)`` per step in steady state: that neuron bias (first steps differ).
* ``ExpSynTorch`` readout ``isyn = beta (isyn + x)``: a membrane readout, synapse ``tau``, memoryless
  membrane (``v = isyn`` exactly), a threshold it never reaches.
* dropout modules are off at inference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError


def to_numpy(t: Any) -> np.ndarray:
    """float64 array of a tensor or array-like."""
    return np.asarray(t.detach().cpu().double().numpy() if hasattr(t, "detach") else t, dtype=np.float64)


DROPOUT = ("TimeStepDropout", "UnitDropout", "Dropout", "DropoutTorch")


def _bias_through_synapse(bias: Any, tau_syn: Any, dt: float, n: int, k: int) -> Any:
    """Neuron bias of a constant ``LinearTorch`` bias ``b`` entering synapse ``s`` (column ``k j + s``).

    Rockpool adds it to ``isyn`` every step, ``isyn = beta (isyn + b)``: in steady state the membrane
    receives ``beta b / (1 - beta)`` per step, summed over the neuron's synapses (first steps differ).
    """
    beta = np.exp(-dt / np.asarray(tau_syn, dtype=np.float64))
    return (bias.reshape(n, k) * beta / (1.0 - beta)).sum(axis=1)


def _tau(m: Any, name: str, decay: str, dt: float) -> np.ndarray:
    """A time constant of ``m``; for ``LIFBitshiftTorch`` the one of the decay it really runs,
    ``1 - 2**-round(log2(tau/dt))`` (rockpool's ``alpha``/``beta``; decay 0 -> no memory)."""
    if type(m).__name__ != "LIFBitshiftTorch":
        return to_numpy(getattr(m, name))
    a = to_numpy(getattr(m, decay))
    return np.where(a > 0, -dt / np.log(np.where(a > 0, a, 0.5)), dt * 1e-6)


def lif_torch(chain: Any, m: Any, path: str, bias_in: Any) -> None:
    """One ``LIFTorch`` (parameters copied; see the module docstring)."""
    n, k, report = int(m.size_out), int(m.n_synapses), chain.report
    if not np.isclose(float(m.dt), chain.dt):
        raise ConfigError(f"layer '{path}' (LIFTorch): dt = {float(m.dt)} differs from {chain.dt}")
    w = chain.weight
    if w is None or w.shape[1] != n * k:
        raise ConfigError(f"layer '{path}' (LIFTorch): needs a LinearTorch with {n * k} outputs before it")
    noise = float(getattr(m, "noise_std", 0.0) or 0.0)
    if noise > 0:
        report.note(path, f"noise_std = {noise:g} dropped: the chip is deterministic (noise-free float model)", False)
    chain.weight = w.reshape(w.shape[0], n, k)
    has_rec = getattr(m, "_has_rec", hasattr(m, "w_rec")) and np.any(to_numpy(m.w_rec))
    rec = to_numpy(m.w_rec).reshape(n, n, k) if has_rec else None
    ts = _tau(m, "tau_syn", "beta", chain.dt)
    tau_syn = np.broadcast_to(ts.reshape(-1, k) if ts.size > 1 else ts, (n, k))
    bias = np.broadcast_to(to_numpy(m.bias).reshape(-1), (n,)).copy()
    if bias_in is not None:
        bias += _bias_through_synapse(bias_in, tau_syn, chain.dt, n, k)
        report.note(path, "LinearTorch bias b -> neuron bias beta b / (1 - beta) (steady state; early steps differ)",
                    exact=False)  # fmt: skip
    chain.neurons(
        path, recurrent=rec, tau_mem=np.broadcast_to(_tau(m, "tau_mem", "alpha", chain.dt).reshape(-1), (n,)),
        tau_syn=tau_syn,
        threshold=np.broadcast_to(to_numpy(m.threshold).reshape(-1), (n,)), bias=bias, n_synapses=k,
        max_spikes=int(min(float(to_numpy(m.max_spikes_per_dt).max()), 2**31 - 1)),
    )  # fmt: skip
    report.note(path, f"{type(m).__name__} ({k} synapse(s){', recurrent' if rec is not None else ''}) copied as is")


def exp_syn(chain: Any, m: Any, path: str, bias_in: Any) -> None:
    """``ExpSynTorch`` readout ``isyn = beta (isyn + x)`` -> a membrane readout with ``v = isyn`` exactly:
    synapse ``tau``, no membrane memory (``tau_mem = 1e-6 dt``), a threshold it never reaches."""
    n = int(m.size_out)
    if chain.weight is None or chain.weight.shape[1] != n:
        raise ConfigError(f"layer '{path}' (ExpSynTorch): needs a LinearTorch with {n} outputs before it")
    tau = np.broadcast_to(to_numpy(m.tau).reshape(-1), (n,))
    bias = np.zeros(n) if bias_in is None else _bias_through_synapse(bias_in, tau[:, None], chain.dt, n, 1)
    chain.neurons(path, tau_mem=chain.dt * 1e-6, tau_syn=tau[:, None],
                  threshold=np.full(n, chain.unreachable_threshold(bias=bias)), bias=bias, max_spikes=1)  # fmt: skip
    chain.report.note(path, "ExpSynTorch readout -> membrane readout (v = isyn, read vmem_out)")
    if float(getattr(m, "noise_std", 0.0) or 0.0) > 0:
        chain.report.note(path, "noise_std dropped: the chip is deterministic", exact=False)


__all__ = ["DROPOUT", "exp_syn", "lif_torch", "to_numpy"]
