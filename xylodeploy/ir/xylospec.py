"""`XyloSpec`: the integer IR, one network configured for one chip.

Field names follow rockpool's mapper specification (docs/chip-facts.md, rockpool). Hidden neuron ``h``
has ``Nsyn`` synaptic states (1 or 2). Units: weights, thresholds, biases and states are
integers in chip units (one LSB of Isyn/Vmem); dashes are bit shifts; ``dt`` is in seconds.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError

ARRAY_FIELDS: tuple[str, ...] = (
    "weights_in",  # (Nin, Nh, Nsyn) int8 input weights
    "weights_rec",  # (Nh, Nh, Nsyn) int8 recurrent (hidden->hidden) weights, source x target
    "weights_out",  # (Nh, Nout) int8 readout weights
    "dash_mem",  # (Nh,) membrane bit-shift decay
    "dash_syn",  # (Nh,) synapse-1 bit-shift decay
    "dash_syn_2",  # (Nh,) synapse-2 bit-shift decay (ignored when Nsyn == 1)
    "dash_mem_out",  # (Nout,)
    "dash_syn_out",  # (Nout,)
    "threshold",  # (Nh,) int16 firing threshold
    "threshold_out",  # (Nout,)
    "bias",  # (Nh,) added to Vmem every step
    "bias_out",  # (Nout,)
)
SCALAR_INT_FIELDS: tuple[str, ...] = ("weight_shift_in", "weight_shift_rec", "weight_shift_out")


def _as_int_array(name: str, value: Any, ndim: int) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - anything unconvertible is a config error
        raise ConfigError(f"field '{name}': cannot convert to an array ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ConfigError(f"field '{name}': expected integers, got dtype {arr.dtype}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
        if not np.all(np.isfinite(arr)):
            raise ConfigError(f"field '{name}': contains NaN or infinite values")
        if np.any(arr != np.round(arr)):
            raise ConfigError(f"field '{name}': expected integers, found non-integer values")
    if arr.ndim != ndim:
        raise ConfigError(f"field '{name}': expected {ndim}-D array, got shape {arr.shape}")
    if arr.size and arr.dtype != bool and (arr.max() >= 2**63 or arr.min() < -(2**63)):
        raise ConfigError(f"field '{name}': values outside the int64 range")
    out = np.array(arr, dtype=np.int64)
    out.setflags(write=False)
    return out


def _alias_target(t: Any) -> int:
    """An alias target id: an integer (no silent truncation of 1.5, no bools)."""
    if isinstance(t, bool):
        raise TypeError("bool is not a neuron id")
    return operator.index(t)


@dataclass(frozen=True, eq=False)
class XyloSpec:
    """A complete integer configuration of one Xylo SNN core (see module docstring)."""

    chip: str
    weights_in: np.ndarray
    weights_rec: np.ndarray
    weights_out: np.ndarray
    dash_mem: np.ndarray
    dash_syn: np.ndarray
    dash_syn_2: np.ndarray
    dash_mem_out: np.ndarray
    dash_syn_out: np.ndarray
    threshold: np.ndarray
    threshold_out: np.ndarray
    bias: np.ndarray
    bias_out: np.ndarray
    weight_shift_in: int = 0
    weight_shift_rec: int = 0
    weight_shift_out: int = 0
    aliases: tuple[tuple[int, ...], ...] = ()  # per hidden neuron: alias target ids
    dt: float = 1e-3  # seconds per time step
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        ndims = {"weights_in": 3, "weights_rec": 3, "weights_out": 2}
        for name in ARRAY_FIELDS:
            set_(self, name, _as_int_array(name, getattr(self, name), ndims.get(name, 1)))
        for name in SCALAR_INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"field '{name}': expected an integer, got {value!r}")
            set_(self, name, int(value))
        try:
            dt = float(self.dt)
        except (TypeError, ValueError):
            raise ConfigError(f"field 'dt': expected a number of seconds, got {self.dt!r}") from None
        if not np.isfinite(dt):
            raise ConfigError(f"field 'dt': expected a finite number of seconds, got {dt}")
        set_(self, "dt", dt)
        set_(self, "chip", str(self.chip))
        set_(self, "aliases", self._normalise_aliases(self.aliases))
        if not isinstance(self.provenance, Mapping):
            raise ConfigError(f"field 'provenance': expected a mapping, got {type(self.provenance).__name__}")
        set_(self, "provenance", MappingProxyType(dict(self.provenance)))
        self._check_shapes()

    def _normalise_aliases(self, aliases: Any) -> tuple[tuple[int, ...], ...]:
        n_hidden = self.weights_rec.shape[0]
        try:
            if aliases is None or len(aliases) == 0:
                return tuple(() for _ in range(n_hidden))
            return tuple(tuple(_alias_target(t) for t in targets) for targets in aliases)
        except (TypeError, ValueError):
            raise ConfigError("field 'aliases': expected one list of integer targets per hidden neuron") from None

    def _check_shapes(self) -> None:
        n_in, n_h, n_syn = self.weights_in.shape
        n_out = self.weights_out.shape[1]
        expect = {
            "weights_rec": (n_h, n_h, n_syn),
            "weights_out": (n_h, n_out),
            **{k: (n_h,) for k in ("dash_mem", "dash_syn", "dash_syn_2", "threshold", "bias")},
            **{k: (n_out,) for k in ("dash_mem_out", "dash_syn_out", "threshold_out", "bias_out")},
        }
        for name, shape in expect.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ConfigError(
                    f"field '{name}': shape {got} does not match {shape} implied by "
                    f"weights_in {self.weights_in.shape} and weights_out {self.weights_out.shape}"
                )
        if n_syn not in (1, 2):
            raise ConfigError(f"field 'weights_in': synapse axis has {n_syn} entries, expected 1 or 2")
        if len(self.aliases) != n_h:
            raise ConfigError(f"field 'aliases': {len(self.aliases)} entries, expected one per hidden neuron ({n_h})")

    # --- sizes -------------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return int(self.weights_in.shape[0])

    @property
    def n_hidden(self) -> int:
        return int(self.weights_in.shape[1])

    @property
    def n_synapses(self) -> int:
        return int(self.weights_in.shape[2])

    @property
    def n_outputs(self) -> int:
        return int(self.weights_out.shape[1])

    @property
    def has_bias(self) -> bool:
        """The chip's global bias enable: on iff any hidden or readout bias is non-zero."""
        return bool(np.any(self.bias != 0) or np.any(self.bias_out != 0))

    @property
    def uses_synapse2(self) -> bool:
        return self.n_synapses == 2

    @property
    def has_aliases(self) -> bool:
        return any(len(a) for a in self.aliases)

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        """Pickle/copy support (the read-only provenance mapping is not picklable as is)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["provenance"] = dict(self.provenance)
        return (_rebuild, (fields,))

    def replace(self, **changes: Any) -> XyloSpec:
        """A copy with some fields changed (validated like a new spec)."""
        return dataclasses.replace(self, **changes)

    def equals(self, other: XyloSpec, *, provenance: bool = False) -> bool:
        """Field-by-field equality (arrays exactly); provenance only if asked."""
        if not isinstance(other, XyloSpec):
            return False
        if any(not np.array_equal(getattr(self, f), getattr(other, f)) for f in ARRAY_FIELDS):
            return False
        same = [getattr(self, f) == getattr(other, f) for f in (*SCALAR_INT_FIELDS, "chip", "aliases", "dt")]
        return all(same) and (not provenance or dict(self.provenance) == dict(other.provenance))

    # --- persistence (see xylodeploy.ir.serialize) -----------------------------------------
    def save(self, path: Any) -> None:
        """Write this spec to ``path`` atomically (format: xylodeploy.ir.serialize)."""
        from xylodeploy.ir.serialize import save_spec

        save_spec(self, path)

    @classmethod
    def load(cls, path: Any) -> XyloSpec:
        """Read a spec written by :meth:`save`; raises ConfigError naming file and field."""
        from xylodeploy.ir.serialize import load_spec

        return load_spec(path)


def _rebuild(fields: dict[str, Any]) -> XyloSpec:
    return XyloSpec(**fields)


def empty_spec(chip: str, n_inputs: int, n_hidden: int, n_outputs: int, n_synapses: int = 1, **fields: Any) -> XyloSpec:
    """A spec of the given sizes with zero weights, dash 1 and threshold 1, overridden by ``fields``."""
    base: dict[str, Any] = dict(
        weights_in=np.zeros((n_inputs, n_hidden, n_synapses), np.int64),
        weights_rec=np.zeros((n_hidden, n_hidden, n_synapses), np.int64),
        weights_out=np.zeros((n_hidden, n_outputs), np.int64),
        dash_mem=np.ones(n_hidden, np.int64),
        dash_syn=np.ones(n_hidden, np.int64),
        dash_syn_2=np.ones(n_hidden, np.int64),
        dash_mem_out=np.ones(n_outputs, np.int64),
        dash_syn_out=np.ones(n_outputs, np.int64),
        threshold=np.ones(n_hidden, np.int64),
        threshold_out=np.ones(n_outputs, np.int64),
        bias=np.zeros(n_hidden, np.int64),
        bias_out=np.zeros(n_outputs, np.int64),
    )
    base.update(fields)
    return XyloSpec(chip=chip, **base)
