"""Time constants <-> bit-shift decay parameters ("dashes").

The chip decays a state ``x`` by ``x -= decrement(x, dash)`` (floor shift, at least 1 for
``x > 0``; docs/chip-arithmetic.md), i.e. by the factor ``a = 1 - 2**-dash`` away from the
linear tail. The float model decays by ``exp(-dt/tau)``. The ONE rounding rule used here:

* ``dash_to_tau(d) = -dt / ln(1 - 2**-d)``: the exact time constant of the factor
  ``1 - 2**-d`` (``d = 0`` gives ``0``: the state is wiped every step).
  ``d = 1, 2, 3, 4`` -> ``1.443, 3.476, 7.489, 15.495`` dt; ``d -> (2**d - 0.5)·dt``.
* ``tau_to_dash(tau)`` returns the dash whose ``dash_to_tau`` is NEAREST to ``tau``
  (absolute distance in seconds); an exact tie goes to the smaller dash (faster decay).
  This is *not* ``round(log2(tau/dt))`` (rockpool's mapper), which disagrees e.g. at
  ``tau = 5.5 dt`` (mapper 2; nearest is 3: 7.49 dt is 1.99 dt away, 3.48 dt is 2.02 dt away).

Both functions are vectorised and pure. With a ``dash_range`` the result is clipped into it
(which, the map being monotonic, is the nearest representable value) and a
`DashClippedWarning` names the population/field and the neuron indices.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from xylodeploy.chips import ChipSpec, IntRange, get_chip
from xylodeploy.errors import QuantizationError
from xylodeploy.ir.graph import NetworkGraph
from xylodeploy.quantize.report import TauReport, TimeConstantReport


class DashClippedWarning(UserWarning):
    """A time constant lies outside what the chip's dash range can represent; it was clipped."""


class SynapseRemovedWarning(UserWarning):
    """A synaptic time constant rounds to dash 0: on the chip that synapse passes nothing."""


def _check_dt(dt: float) -> float:
    dt = float(dt)
    if not (np.isfinite(dt) and dt > 0):
        raise QuantizationError(f"dt must be a positive number of seconds, got {dt}")
    return dt


def dash_to_tau(dash: Any, dt: float) -> np.ndarray:
    """Time constant [s] of the bit-shift decay ``1 - 2**-dash``: ``-dt / ln(1 - 2**-dash)``.

    ``dash`` is an integer array (any shape, ``>= 0``); ``dash = 0`` maps to ``0.0``.
    """
    dt = _check_dt(dt)
    d = np.asarray(dash)
    if d.size and (not np.issubdtype(d.dtype, np.integer) and np.any(d != np.round(d))):
        raise QuantizationError(f"dash must be integers, got {d!r}")
    d = d.astype(np.float64)
    if np.any(d < 0):
        raise QuantizationError(f"dash must be >= 0, got min {d.min():g}")
    with np.errstate(divide="ignore"):
        tau = -dt / np.log1p(-np.exp2(-d))  # log1p keeps 1 - 2**-d exact for large d
    return np.where(d == 0, 0.0, tau)


def _nearest_dash(tau: np.ndarray, dt: float) -> np.ndarray:
    """Unbounded nearest dash (ties to the smaller dash)."""
    with np.errstate(divide="ignore", over="ignore"):
        exact = -np.log2(-np.expm1(-dt / tau))  # real-valued dash with the same decay factor
    exact = np.where(tau == 0, 0.0, exact)
    base = np.maximum(np.floor(exact) - 1, 0).astype(np.int64)
    cands = base[..., None] + np.arange(3)  # ascending, so argmin picks the smaller dash on a tie
    dist = np.abs(dash_to_tau(cands, dt) - tau[..., None])
    return np.take_along_axis(cands, np.argmin(dist, axis=-1)[..., None], axis=-1)[..., 0]


