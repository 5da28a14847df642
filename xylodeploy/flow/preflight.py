"""Fail before the expensive part: does the network a pipeline is about to train fit its chip?

The check builds the *shape* of the spec the network will compile to (dense layers: input ->
first hidden layer, each hidden layer -> the next through the recurrent matrix, last hidden layer
-> readout; one synapse per neuron, zero-valued parameters) and runs the design rules of
`xylodeploy.drc` on it, so the limits checked (inputs, hidden neurons, readouts, projections,
fan-out, dt) are exactly the ones the compiled spec will face, from the one place they live.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xylodeploy.chips import get_chip
from xylodeploy.errors import ConfigError


def shape_spec(sizes: Sequence[int], n_channels: int, n_classes: int, chip: str, dt: float):  # noqa: ANN201
    """A zero-parameter `XyloSpec` with the connectivity of a dense SynNet of ``sizes``."""
    from xylodeploy.ir.xylospec import XyloSpec

    n_h = int(sum(sizes))
    starts = np.cumsum([0, *sizes])
    w_in = np.zeros((n_channels, n_h, 1), np.int64)
    w_in[:, : sizes[0]] = 1
    w_rec = np.zeros((n_h, n_h, 1), np.int64)
    for i in range(len(sizes) - 1):
        w_rec[starts[i] : starts[i + 1], starts[i + 1] : starts[i + 2]] = 1
    w_out = np.zeros((n_h, n_classes), np.int64)
    w_out[starts[-2] :] = 1
    zh, zo = np.zeros(n_h, np.int64), np.zeros(n_classes, np.int64)
    return XyloSpec(chip=chip, weights_in=w_in, weights_rec=w_rec, weights_out=w_out, dash_mem=zh, dash_syn=zh,
                    dash_syn_2=zh, dash_mem_out=zo, dash_syn_out=zo, threshold=zh + 1, threshold_out=zo + 1,
                    bias=zh, bias_out=zo, dt=dt)  # fmt: skip


def check_fits_chip(sizes: Sequence[int], n_channels: int, n_classes: int, chip: str, dt: float) -> None:
    """Raise a one-line `ConfigError` listing every design rule the trained network would break on ``chip``."""
    from xylodeploy.drc import check

    target = get_chip(chip)
    what = f"model {list(sizes)} hidden, {n_channels} channels, {n_classes} classes"
    if n_classes < 1:
        raise ConfigError(f"{what}: needs at least one readout neuron")
    if sum(sizes) > target.max_hidden:  # cheap: do not build a huge spec just to count
        raise ConfigError(f"{what}: {sum(sizes)} hidden neurons > {target.title}'s {target.max_hidden}; "
                          "nothing was trained")  # fmt: skip
    violations = check(shape_spec(sizes, n_channels, n_classes, target.name, dt), target)
    if violations:
        lines = "; ".join(str(v) for v in violations)
        raise ConfigError(f"{what} cannot fit {target.title} ({lines}); nothing was trained")
