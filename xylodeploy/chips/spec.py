"""`ChipSpec`: every hardware limit of one Xylo SNN core, as typed data.

Numbers: docs/chip-facts.md (chips) and docs/chip-arithmetic.md (ranges). Nothing else in the package may
hard-code a chip limit: read it from the ``ChipSpec``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class IntRange:
    """Closed integer interval ``[lo, hi]``."""

    lo: int
    hi: int

    def __contains__(self, value: object) -> bool:
        # numbers.Integral covers Python and NumPy integers; bools are not values of a range
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and self.lo <= value <= self.hi

    @classmethod
    def signed(cls, bits: int) -> IntRange:
        """Range of a two's complement integer of ``bits`` bits."""
        return cls(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)

    @classmethod
    def unsigned(cls, bits: int) -> IntRange:
        """Range of an unsigned integer of ``bits`` bits."""
        return cls(0, (1 << bits) - 1)

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"


@dataclass(frozen=True)
class Projection:
    """Which hidden neurons may receive input weights (IENs) or drive the readout (OENs).

    ``count`` neurons at the ``first`` or ``last`` end of the network's hidden index range
    (``None``: every hidden neuron may).
    """

    count: int | None
    position: Literal["first", "last"]

    def allowed(self, n_hidden: int) -> range:
        """Hidden indices allowed for a network with ``n_hidden`` hidden neurons."""
        if self.count is None or self.count >= n_hidden:
            return range(n_hidden)
        if self.position == "first":
            return range(self.count)
        return range(n_hidden - self.count, n_hidden)


@dataclass(frozen=True)
class ChipSpec:
    """Limits and facts of one chip (all counts per chip, all ranges inclusive)."""

    name: str  # registry key, e.g. "xylo-audio2"
    part_number: str  # e.g. "SYNS61201"
    title: str  # human name, e.g. "Xylo Audio 2"
    aliases: tuple[str, ...]  # other accepted names for get_chip()

    # sizes
    max_inputs: int  # SNN input channels
    max_hidden: int  # hidden neurons
    max_readout: int  # readout (output) neurons
    max_synapses: int  # synaptic states per hidden neuron (1 or 2)
    input_projection: Projection  # IENs
    output_projection: Projection  # OENs
    max_fanout: int  # distinct recurrent targets per hidden source neuron
    max_recurrent_slots: int  # total recurrent fan-out entries per synapse bank
    max_alias_targets: int  # alias targets per hidden neuron

    # event and spike caps (per neuron or channel, per time step)
    max_input_events: int
    max_hidden_spikes: int
    max_output_spikes: int

    # value ranges
    weight_range: IntRange  # int8 weights (input, recurrent, readout)
    weight_shift_range: IntRange  # IWBS/RWBS/OWBS register fields
    threshold_range: IntRange
    bias_range: IntRange
    dash_range: IntRange  # dash_mem, dash_syn, dash_syn_2 (bit-shift decay)
    state_range: IntRange  # Isyn and Vmem (saturating)

    # board facts (used by drivers and power tools)
    default_clock_hz: float
    samna_namespace: str
    device_type_name: str
    min_firmware: dict[str, str] = field(default_factory=dict)
    power_rails: dict[str, str] = field(default_factory=dict)  # samna channel -> our rail name
    default_power_hz: float = 5.0

    @property
    def two_synapses(self) -> bool:
        """True if hidden neurons have a second synaptic state."""
        return self.max_synapses > 1

    def names(self) -> tuple[str, ...]:
        """Every name this chip answers to."""
        return (self.name, *self.aliases)
