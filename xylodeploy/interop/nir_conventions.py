"""Which discretisation, time unit and gains a NIR file means: its producer, its metadata, or the user.

NIR neurons are continuous-time; producers discretise them differently. Per step of ``d`` (the step in
the file's own time unit: ``dt`` seconds, or 1 where the producer counts taus in time steps), with
decay ``a`` (``euler``: ``a = 1 - d/tau``; ``exact``: ``a = exp(-d/tau)``)::

    synapse   euler: syn[t] = a_s syn[t-1] + g_s I[t]     exact: syn[t] = a_s (syn[t-1] + g_s I[t])
    membrane  v[t] = a_m v[t-1] + g_m (r syn[t] + v_leak) / r          (spiking neurons add after the decay)

with the gains of one `Dialect`: the synapse's ``g_s`` is ``w_in d/tau_syn`` (``nir`` rule, Euler),
``w_in`` (``nir`` rule, exact; ``w_in`` rule: Norse's LIFCell adds its input unscaled); the membrane's
``g_m`` is ``r d/tau`` (``nir``, Euler; IF: ``r d``), ``r d/(tau a)`` (``nir``, exact: rockpool writes
``r = tau exp(-d/tau)/d`` so that ``g_m = 1``), ``(1 - a) r`` (``zoh``: sinabs' LIF with its default
``norm_input``) or ``r`` (``r``: sinabs' ExpLeak and IAF, Norse's IAF, Lava's CUBA neuron).

Producers (`PRODUCERS`; measured against their own forward passes in the tests unless said):

* snnTorch, SpikingJelly: Euler, NIR's gains, seconds (snnTorch writes ``r = tau/dt`` at its fixed
  ``dt = 1e-4``); snnTorch resets by subtraction by default, SpikingJelly to ``v_reset``.
* Norse 1.1 (``to_nir``): Euler; no ``dt`` in the file (Norse's default is 1 ms) and every tau written
  as ``dt / tau_inv = dt * tau`` (so read as ``tau = value / dt``; Norse's own ``from_nir`` reads it
  as ``tau`` and does not give back the network it exported); ``LIFCell`` ->
  ``CubaLIF`` whose synapse adds ``w_in I`` unscaled, ``IAFCell`` -> ``IF`` adding ``r I``; resets to
  ``v_reset`` (LIFBoxCell may subtract; the file does not say).
* sinabs (``to_nir``): exact decay, taus in time steps, LIF input scaled by ``1 - a`` (``norm_input``),
  ExpLeak and IAF unscaled, ``MultiSpike`` (many spikes per step) and subtraction by default.
* rockpool: exact decay, seconds, ``LI`` adds then decays, up to 65536 spikes per step, subtraction.
* Lava: Euler in time steps, the CUBA neuron ``i = (1 - 1/tau_syn) i + W x``, ``v = (1 - 1/tau_mem) v + i``
  (gains 1, ``w_in`` and ``r`` unused, as lava-dl's ``nir_to_lavadl_net`` reads a file), reset to 0.
  Follows lava-dl's NIR reader; not run against it (lava-nc needs Python < 3.11). ``lava_netx``: files
  from lava-dl's netx -> NIR converter (an unmerged lava-dl branch), which writes ``tau = 1 / iDecay``
  with iDecay in Loihi's 12-bit units (``tau`` steps = 4096 x the value): checked against slayer's own
  CUBA dynamics where lava-dl is importable (it is not on PyPI, so not in CI).

`resolve` decides, in this order: the user's ``producer`` / ``discretization`` / ``dt``; the graph's
metadata (``dt``, ``discretization``, a producer name under ``producer``/``source``/``framework``/...);
the producer recognised from node names (rockpool's ``*_LIFTorch``), from snnTorch's ``r = tau/dt``
signature at its fixed ``dt = 1e-4`` or from rockpool's ``r = tau exp(-dt/tau)/dt`` signature, with
``dt`` solved from ``r`` (``dt = tau/r`` for Euler, ``dt = tau W(1/r)`` for rockpool's exact
convention, W = Lambert W) when every neuron agrees. A producer that counts in time steps gets the
graph's clock from ``dt`` (default 1 ms, said; the decays do not depend on it). Otherwise no ``dt``: a
`ConfigError` asks for one. Every decision that was not given explicitly is returned as a loud message,
and a file whose numbers match a known producer's signature that was not named says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError

DISCRETIZATIONS: tuple[str, ...] = ("euler", "exact")
SNNTORCH_DT = 1e-4  # the time step snnTorch's export_to_nir always writes (r = tau/dt)
STEP_CLOCK_DT = 1e-3  # graph clock [s] for producers that count taus in steps, unless --dt says otherwise


@dataclass(frozen=True)
class Dialect:
    """How one producer discretises NIR's neurons (module docstring)."""

    discretization: str = "euler"
    synapse_gain: str = "nir"  # "nir" | "w_in" (w_in only) | "unit" (1: Lava ignores w_in)
    membrane_gain: dict[str, str] = field(default_factory=dict)  # node kind -> "nir" | "zoh" | "r"
    time_unit: str = "s"  # "s" | "steps" | "s*dt" (Norse 1.1: dt * tau, s^2) | "loihi" (1/4096 step)
    reset: str = "value"  # on a spike: "value" (to v_reset) | "subtract" (the chip's)
    max_spikes: int = 1  # spikes per step its neurons can emit when the file does not say
    li_adds_first: bool = True  # an exact LI adds its input, then decays (rockpool's ExpSyn; not sinabs)
    tested: bool = True  # checked against the producer's own exporter and forward pass
    notes: dict[str, tuple[str, bool]] = field(default_factory=dict)  # node kind -> (what is read so, certain?)
    starts_at_leak: bool = False  # its membranes start at v_leak (Norse), the chip's at 0

    def gain_rule(self, kind: str) -> str:
        """The membrane gain rule of node kind ``kind`` ("nir" unless the producer differs)."""
        return self.membrane_gain.get(kind, "nir")


