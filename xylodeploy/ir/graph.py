"""`NetworkGraph`: the float IR of a spiking network, independent of any chip or framework.

A graph is a set of LIF populations joined by dense linear connections. The source of a
connection is ``"input"`` (the network's input channels) or a population; a connection whose
source and target are the same population is that population's recurrent weight matrix. One
population is the readout; every other population is hidden.

Float dynamics of every neuron (chip order of operations; the torch models use the same), with
``alpha = exp(-dt/tau_mem)`` and ``beta_s = exp(-dt/tau_syn[:, s])``::

    isyn_s[t] = beta_s * (isyn_s[t-1] + I_s[t])          # I_s: sum of weight * event count
    v[t]      = alpha * v[t-1] + sum_s isyn_s[t] + bias
    n[t]      = clamp(floor(v[t] / threshold), 0, max_spikes)   if v[t] >= threshold else 0
    v[t]     -= n[t] * threshold                            # subtractive reset

Units: times in seconds; weights, thresholds, biases and states share one arbitrary "state"
unit (weights: state units per input event / per source spike). The graph is a pure data
structure (numpy only); it says nothing about delays, which the mapping stage decides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError

INPUT = "input"  # reserved source name of the network's input channels


def _frozen_array(value: Any, shape: tuple[int, ...], where: str, field: str) -> np.ndarray:
    """A read-only float64 copy of ``value`` broadcast to ``shape`` (scalars allowed)."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: field '{field}' is not numeric ({value!r})") from None
    if arr.ndim == 0:
        arr = np.full(shape, float(arr))
    if arr.shape != shape:
        raise ConfigError(f"{where}: field '{field}' has shape {arr.shape}, expected {shape} or a scalar")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{where}: field '{field}' contains NaN or infinite values")
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class LIFPopulation:
    """A population of LIF neurons with one or two synaptic states (see module docstring).

    Array fields accept scalars (broadcast); ``tau_syn`` also accepts ``(size,)`` when
    ``n_synapses == 1``. Arrays are stored as read-only float64 copies.
    """

    name: str
    size: int  # number of neurons
    tau_mem: Any  # (size,) membrane time constant [s]
    tau_syn: Any  # (size, n_synapses) synaptic time constants [s]
    threshold: Any  # (size,) firing threshold [state units], > 0
    bias: Any = 0.0  # (size,) added to v every step [state units]
    n_synapses: int = 1  # synaptic states per neuron: 1 or 2
    max_spikes: int = 1  # spike cap per neuron per time step
    dt: float = 1e-3  # time step [s]

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not self.name or self.name == INPUT:
            raise ConfigError(f"population {self.name!r}: field 'name' must be a non-empty string other than '{INPUT}'")
        where = f"population '{self.name}'"
        for field, lo in (("size", 1), ("n_synapses", 1), ("max_spikes", 1)):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
                raise ConfigError(f"{where}: field '{field}' must be an integer >= {lo}, got {value!r}")
            set_(self, field, int(value))
        if self.n_synapses > 2:
            raise ConfigError(f"{where}: field 'n_synapses' must be 1 or 2, got {self.n_synapses}")
        try:
            dt = float(self.dt)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: field 'dt' must be a number of seconds, got {self.dt!r}") from None
        if not (np.isfinite(dt) and dt > 0):
            raise ConfigError(f"{where}: field 'dt' must be > 0 seconds, got {dt}")
        set_(self, "dt", dt)
        n, k = self.size, self.n_synapses
        tau_syn = self.tau_syn
        if np.ndim(tau_syn) == 1 and k == 1:
            tau_syn = np.reshape(tau_syn, (-1, 1))
        set_(self, "tau_syn", _frozen_array(tau_syn, (n, k), where, "tau_syn"))
        for field in ("tau_mem", "threshold", "bias"):
            set_(self, field, _frozen_array(getattr(self, field), (n,), where, field))
        for field in ("tau_mem", "tau_syn", "threshold"):
            bad = np.flatnonzero(np.asarray(getattr(self, field)).reshape(n, -1).min(axis=1) <= 0)
            if bad.size:
                raise ConfigError(f"{where}: field '{field}' must be > 0, violated at neuron(s) {_ids(bad)}")

    def __repr__(self) -> str:
        return (
            f"LIFPopulation(name={self.name!r}, size={self.size}, n_synapses={self.n_synapses}, "
            f"max_spikes={self.max_spikes}, dt={self.dt})"
        )

    def replace(self, **changes: Any) -> LIFPopulation:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)
