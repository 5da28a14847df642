"""NIR neuron nodes -> `LIFPopulation` parameters, in the producer's dialect.

The equations and the dialects are in `xylodeploy.interop.nir_conventions`; this module applies them to
one node: decays (refused where a tau is so far below the step that the file's unit must be misread),
membrane and synapse gains, the weight scale that makes the graph's ``isyn`` equal the gain times NIR's
``syn``, and the notes on what was assumed (spikes per step, reset, the producer's own conventions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.interop._common import ImportReport, fast_synapse, tau_from_decay
from xylodeploy.ir.graph import LIFPopulation

_TAG = "xylodeploy"


def _arr(x: Any, n: int, where: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size not in (1, n):
        raise ConfigError(f"{where}: {a.size} values for {n} neurons")
    return np.broadcast_to(a, (n,)).astype(np.float64)


def _decay(tau: np.ndarray, dt: float, where: str, exact: bool = False) -> np.ndarray:
    """Per-step decay of time constants ``tau`` at step ``dt`` (refused where no memory could be left: a
    tau far below the step means the file's units were read wrong)."""
    hint = "Norse's to_nir writes dt * tau: --producer norse; lava-dl's netx converter 1/iDecay: --producer lava_netx"
    if exact:
        if np.any(tau < dt / 10):
            raise ConfigError(
                f"{where}: tau {tau.min():.3g} is far below the time step {dt:.3g}, which leaves no memory: the "
                f"file's time unit is probably read wrong ({hint}; or --dt)"
            )
        return np.exp(-dt / tau)
    a = 1.0 - dt / tau
    if np.any(a < 0):
        raise ConfigError(f"{where}: tau < dt ({tau.min():.3g} < {dt:.3g}) is unstable under Euler at this dt ({hint})")
    return a


def _tau_mem(a_m: np.ndarray, dt: float, where: str, name: str, rep: ImportReport) -> np.ndarray:
    """Graph tau_mem of a per-step decay; no leak -> 1e9 dt (reported), no memory -> 1e-6 dt."""
    if np.any(a_m >= 1):
        rep.note(name, "no leak -> tau_mem = 1e9 dt", exact=False)
    tau_mem = np.where(a_m >= 1, 1e9 * dt, np.where(a_m <= 0, 1e-6 * dt, 0.0))
    mid = (a_m > 0) & (a_m < 1)
    tau_mem[mid] = tau_from_decay(a_m[mid], dt, f"{where} tau_mem")
    return tau_mem


def _membrane(kind: str, node: Any, n: int, conv: Any, w: str) -> tuple[np.ndarray, ...]:
    """``(a_m, gain on the input, bias)`` of the membrane in the producer's dialect (module docstring of
    `xylodeploy.interop.nir_conventions`), per step ``d`` of the file's time unit."""
    d, exact, rule = conv.file_dt, conv.discretization == "exact", conv.dialect.gain_rule(kind)
    tau_m = conv.tau(_arr(getattr(node, "tau_mem", getattr(node, "tau", np.inf)), n, f"{w} tau"))
    r = _arr(node.r, n, f"{w} r")
    if kind == "IF":  # dv/dt = r I: v += d r I under either discretisation ("r": v += r I)
        return np.ones(n), r * (1.0 if rule == "r" else d), np.zeros(n)
    v_leak = _arr(node.v_leak, n, f"{w} v_leak")
    a_m = _decay(tau_m, d, w, exact)
    if rule == "nir":
        g_m = r * d / (tau_m * a_m) if exact else r * d / tau_m
    else:
        g_m = r * (1.0 - a_m) if rule == "zoh" else r
    return a_m, g_m, g_m * v_leak / np.where(r == 0, 1.0, r)


def neuron_params(name: str, node: Any, n: int, conv: Any, rep: ImportReport) -> tuple[dict, np.ndarray]:
    """Population parameters and the per-neuron input scale of one NIR neuron node."""
    kind, meta = type(node).__name__, dict(getattr(node, "metadata", {}) or {}).get(_TAG, {})
    w, dt, exact = f"node '{name}' ({kind})", conv.file_dt, conv.discretization == "exact"
    a_m, k_m, bias = _membrane(kind, node, n, conv, w)
    if kind in conv.dialect.notes:
        text, certain = conv.dialect.notes[kind]
        rep.note(name, f"{conv.producer}: {text}", exact=certain)
    if conv.dialect.starts_at_leak and kind != "IF" and np.any(_arr(node.v_leak, n, w)):
        rep.note(name, f"{conv.producer} starts the membrane at v_leak, the chip at 0 (the first steps differ)",
                 exact=False)  # fmt: skip
    if kind in ("CubaLIF", "CubaLI"):
        tau_s = conv.tau(_arr(node.tau_syn, n, f"{w} tau_syn"))
        a_s, w_in = _decay(tau_s, dt, w, exact), _arr(node.w_in, n, f"{w} w_in")
        if np.any(a_s <= 0):
            raise ConfigError(f"{w}: tau_syn == dt leaves no synaptic memory; not representable")
        tau_syn = tau_from_decay(a_s, dt, f"{w} tau_syn")
        rule = conv.dialect.synapse_gain
        g_s = np.ones(n) if rule == "unit" else w_in if exact or rule == "w_in" else w_in * dt / tau_s
        scale = k_m * g_s if exact else k_m * g_s / a_s
    elif kind == "LI" and exact and conv.dialect.li_adds_first:  # v = a (v + c I): synapse, memoryless membrane
        tau_syn, scale = tau_from_decay(a_m, dt, f"{w} tau"), k_m
        bias, a_m = bias * a_m / (1.0 - a_m), np.zeros(n)
        if np.any(bias):
            rep.note(name, "v_leak of an exact LI -> its steady state as a constant offset", exact=False)
    else:
        tau_syn, factor = fast_synapse(dt)
        scale = k_m * factor
        rep.note(name, f"{kind} has no synaptic state -> fastest chip synapse (dash 1)", exact=False)
    tau_mem = _tau_mem(a_m, dt, w, name, rep)
    if kind in ("LI", "CubaLI"):
        params = {"threshold": 1.0, "max_spikes": 1}  # threshold fixed later from the weights
        rep.note(name, f"{kind} has no spikes -> membrane readout (unreachable threshold; read vmem_out)")
        rep.readout = "vmem"
    else:
        params = {
            "threshold": _arr(node.v_threshold, n, f"{w} v_threshold"),
            "max_spikes": int(meta.get("max_spikes", conv.dialect.max_spikes)),
        }
        _spike_notes(name, meta, conv, rep)
    return {"tau_mem": tau_mem, "tau_syn": tau_syn, "bias": bias, **params}, scale


def _spike_notes(name: str, meta: dict, conv: Any, rep: ImportReport) -> None:
    """Say how many spikes per step and which reset were assumed where the file does not record them."""
    who = conv.producer or "NIR"
    if conv.dialect.max_spikes > 1 and "max_spikes" not in meta:
        rep.note(name, f"spikes per step not in the file: {who}'s default of up to {conv.dialect.max_spikes} "
                 "assumed (e.g. rockpool's SynNet caps 31 hidden / 1 readout; sinabs' SingleSpike emits 1)",
                 exact=False)  # fmt: skip
    if meta.get("reset") == "subtract":
        return
    if conv.dialect.reset == "subtract":
        rep.note(name, f"{who} resets by subtraction by default (not recorded in the file), as the graph does")
    else:
        rep.note(name, f"{who} resets v to v_reset; the graph subtracts the threshold", exact=False)


def _size(node: Any) -> int:
    for attr in ("tau_mem", "tau", "r", "v_threshold"):
        if hasattr(node, attr) and np.size(getattr(node, attr)) > 1:
            return int(np.size(getattr(node, attr)))
    return 0


def population(name: str, node: Any, weights: list, conv: Any, rep: ImportReport) -> tuple[LIFPopulation, np.ndarray]:
    """The population of NIR neuron node ``name`` and the per-neuron scale of the weights into it; ``weights``
    are its incoming ``(source, weight, bias or None)``, taus in the file's time unit (``conv.file_dt``)."""
    n = _size(node) or (weights[0][1].shape[1] if weights else 0)
    if n == 0:
        raise ConfigError(f"NIR node '{name}': cannot tell its size (no weights into it)")
    params, scale = neuron_params(name, node, n, conv, rep)
    bias_in = [b for _, _, b in weights if b is not None and np.any(b)]
    if bias_in:
        b_s = np.exp(-conv.file_dt / np.asarray(params["tau_syn"]).reshape(-1))
        params["bias"] = params["bias"] + sum(bias_in) * scale * b_s / (1 - b_s)
        rep.note(name, "Affine bias passes the synapse -> neuron bias of its steady state", exact=False)
    return LIFPopulation(name=name, size=n, dt=conv.file_dt, **params), scale


__all__ = ["neuron_params", "population"]
