"""Random specs that fit each chip (for the samna driver tests)."""

from __future__ import annotations

import numpy as np

from xylodeploy.chips import get_chip
from xylodeploy.ir.xylospec import XyloSpec, empty_spec


def random_spec(chip_name: str, seed: int = 0, n_in: int = 4, n_h: int = 20, n_out: int = 3) -> XyloSpec:
    """Every parameter non-trivial: weights (both synapses where the chip has two), shifts, biases,
    dashes, thresholds, an alias to neuron 0; IEN/OEN layout respected."""
    rng = np.random.default_rng(seed)
    chip = get_chip(chip_name)
    n_syn = chip.max_synapses
    ien, oen = chip.input_projection.allowed(n_h), chip.output_projection.allowed(n_h)
    w_in = np.zeros((n_in, n_h, n_syn), np.int64)
    w_in[:, ien.start : ien.stop] = rng.integers(-60, 100, (n_in, len(ien), n_syn))
    w_out = np.zeros((n_h, n_out), np.int64)
    w_out[oen.start : oen.stop] = rng.integers(-50, 100, (len(oen), n_out))
    w_rec = rng.integers(-40, 40, (n_h, n_h, n_syn)) * (rng.random((n_h, n_h, n_syn)) < 0.2)
    aliases = [()] * n_h
    aliases[n_h - 1] = (0,)
    return empty_spec(
        chip.name, n_in, n_h, n_out, n_syn,
        weights_in=w_in, weights_rec=w_rec, weights_out=w_out,
        threshold=rng.integers(50, 300, n_h), threshold_out=rng.integers(50, 300, n_out),
        bias=rng.integers(-3, 4, n_h), bias_out=rng.integers(-2, 3, n_out),
        dash_syn=rng.integers(0, 6, n_h), dash_syn_2=rng.integers(0, 6, n_h) if n_syn == 2 else np.zeros(n_h),
        dash_mem=rng.integers(1, 6, n_h), dash_syn_out=rng.integers(1, 6, n_out),
        dash_mem_out=rng.integers(1, 6, n_out),
        weight_shift_in=1, weight_shift_rec=2, weight_shift_out=3, aliases=aliases, dt=0.001,
    )  # fmt: skip
