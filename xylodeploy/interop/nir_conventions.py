"""Which discretisation and time step a NIR file means: its producer, its metadata, or the user.

NIR neurons are continuous-time; producers discretise them differently (per step ``dt``):

* ``euler`` (forward Euler; snnTorch, SpikingJelly, Norse, Lava): decay ``a = 1 - dt/tau``, input
  gain ``dt/tau`` times ``r`` (membrane) and ``w_in`` (synapse); snnTorch writes ``r = tau/dt`` with
  its fixed ``dt = 1e-4`` (so ``beta v + I``).
* ``exact`` (exact exponential; rockpool, sinabs): decay ``a = exp(-dt/tau)``; a synapse and an ``LI``
  add their input then decay (``x = a (x + c I)``), a spiking membrane adds after the decay
  (``v = a v + c syn``), with gain ``c = r dt / (tau a)`` (``= 1`` for rockpool, which writes
  ``r = tau exp(-dt/tau) / dt``) and ``w_in`` on the synapse.

`resolve` decides, in this order: the user's ``discretization`` / ``dt``; the graph's metadata
(``dt``, ``discretization``, a producer name under ``producer``/``source``/``framework``/...); the
producer recognised from node names (rockpool's ``*_LIFTorch``), from snnTorch's ``r = tau/dt``
signature at its fixed ``dt = 1e-4`` or from rockpool's ``r = tau exp(-dt/tau)/dt`` signature, with
``dt`` solved from ``r`` (``dt = tau/r`` for Euler, ``dt = tau W(1/r)`` for rockpool's
exact convention, W = Lambert W) when every neuron agrees. Otherwise no ``dt``: a `ConfigError` asks
for one. Every decision that was not given explicitly is returned as a loud message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError

DISCRETIZATIONS: tuple[str, ...] = ("euler", "exact")
PRODUCERS: dict[str, str] = {
    "snntorch": "euler", "spikingjelly": "euler", "norse": "euler", "lava": "euler", "xylodeploy": "euler",
    "rockpool": "exact", "sinabs": "exact",
}  # fmt: skip
SNNTORCH_DT = 1e-4  # the time step snnTorch's export_to_nir always writes (r = tau/dt)
_META_KEYS = ("producer", "source", "framework", "generator", "library", "exporter", "software")
_NAME_HINTS = {
    "rockpool": ("LIFTorch", "LinearTorch", "ExpSynTorch", "LIFNeuronTorch"),
    "sinabs": ("IAFSqueeze", "LIFSqueeze", "ExpLeak"),
    "spikingjelly": ("LIFNode", "IFNode"),
    "norse": ("LIFBoxCell", "LIFCell", "LICell"),
}


@dataclass
class Convention:
    """How to read one NIR graph: producer (or None), discretisation, dt [s], loud messages."""

    producer: str | None
    discretization: str
    dt: float
    messages: list[str] = field(default_factory=list)


def _meta_producer(meta: dict) -> str | None:
    for key in _META_KEYS:
        value = str(meta.get(key, "")).lower()
        for name in PRODUCERS:
            if name in value:
                return name
    return None


def _neuron_params(g: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(tau_mem, r)`` of every LIF / CubaLIF / LI neuron, flattened (empty if none)."""
    taus, rs = [], []
    for v in g.nodes.values():
        kind = type(v).__name__
        if kind in ("LIF", "CubaLIF", "LI", "CubaLI"):
            taus.append(np.ravel(getattr(v, "tau_mem", getattr(v, "tau", np.nan))).astype(np.float64))
            rs.append(np.broadcast_to(np.ravel(v.r).astype(np.float64), taus[-1].shape))
    return (np.concatenate(taus), np.concatenate(rs)) if taus else (np.zeros(0), np.zeros(0))


def _agreed(values: np.ndarray) -> float | None:
    ok = values.size and np.all(np.isfinite(values)) and np.all(values > 0)
    return float(np.median(values)) if ok and np.ptp(values) <= 1e-3 * np.median(values) else None