NIR_SPEC = Dialect()  # a file that does not say who wrote it: NIR's own equations, forward Euler
PRODUCERS: dict[str, Dialect] = {
    "snntorch": Dialect(reset="subtract"),
    "spikingjelly": Dialect(),
    "norse": Dialect(
        synapse_gain="w_in", membrane_gain={"IF": "r"}, time_unit="s*dt", starts_at_leak=True,
        notes={"CubaLIF": ("synapse adds w_in I unscaled, as Norse's LIFCell does (its to_nir writes w_in = 1)", True),
               "IF": ("adds r I per step, as Norse's IAFCell does", True)},
    ),
    "lava": Dialect(synapse_gain="unit", membrane_gain={"CubaLIF": "r", "LIF": "r"}, time_unit="steps", tested=False),
    "lava_netx": Dialect(synapse_gain="unit", membrane_gain={"CubaLIF": "r", "LIF": "r"}, time_unit="loihi"),
    "rockpool": Dialect("exact", reset="subtract", max_spikes=2**16),
    "sinabs": Dialect(
        "exact", membrane_gain={"LIF": "zoh", "LI": "r", "IF": "r"}, time_unit="steps", reset="subtract",
        max_spikes=2**16, li_adds_first=False,
        notes={"LIF": ("input scaled by 1 - a as sinabs' LIF with its default norm_input=True (the file does "
                       "not record it; for norm_input=False give --producer sinabs_no_norm); sinabs' to_nir drops "
                       "a LIF's tau_syn and min_v_mem, so a LIF built with either runs differently", False),
               "LI": ("input unscaled as sinabs' ExpLeak with its default norm_input=False (not in the file)",
                      False)},
    ),
    "sinabs_no_norm": Dialect(
        "exact", membrane_gain={"LIF": "r", "LI": "r", "IF": "r"}, time_unit="steps", reset="subtract",
        max_spikes=2**16, li_adds_first=False,
        notes={"LIF": ("input unscaled, as sinabs' LIF built with norm_input=False", True)},
    ),
    "xylodeploy": Dialect(reset="subtract"),
}  # fmt: skip


@dataclass
class Convention:
    """How to read one NIR graph: producer (or None), its dialect, the discretisation, the graph's
    ``dt`` [s], the step ``file_dt`` in the file's time unit (``dt``, or 1 for time steps), loud messages."""

    producer: str | None
    discretization: str
    dt: float
    messages: list[str] = field(default_factory=list)
    dialect: Dialect = NIR_SPEC
    file_dt: float = 0.0
    warnings: list[str] = field(default_factory=list)  # loud: the reading may be wrong (reported as approximate)

    def __post_init__(self) -> None:
        self.file_dt = self.file_dt or self.dt

    def tau(self, values: np.ndarray) -> np.ndarray:
        """Time constants of the file in the unit of ``file_dt`` (Norse's ``dt * tau`` divided by ``dt``;
        lava-dl netx's ``1 / iDecay``, with iDecay in Loihi's 12-bit units, times 4096 steps)."""
        unit = self.dialect.time_unit
        return values / self.dt if unit == "s*dt" else values * 4096.0 if unit == "loihi" else values


_META_KEYS = ("producer", "source", "framework", "generator", "library", "exporter", "software")
_NAME_HINTS = {
    "rockpool": ("LIFTorch", "LinearTorch", "ExpSynTorch", "LIFNeuronTorch"),
    "sinabs": ("IAFSqueeze", "LIFSqueeze", "ExpLeak"),
    "spikingjelly": ("LIFNode", "IFNode"),
    "norse": ("LIFBoxCell", "LIFCell", "LICell", "IAFCell"),
}


def _meta_producer(meta: dict) -> str | None:
    for key in _META_KEYS:
        value = str(meta.get(key, "")).lower()
        for name in sorted(PRODUCERS, key=len, reverse=True):  # "sinabs_no_norm" before "sinabs"
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


def _ones(v: Any, attr: str) -> bool:
    return bool(np.allclose(np.asarray(getattr(v, attr, 1.0), dtype=np.float64), 1.0))