class Connection:
    """Dense weights from ``source`` (``"input"`` or a population) to population ``target``.

    ``weight`` is ``(n_src, n_tgt)`` (drives synapse 0) or ``(n_src, n_tgt, n_syn)`` with
    ``n_syn`` equal to the target's ``n_synapses`` (entry ``[i, j, s]`` drives synapse ``s``
    of neuron ``j``). It is stored 3-D, ``(n_src, n_tgt, 1 | 2)``. Units: state units per
    input event or per source spike. ``source == target`` means recurrent weights.
    """

    source: str
    target: str
    weight: Any  # (n_src, n_tgt, n_syn) [state units per event]

    def __post_init__(self) -> None:
        where = f"connection '{self.source}'->'{self.target}'"
        try:
            w = np.array(self.weight, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: field 'weight' is not numeric") from None
        if w.ndim == 2:
            w = w[:, :, None]
        if w.ndim != 3 or w.shape[2] not in (1, 2):
            raise ConfigError(
                f"{where}: field 'weight' has shape {w.shape}, expected (n_src, n_tgt) or (n_src, n_tgt, n_syn)"
            )
        if not np.all(np.isfinite(w)):
            raise ConfigError(f"{where}: field 'weight' contains NaN or infinite values")
        w = np.ascontiguousarray(w)
        w.setflags(write=False)
        object.__setattr__(self, "weight", w)

    def __repr__(self) -> str:
        return f"Connection({self.source!r} -> {self.target!r}, weight shape {self.weight.shape})"

    @property
    def is_recurrent(self) -> bool:
        """True for a population's weights onto itself."""
        return self.source == self.target

    @property
    def label(self) -> str:
        return f"'{self.source}'->'{self.target}'"


@dataclass(frozen=True, eq=False)
class NetworkGraph:
    """A validated float network: populations, connections and the readout population."""

    n_inputs: int  # input channels
    populations: tuple[LIFPopulation, ...]
    connections: tuple[Connection, ...]
    readout: str  # name of the readout population
    name: str = "network"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "populations", tuple(self.populations))
        set_(self, "connections", tuple(self.connections))
        if isinstance(self.n_inputs, bool) or not isinstance(self.n_inputs, (int, np.integer)) or self.n_inputs < 1:
            raise ConfigError(f"graph '{self.name}': field 'n_inputs' must be an integer >= 1, got {self.n_inputs!r}")
        set_(self, "n_inputs", int(self.n_inputs))
        self._check_populations()
        self._check_connections()
        self._check_reachable()
        self.topological_order()  # raises on cycles other than self-recurrence

    # --- validation ------------------------------------------------------------------------
    def _check_populations(self) -> None:
        if not self.populations:
            raise ConfigError(f"graph '{self.name}': no populations")
        names = [p.name for p in self.populations]
        for p in self.populations:
            if not isinstance(p, LIFPopulation):
                raise ConfigError(f"graph '{self.name}': populations must be LIFPopulation, got {type(p).__name__}")
            if names.count(p.name) > 1:
                raise ConfigError(f"graph '{self.name}': population name '{p.name}' is used more than once")
        if self.readout not in names:
            raise ConfigError(f"graph '{self.name}': readout population '{self.readout}' does not exist")
        dt0 = self.populations[0].dt
        for p in self.populations[1:]:
            if not np.isclose(p.dt, dt0, rtol=1e-9, atol=0.0):
                raise ConfigError(
                    f"population '{p.name}': field 'dt' = {p.dt} s differs from "
                    f"'{self.populations[0].name}' dt = {dt0} s (all populations need the same dt)"
                )

    def _check_connections(self) -> None:
        seen: set[tuple[str, str]] = set()
        for c in self.connections:
            if not isinstance(c, Connection):
                raise ConfigError(f"graph '{self.name}': connections must be Connection, got {type(c).__name__}")
            if c.target == INPUT or c.target not in self._by_name():
                raise ConfigError(f"connection {c.label}: target population '{c.target}' does not exist")
            if c.source != INPUT and c.source not in self._by_name():
                raise ConfigError(f"connection {c.label}: source population '{c.source}' does not exist")
            if (c.source, c.target) in seen:
                raise ConfigError(f"connection {c.label}: duplicate connection (merge the weights into one)")
            seen.add((c.source, c.target))
            n_src = self.n_inputs if c.source == INPUT else self.population(c.source).size
            tgt = self.population(c.target)
            if c.weight.shape[:2] != (n_src, tgt.size):
                raise ConfigError(
                    f"connection {c.label}: field 'weight' has shape {c.weight.shape[:2]}, "
                    f"expected ({n_src}, {tgt.size})"
                )
            if c.weight.shape[2] not in (1, tgt.n_synapses):
                raise ConfigError(
                    f"connection {c.label}: field 'weight' has {c.weight.shape[2]} synapses, "
                    f"target '{tgt.name}' has n_synapses = {tgt.n_synapses}"
                )

    def _check_reachable(self) -> None:
        reached = {INPUT}
        frontier = [INPUT]
        while frontier:
            src = frontier.pop()
            for c in self.connections:
                if c.source == src and c.target not in reached:
                    reached.add(c.target)
                    frontier.append(c.target)
        missing = [p.name for p in self.populations if p.name not in reached]
        if missing:
            raise ConfigError(f"graph '{self.name}': population(s) {missing} cannot be reached from the input")

    # --- queries -----------------------------------------------------------------------------
    def _by_name(self) -> dict[str, LIFPopulation]:
        return {p.name: p for p in self.populations}

    def population(self, name: str) -> LIFPopulation:
        """The population called ``name`` (ConfigError if there is none)."""
        try:
            return self._by_name()[name]
        except KeyError:
            raise ConfigError(f"graph '{self.name}': no population named '{name}'") from None

    @property
    def dt(self) -> float:
        """Time step [s] shared by every population."""
        return self.populations[0].dt

    @property
    def readout_population(self) -> LIFPopulation:
        return self.population(self.readout)

    def incoming(self, name: str) -> tuple[Connection, ...]:
        """Connections whose target is ``name`` (recurrent included)."""
        return tuple(c for c in self.connections if c.target == name)

    def outgoing(self, name: str) -> tuple[Connection, ...]:
        """Connections whose source is ``name`` (``"input"`` allowed; recurrent included)."""
        return tuple(c for c in self.connections if c.source == name)

    def recurrent(self, name: str) -> Connection | None:
        """The recurrent connection of population ``name``, if any."""
        return next((c for c in self.connections if c.source == name and c.target == name), None)

    def topological_order(self) -> tuple[str, ...]:
        """All population names, sources before targets (self-recurrence ignored; stable)."""
        names = [p.name for p in self.populations]
        preds = {n: {c.source for c in self.incoming(n) if c.source not in (INPUT, n)} for n in names}
        order: list[str] = []
        while len(order) < len(names):
            ready = [n for n in names if n not in order and preds[n] <= set(order)]
            if not ready:
                stuck = [n for n in names if n not in order]
                raise ConfigError(
                    f"graph '{self.name}': populations {stuck} form a cycle; "
                    "only self-recurrent connections are supported"
                )
            order.extend(ready)
        return tuple(order)

    def hidden_populations(self) -> tuple[LIFPopulation, ...]:
        """Every population except the readout, in topological order."""
        by = self._by_name()
        return tuple(by[n] for n in self.topological_order() if n != self.readout)

    def input_populations(self) -> tuple[LIFPopulation, ...]:
        """Populations that receive the network input, in topological order."""
        fed = {c.target for c in self.outgoing(INPUT)}
        return tuple(p for p in self.hidden_populations() if p.name in fed) + tuple(
            p for p in (self.readout_population,) if p.name in fed
        )

    @property
    def input_population(self) -> LIFPopulation:
        """The single population fed by the input (ConfigError if there are several)."""
        pops = self.input_populations()
        if len(pops) != 1:
            raise ConfigError(f"graph '{self.name}': {len(pops)} populations receive the input, expected exactly one")
        return pops[0]

    def readout_sources(self) -> tuple[LIFPopulation, ...]:
        """Hidden populations with a connection into the readout, in topological order."""
        srcs = {c.source for c in self.incoming(self.readout)}
        return tuple(p for p in self.hidden_populations() if p.name in srcs)

    @property
    def n_hidden(self) -> int:
        """Total number of hidden neurons."""
        return sum(p.size for p in self.hidden_populations())

    @property
    def n_outputs(self) -> int:
        """Number of readout neurons."""
        return self.readout_population.size

    @property
    def sizes(self) -> dict[str, int]:
        """Population name -> size, in topological order."""
        by = self._by_name()
        return {n: by[n].size for n in self.topological_order()}

    @property
    def max_synapses(self) -> int:
        """Largest ``n_synapses`` of any hidden population."""
        return max((p.n_synapses for p in self.hidden_populations()), default=1)

    def replace(self, **changes: Any) -> NetworkGraph:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _ids(indices: Iterable[int], limit: int = 10) -> str:
    """Compact text for a list of neuron indices."""
    idx = [int(i) for i in indices]
    text = ", ".join(str(i) for i in idx[:limit])
    return text + (f", ... ({len(idx)} in all)" if len(idx) > limit else "")


def feedforward_graph(
    n_inputs: int,
    layers: Iterable[LIFPopulation],
    weights: Iterable[Any],
    recurrent: dict[str, Any] | None = None,
    name: str = "network",
) -> NetworkGraph:
    """A stack ``input -> layers[0] -> ... -> layers[-1]`` (the last layer is the readout).

    ``weights[i]`` feeds ``layers[i]`` from the previous layer (or the input);
    ``recurrent`` maps a population name to its recurrent weight matrix.
    """
    pops = tuple(layers)
    ws = tuple(weights)
    if len(ws) != len(pops):
        raise ConfigError(f"graph '{name}': {len(ws)} weight matrices for {len(pops)} layers")
    conns = [
        Connection(INPUT if i == 0 else pops[i - 1].name, p.name, w)
        for i, (p, w) in enumerate(zip(pops, ws, strict=True))
    ]
    conns += [Connection(n, n, w) for n, w in (recurrent or {}).items()]
    return NetworkGraph(n_inputs=n_inputs, populations=pops, connections=tuple(conns), readout=pops[-1].name, name=name)