def dt_from_r(g: Any, discretization: str) -> float | None:
    """dt implied by every neuron's ``r`` (module docstring), or None when they disagree or ``r == 1``."""
    tau, r = _neuron_params(g)
    if not tau.size or np.allclose(r, 1.0):
        return None
    if discretization == "euler":
        return _agreed(tau / r)
    from scipy.special import lambertw

    return _agreed(tau * np.real(lambertw(1.0 / np.maximum(r, 1e-300))))


def recognise(g: Any) -> tuple[str | None, str]:
    """``(producer, how it was recognised)``; ``(None, "")`` when the file does not say."""
    meta = dict(g.metadata or {})
    name = _meta_producer(meta)
    if name:
        return name, "named in the file's metadata"
    if any("xylodeploy" in dict(getattr(v, "metadata", {}) or {}) for v in g.nodes.values()):
        return "xylodeploy", "xylodeploy node metadata"
    for prod, hints in _NAME_HINTS.items():
        hit = next((k for k in g.nodes if any(h in str(k) for h in hints)), None)
        if hit is not None:
            return prod, f"node names such as '{hit}'"
    tau, r = _neuron_params(g)
    if not tau.size or np.allclose(r, 1.0):
        return None, ""
    dt_euler = _agreed(tau / r)
    if dt_euler is not None and abs(dt_euler - SNNTORCH_DT) <= 1e-3 * SNNTORCH_DT:
        return "snntorch", f"snnTorch's export_to_nir signature r = tau/dt with its fixed dt {SNNTORCH_DT:g} s"
    dt_exact = dt_from_r(g, "exact")
    if dt_exact is not None:  # uniform taus also agree under Euler: only snnTorch's fixed dt tells them apart
        return "rockpool", f"rockpool's to_nir signature r = tau exp(-dt/tau)/dt (dt {dt_exact:.3g} s)"
    return None, ""


def resolve(g: Any, dt: float | None = None, discretization: str | None = None) -> Convention:
    """The `Convention` for graph ``g`` (module docstring); ConfigError when no dt can be found."""
    meta = dict(g.metadata or {})
    producer, how = recognise(g)
    msgs = [f"producer: {producer} ({how})"] if producer else ["producer: not stated in the file"]
    disc = discretization or str(meta.get("discretization", "")).lower() or None
    if disc is None:
        disc = PRODUCERS.get(producer or "", "euler")
        msgs.append(
            f"discretization: {disc} ({'as ' + producer + ' writes it' if producer else 'default; unknown producer'}"
            "; choose with --discretization euler|exact)"
        )
    if disc not in DISCRETIZATIONS:
        raise ConfigError(f"NIR discretization '{disc}': expected one of {', '.join(DISCRETIZATIONS)}")
    if dt is not None and meta.get("dt") is not None:
        msgs.append(f"dt: {dt:g} s as given (the file says {float(np.asarray(meta['dt']).reshape(-1)[0]):g} s)")
    elif dt is None and meta.get("dt") is not None:
        dt = float(np.asarray(meta["dt"]).reshape(-1)[0])
    elif dt is None:
        dt = dt_from_r(g, disc)
        if dt is None:
            raise ConfigError(
                "NIR file: no 'dt' in its metadata and none can be derived from its neurons' r; give the "
                "time step its producer used with --dt (e.g. --dt 1e-3)"
            )
        msgs.append(f"dt: {dt:.6g} s derived from the neurons' r ({disc} convention); override with --dt")
    if not (np.isfinite(dt) and dt > 0):
        raise ConfigError(f"NIR dt must be a positive number of seconds, got {dt}")
    return Convention(producer, disc, float(dt), msgs)


__all__ = ["Convention", "DISCRETIZATIONS", "PRODUCERS", "dt_from_r", "recognise", "resolve"]
