"""Design-rule warnings: specs that fit the chip but cannot do their job (they never fail a check).

* ``dead_readout``: every ``weights_out`` entry is zero, so the readout never receives input; its spikes
  and membrane are constant (0 without a bias) on every clip. Typical cause: a membrane readout whose
  threshold (e.g. rockpool's ``2**15 - 1``) set the quantisation scale, crushing the weights to zero.
* ``dead_readout_neuron``: some (not all) readout neurons have an all-zero ``weights_out`` column.

Raised as `DesignRuleWarning` where specs are made (`xylodeploy.mapping.map_to_spec`), and listed by
``xylodeploy inspect`` next to the violations.
"""

from __future__ import annotations

import numpy as np

from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.drc.violation import Violation
from xylodeploy.ir.xylospec import XyloSpec


class DesignRuleWarning(UserWarning):
    """A spec fits its chip but part of it can never act (see `advisories`)."""


def advisories(spec: XyloSpec, chip: ChipSpec | str | None = None) -> list[Violation]:
    """Design-rule warnings of ``spec`` (module docstring); empty when there is nothing to say."""
    target = get_chip(spec.chip if chip is None else chip)
    w = np.asarray(spec.weights_out)
    if w.size == 0:
        return []
    dead = np.flatnonzero(~np.any(w != 0, axis=0))
    if dead.size == w.shape[1]:
        msg = (f"all {w.size} weights_out are zero on {target.name}: the readout never receives input "
               "(its spikes and membrane are constant on every clip)")  # fmt: skip
        return [Violation("dead_readout", "readout layer", "weights_out", 0, "any nonzero weight", msg, w.shape[1])]
    if dead.size:
        shown = ", ".join(str(int(i)) for i in dead[:10])
        msg = f"readout neuron(s) {shown} have all-zero weights_out columns: they never receive input"
        return [Violation("dead_readout_neuron", f"readout neuron {int(dead[0])}", "weights_out", 0,
                          "any nonzero weight", msg, int(dead.size))]  # fmt: skip
    return []


__all__ = ["DesignRuleWarning", "advisories"]