def signature_hints(g: Any) -> list[str]:
    """What an unnamed file's numbers suggest about who wrote it (Norse's and sinabs' exporters write
    neither a producer nor a dt, and each reads some of NIR's equations its own way)."""
    hints = []
    kinds = {type(v).__name__: v for v in g.nodes.values()}
    cuba = [v for v in g.nodes.values() if type(v).__name__ == "CubaLIF"]
    if cuba and all(_ones(v, "r") and _ones(v, "w_in") for v in cuba):
        hints.append("CubaLIF with r = 1 and w_in = 1 is how Norse's to_nir writes its LIFCell, whose synapse "
                     "adds the input unscaled: if Norse wrote this file, give --producer norse")  # fmt: skip
    if cuba and all(_ones(v, "r") and np.allclose(np.asarray(v.w_in, float), np.asarray(v.tau_syn, float))
                    for v in cuba):  # fmt: skip
        hints.append("CubaLIF with r = 1 and w_in = tau_syn is how lava-dl's netx converter writes a Loihi CUBA "
                     "neuron: if it wrote this file, give --producer lava_netx")  # fmt: skip
    if "IF" in kinds and all(_ones(v, "r") for v in g.nodes.values() if type(v).__name__ == "IF"):
        hints.append("IF with r = 1 adds r dt per input under NIR's equations, r per input as Norse, sinabs "
                     "and Lava run it: name the producer with --producer")  # fmt: skip
    tau, r = _neuron_params(g)
    if tau.size and np.allclose(r, 1.0) and np.all(tau >= 1.0):
        hints.append(f"time constants of {np.min(tau):g}..{np.max(tau):g} look like counts of time steps "
                     "(sinabs and Lava write them so): if so, give --producer sinabs or --producer lava")  # fmt: skip
    return hints


def _discretization(meta: dict, producer: str | None, dialect: Dialect, given: str | None, msgs: list) -> str:
    disc = given or str(meta.get("discretization", "")).lower() or None
    if disc is None:
        disc = dialect.discretization
        how = f"as {producer} writes it" if producer else "NIR's equations; producer unknown"
        msgs.append(f"discretization: {disc} ({how}; choose with --discretization euler|exact)")
    if disc not in DISCRETIZATIONS:
        raise ConfigError(f"NIR discretization '{disc}': expected one of {', '.join(DISCRETIZATIONS)}")
    return disc


def _dt(g: Any, meta: dict, dt: float | None, disc: str, producer: str | None, msgs: list) -> float:
    """The graph's dt [s]: given, the file's, the step clock, or solved from ``r`` (module docstring)."""
    if dt is not None and meta.get("dt") is not None:
        msgs.append(f"dt: {dt:g} s as given (the file says {float(np.asarray(meta['dt']).reshape(-1)[0]):g} s)")
    elif dt is None and meta.get("dt") is not None:
        dt = float(np.asarray(meta["dt"]).reshape(-1)[0])
    elif dt is None and PRODUCERS.get(producer or "", NIR_SPEC).time_unit in ("steps", "loihi"):
        dt = STEP_CLOCK_DT
        msgs.append(f"dt: taus count time steps; graph clock {dt:g} s per step assumed (--dt sets it; the "
                    "decays do not depend on it)")  # fmt: skip
    elif dt is None:
        dt = dt_from_r(g, disc)
        if dt is None:
            hints = "" if producer else "".join(f"{h}; " for h in signature_hints(g))
            who = f"{producer} used" if producer else "its producer used"
            raise ConfigError(
                f"NIR file: no 'dt' in its metadata and none can be derived from its neurons' r: {hints}give the "
                f"time step {who} with --dt (e.g. --dt 1e-3, Norse's default)"
            )
        msgs.append(f"dt: {dt:.6g} s derived from the neurons' r ({disc} convention); override with --dt")
    if not (np.isfinite(dt) and dt > 0):
        raise ConfigError(f"NIR dt must be a positive number of seconds, got {dt}")
    return float(dt)


def resolve(
    g: Any, dt: float | None = None, discretization: str | None = None, producer: str | None = None
) -> Convention:
    """The `Convention` for graph ``g`` (module docstring); ConfigError when no dt can be found."""
    meta = dict(g.metadata or {})
    if producer is not None and producer not in PRODUCERS:
        raise ConfigError(f"NIR producer '{producer}': expected one of {', '.join(PRODUCERS)}")
    found, how = (producer, "as given") if producer else recognise(g)
    msgs = [f"producer: {found} ({how})"] if found else ["producer: not stated in the file"]
    dialect = PRODUCERS.get(found or "", NIR_SPEC)
    if found and not dialect.tested:
        msgs.append(f"{found}'s conventions follow its documented neuron model, not checked against its own code")
    warnings = [] if found else [f"possible producer: {h}" for h in signature_hints(g)]
    disc = _discretization(meta, found, dialect, discretization, msgs)
    dt = _dt(g, meta, dt, disc, found, msgs)
    file_dt = 1.0 if dialect.time_unit in ("steps", "loihi") else dt
    return Convention(found, disc, dt, msgs, dialect, file_dt, warnings)


__all__ = ["Convention", "DISCRETIZATIONS", "Dialect", "NIR_SPEC", "PRODUCERS", "dt_from_r", "recognise", "resolve",
           "signature_hints"]  # fmt: skip
