"""`resource_summary`: what a spec uses of a chip, row by row."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from xylodeploy.chips import ChipSpec
from xylodeploy.drc.rules import fanout
from xylodeploy.ir.xylospec import XyloSpec


@dataclass(frozen=True)
class ResourceRow:
    """One resource: ``used`` of ``available`` (``percent`` is None when nothing is available)."""

    resource: str
    used: int
    available: int
    percent: float | None

    @property
    def over(self) -> bool:
        """True if the spec uses more than the chip has."""
        return self.used > self.available

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(resource: str, used: int, available: int) -> ResourceRow:
    used, available = int(used), int(available)
    pct = 100.0 * used / available if available > 0 else None
    return ResourceRow(resource, used, available, pct)


def _projection_size(count: int | None, chip: ChipSpec) -> int:
    return chip.max_hidden if count is None else count


def resource_summary(spec: XyloSpec, chip: ChipSpec) -> list[ResourceRow]:
    """Rows of (resource, used, available, percent) for ``spec`` on ``chip``.

    IENs/OENs count hidden neurons with any nonzero input/readout weight; fan-out is the largest
    number of distinct recurrent targets of one source; recurrent slots are nonzero recurrent
    weights per synapse bank; weight capacities are the chip's dense input/readout matrices
    (inputs x IENs x synapses, OENs x readout) and its recurrent slots.
    """
    n_ien = _projection_size(chip.input_projection.count, chip)
    n_oen = _projection_size(chip.output_projection.count, chip)
    rows = [
        _row("input channels", spec.n_inputs, chip.max_inputs),
        _row("hidden neurons", spec.n_hidden, chip.max_hidden),
        _row("readout neurons", spec.n_outputs, chip.max_readout),
        _row("synapses per neuron", spec.n_synapses, chip.max_synapses),
        _row("input expansion neurons (IENs)", np.count_nonzero(np.any(spec.weights_in != 0, axis=(0, 2))), n_ien),
        _row("output expansion neurons (OENs)", np.count_nonzero(np.any(spec.weights_out != 0, axis=1)), n_oen),
        _row("max recurrent fan-out", int(fanout(spec).max(initial=0)), chip.max_fanout),
    ]
    for s in range(max(spec.n_synapses, chip.max_synapses)):
        used = np.count_nonzero(spec.weights_rec[:, :, s]) if s < spec.n_synapses else 0
        available = chip.max_recurrent_slots if s < chip.max_synapses else 0
        rows.append(_row(f"recurrent slots (synapse {s + 1})", used, available))
    rec_capacity = chip.max_recurrent_slots * chip.max_synapses
    rows += [
        _row("alias targets (max per neuron)", max((len(a) for a in spec.aliases), default=0), chip.max_alias_targets),
        _row("nonzero input weights", np.count_nonzero(spec.weights_in), chip.max_inputs * n_ien * chip.max_synapses),
        _row("nonzero recurrent weights", np.count_nonzero(spec.weights_rec), rec_capacity),
        _row("nonzero readout weights", np.count_nonzero(spec.weights_out), n_oen * chip.max_readout),
    ]
    return rows
