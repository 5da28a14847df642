"""`QuantizedGraph`: a network with integer chip parameters, still organised by population.

Produced by `quantize_weights`, consumed by `xylodeploy.mapping.map_to_spec` (and recovered
from a spec by `xylodeploy.mapping.unmap`). All integers are in chip units: weights are int8
values applied as ``w << weight_shift_<group>``; thresholds, biases and states are in LSB of
the chip's int16 Isyn/Vmem; dashes are bit-shift decays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.ir.graph import INPUT
from xylodeploy.quantize.report import QuantizationReport

Group = Literal["in", "rec", "out"]  # input->hidden, hidden->hidden, hidden->readout
GROUPS: tuple[str, ...] = ("in", "rec", "out")


def _int_array(value: Any, name: str) -> np.ndarray:
    arr = np.array(value)
    if arr.size and not np.issubdtype(arr.dtype, np.integer) and np.any(arr != np.round(arr)):
        raise ConfigError(f"{name}: expected integers")
    arr = arr.astype(np.int64)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class QuantizedPopulation:
    """Integer parameters of one population."""

    name: str
    role: str  # "hidden" or "readout"
    n_synapses: int  # 1 or 2
    dash_mem: Any  # (n,) int64
    dash_syn: Any  # (n, n_synapses) int64
    threshold: Any  # (n,) int64 [chip state LSB]
    bias: Any  # (n,) int64 [chip state LSB per step]
    scale: Any = None  # (n,) float: chip state LSB per float state unit; None if unknown

    def __post_init__(self) -> None:
        for f in ("dash_mem", "dash_syn", "threshold", "bias"):
            object.__setattr__(self, f, _int_array(getattr(self, f), f"population '{self.name}' {f}"))
        if self.scale is not None:
            s = np.array(self.scale, dtype=np.float64)
            s.setflags(write=False)
            object.__setattr__(self, "scale", s)

    @property
    def size(self) -> int:
        return int(self.threshold.shape[0])

    def same_integers(self, other: QuantizedPopulation) -> bool:
        """Equal names, roles, synapse counts and every integer array (scales ignored)."""
        fields = ("dash_mem", "dash_syn", "threshold", "bias")
        same = (self.name, self.role, self.n_synapses) == (other.name, other.role, other.n_synapses)
        return same and all(np.array_equal(getattr(self, f), getattr(other, f)) for f in fields)


@dataclass(frozen=True, eq=False)
class QuantizedConnection:
    """Integer weights ``(n_src, n_tgt, n_syn)`` from ``source`` to ``target`` in one shift group."""

    source: str  # "input" or a population
    target: str
    group: str  # "in" | "rec" | "out"
    weight: Any  # (n_src, n_tgt, 1 | 2) int64

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _int_array(self.weight, f"connection '{self.source}'->'{self.target}'"))
        if self.group not in GROUPS:
            raise ConfigError(f"connection '{self.source}'->'{self.target}': unknown group '{self.group}'")

    def same_integers(self, other: QuantizedConnection) -> bool:
        key = (self.source, self.target, self.group)
        return key == (other.source, other.target, other.group) and np.array_equal(self.weight, other.weight)


@dataclass(frozen=True, eq=False)
class QuantizedGraph:
    """A quantized network for one chip (see module docstring)."""

    chip: str
    n_inputs: int
    populations: tuple[QuantizedPopulation, ...]  # hidden (topological order), then the readout
    connections: tuple[QuantizedConnection, ...]
    readout: str
    dt: float  # [s]
    weight_shift_in: int = 0
    weight_shift_rec: int = 0
    weight_shift_out: int = 0
    method: str = ""  # "global" / "channel" / "" (recovered from a spec)
    report: QuantizationReport | None = None

    def population(self, name: str) -> QuantizedPopulation:
        for p in self.populations:
            if p.name == name:
                return p
        raise ConfigError(f"quantized graph: no population named '{name}'")

    def hidden_populations(self) -> tuple[QuantizedPopulation, ...]:
        return tuple(p for p in self.populations if p.name != self.readout)

    def input_targets(self) -> tuple[str, ...]:
        """Hidden populations fed by the input, in population order."""
        fed = {c.target for c in self.connections if c.source == INPUT}
        return tuple(p.name for p in self.hidden_populations() if p.name in fed)

    def readout_sources(self) -> tuple[str, ...]:
        """Hidden populations that drive the readout, in population order."""
        src = {c.source for c in self.connections if c.target == self.readout}
        return tuple(p.name for p in self.hidden_populations() if p.name in src)

    def shift(self, group: str) -> int:
        return {"in": self.weight_shift_in, "rec": self.weight_shift_rec, "out": self.weight_shift_out}[group]

    def same_integers(self, other: QuantizedGraph) -> bool:
        """True if every integer parameter, shift, size and name matches (scales/report ignored)."""
        head = ("n_inputs", "readout", "weight_shift_in", "weight_shift_rec", "weight_shift_out")
        if any(getattr(self, f) != getattr(other, f) for f in head) or not np.isclose(self.dt, other.dt):
            return False
        if len(self.populations) != len(other.populations) or len(self.connections) != len(other.connections):
            return False
        by_name = {p.name: p for p in other.populations}
        pops = all(p.name in by_name and p.same_integers(by_name[p.name]) for p in self.populations)
        key = lambda c: (c.source, c.target)  # noqa: E731
        mine, theirs = sorted(self.connections, key=key), sorted(other.connections, key=key)
        return pops and all(a.same_integers(b) for a, b in zip(mine, theirs, strict=True))