def tau_to_dash(
    tau: Any,
    dt: float,
    dash_range: IntRange | None = None,
    *,
    name: str = "tau",
) -> np.ndarray:
    """Nearest dash for each time constant ``tau`` [s] (module docstring); int64, same shape.

    Args:
        tau: time constants in seconds, ``>= 0`` and finite (``0`` -> dash 0).
        dt: time step in seconds.
        dash_range: the chip's dash range; values outside are clipped with a
            `DashClippedWarning` naming ``name`` and the (flat) indices. ``None``: no clipping.
        name: what ``tau`` is, for the warning (e.g. ``"population 'h1' tau_syn"``).
    """
    dt = _check_dt(dt)
    t = np.asarray(tau, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise QuantizationError(f"{name}: time constants must be finite and >= 0")
    dash = _nearest_dash(t, dt)
    if dash_range is None:
        return dash
    clipped = np.clip(dash, dash_range.lo, dash_range.hi)
    bad = np.flatnonzero(clipped != dash)
    if bad.size:
        shown = ", ".join(str(int(i)) for i in bad[:10]) + (f", ... ({bad.size} in all)" if bad.size > 10 else "")
        lo_tau, hi_tau = dash_to_tau(np.array([dash_range.lo, dash_range.hi]), dt)
        slow = (
            f" (slower than the slowest decay: a state without leak keeps 1 - 2**-{dash_range.hi} per step)"
            if np.all(dash[bad] > dash_range.hi)
            else ""
        )
        warnings.warn(
            f"{name}: {bad.size} time constant(s) outside the representable range "
            f"{lo_tau:.4g}..{hi_tau:.4g} s (dash {dash_range}) clipped at index {shown}{slow}",
            DashClippedWarning,
            stacklevel=2,
        )
    return clipped


@dataclass(frozen=True, eq=False)
class PopulationDashes:
    """Integer decay parameters of one population."""

    dash_mem: np.ndarray  # (n,) int64
    dash_syn: np.ndarray  # (n, n_syn) int64


@dataclass(frozen=True, eq=False)
class TimeQuantizedGraph:
    """A float graph together with the dashes chosen for one chip (input of `quantize_weights`)."""

    graph: NetworkGraph  # unchanged input graph (requested time constants)
    chip: str  # registry name of the chip
    dashes: Mapping[str, PopulationDashes]  # population name -> dashes
    report: TimeConstantReport


def _population_dashes(pop: Any, dt: float, rng: IntRange) -> tuple[PopulationDashes, list[TauReport]]:
    where = f"population '{pop.name}'"
    mem = tau_to_dash(pop.tau_mem, dt, rng, name=f"{where} tau_mem")
    syn = tau_to_dash(pop.tau_syn, dt, rng, name=f"{where} tau_syn (flat index = neuron*n_synapses + synapse)")
    zero = np.flatnonzero(syn.reshape(-1) == 0)
    if zero.size:
        warnings.warn(
            f"{where} tau_syn: {zero.size} synapse(s) round to dash 0 and pass nothing on the chip "
            f"(tau < {dash_to_tau(1, dt) / 2:.3g} s); flat indices {zero[:10].tolist()}",
            SynapseRemovedWarning,
            stacklevel=3,
        )
    rows = []
    for field, tau, dash in (("tau_mem", pop.tau_mem, mem), ("tau_syn", pop.tau_syn, syn)):
        dash.setflags(write=False)
        clipped = int(np.sum(tau_to_dash(tau, dt) != dash))
        rows.append(TauReport.from_arrays(pop.name, field, tau, dash_to_tau(dash, dt), dash, clipped))
    return PopulationDashes(dash_mem=mem, dash_syn=syn), rows


def quantize_time_constants(graph: NetworkGraph, chip: str | ChipSpec) -> TimeQuantizedGraph:
    """Choose ``dash_mem`` and ``dash_syn`` for every population of ``graph`` on ``chip``.

    Uses `tau_to_dash` with the chip's ``dash_range`` (warnings on clipping and on synapses that
    round to dash 0). The graph is not modified; the report lists requested vs effective time
    constants per population.
    """
    spec = get_chip(chip)
    dashes: dict[str, PopulationDashes] = {}
    rows: list[TauReport] = []
    for pop in graph.populations:
        dashes[pop.name], pop_rows = _population_dashes(pop, graph.dt, spec.dash_range)
        rows.extend(pop_rows)
    return TimeQuantizedGraph(
        graph=graph,
        chip=spec.name,
        dashes=MappingProxyType(dashes),
        report=TimeConstantReport(dt=graph.dt, rows=tuple(rows)),
    )
