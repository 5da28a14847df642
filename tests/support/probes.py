"""The one table of probes: tiny specs whose every recorded value was measured on xylosim.v2.

Each `Probe` is a configuration of the probe layer (one input channel, 1-3 hidden neurons with two
synapses, one readout neuron on xylo-audio2), a raster and the values xylosim recorded.
docs/chip-arithmetic.md explains what each probe established. ``expect`` maps a recorded field
to its values per step: a list of ints is hidden/readout neuron 0, a list of lists is every neuron.
``chip_profile`` is False for probes that go beyond what the chip accepts (weight shift > 7) and
so run only on engines of the arithmetic profile.

    from tests.support.probes import PROBES, probe_spec
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xylodeploy.ir.xylospec import XyloSpec, empty_spec


def probe_spec(
    n_in: int = 1,
    n_hid: int = 1,
    w_in: Any = ((0, 0, 0, 10),),
    ws_in: int = 0,
    th: Any = 100,
    th_out: int = 100,
    dm: int = 1,
    ds: int = 1,
    ds2: int = 1,
    bias: int = 0,
    rec: Any = (),
    aliases: Any = None,
    w_out: int = 10,
) -> XyloSpec:
    """The probe layer: ``w_in`` entries are (channel, neuron, synapse, weight), ``rec`` (source, target, weight)."""
    weights_in = np.zeros((n_in, n_hid, 2), np.int64)
    for c, h, s, w in w_in:
        weights_in[c, h, s] = w
    weights_rec = np.zeros((n_hid, n_hid, 2), np.int64)
    for src, tgt, w in rec:
        weights_rec[src, tgt, 0] = w
    weights_out = np.zeros((n_hid, 1), np.int64)
    weights_out[0, 0] = w_out
    ones = np.ones(n_hid, np.int64)
    return empty_spec(
        "xylo-audio2", n_in, n_hid, 1, 2,
        weights_in=weights_in, weights_rec=weights_rec, weights_out=weights_out,
        threshold=np.broadcast_to(th, (n_hid,)), threshold_out=[th_out],
        dash_mem=dm * ones, dash_syn=ds * ones, dash_syn_2=ds2 * ones, bias=bias * ones,
        weight_shift_in=ws_in, aliases=aliases,
    )  # fmt: skip


@dataclass(frozen=True)
class Probe:
    """One probe: ``spec`` arguments (`probe_spec`), input raster (T, Nin) and measured values."""

    name: str
    args: dict[str, Any]
    raster: list[list[int]]
    expect: dict[str, list]
    chip_profile: bool = True
    note: str = field(default="", compare=False)

    @property
    def spec(self) -> XyloSpec:
        return probe_spec(**self.args)

    def actual(self, values: dict[str, np.ndarray]) -> dict[str, list]:
        """The recorded values of one clip ((T, N) arrays) in the shape of ``expect``."""
        out = {}
        for name, want in self.expect.items():
            arr = np.asarray(values[name])
            out[name] = arr.tolist() if want and isinstance(want[0], list) else arr[:, 0].tolist()
        return out


_QUIET = {"ds": 15, "dm": 15, "th": 30000}
_P7 = [(127, 7, 16255), (-128, 7, -16383), (127, 8, 32511), (-128, 8, -32767),
       (127, 9, -511), (64, 9, -32767), (1, 15, -32767), (1, 16, 0)]  # fmt: skip
_ALIAS = dict(n_hid=3, ws_in=4, ds=15, ds2=15, dm=15, th_out=30000, w_out=0)

PROBES: tuple[Probe, ...] = (
    Probe("P1 decay, dash 1", {"w_in": [(0, 0, 0, 100)], "th": 30000}, [[1]] + [[0]] * 5,
          {"isyn": [50, 25, 13, 7, 4, 2], "vmem": [50, 50, 38, 26, 17, 11]}),
    Probe("P2 dash_syn 0 removes the synapse", {"w_in": [(0, 0, 0, 100)], "ds": 0, "th": 30000}, [[1]] + [[0]] * 3,
          {"isyn": [0] * 4, "vmem": [0] * 4}),
    Probe("P3 floor decay with minimum step", {"w_in": [(0, 0, 0, 100)], "ds": 2, "dm": 3, "th": 30000},
          [[1]] + [[0]] * 7,
          {"isyn": [75, 57, 43, 33, 25, 19, 15, 12], "vmem": [75, 123, 151, 166, 171, 169, 163, 155]}),
    Probe("P4 spikes and readout delay", {"w_in": [(0, 0, 0, 100)], "ds": 1, "dm": 15, "th": 10},
          [[1]] + [[0]] * 3,
          {"isyn": [50, 25, 13, 7], "vmem": [0, 5, 7, 3], "spikes": [5, 2, 1, 1], "isyn_out": [0, 25, 23, 17],
           "vmem_out": [0, 25, 36, 35], "spikes_out": [0, 0, 0, 0]}),
    Probe("P5 31 spikes cap, readout counts", {"w_in": [(0, 0, 0, 127)], "ws_in": 4, "ds": 15, "dm": 15, "th": 10},
          [[1], [0], [0]],
          {"isyn": [2031, 2030, 2029], "vmem": [1721, 3440, 5158], "spikes": [31] * 3,
           "isyn_out": [0, 155, 233], "spikes_out": [0, 1, 1]}),
    *(Probe(f"P6 input clamp {n}", {"w_in": [(0, 0, 0, 100)], **_QUIET}, [[n]], {"isyn": [e]})
      for n, e in [(1, 99), (2, 199), (15, 1499), (16, 1499), (255, 1499)]),
    *(Probe(f"P7 shift wraps {w}<<{ws}", {"w_in": [(0, 0, 0, w)], "ws_in": ws, "ds": 15, "dm": 15, "th": 32767},
            [[1]], {"isyn": [e]}, chip_profile=ws <= 7) for w, ws, e in _P7),
    Probe("P8 same-sign saturation, vmem saturation fires",
          {"w_in": [(0, 0, 0, 127)], "ws_in": 8, "ds": 15, "dm": 15, "th": 32767}, [[3], [0], [0]],
          {"isyn": [32766, 32765, 32764], "vmem": [32766, 0, 32764], "spikes": [0, 1, 0]}, chip_profile=False),
    Probe("P9 negative saturation", {"w_in": [(0, 0, 0, -128)], "ws_in": 8, "ds": 15, "dm": 15, "th": 32767},
          [[3], [0], [0]], {"isyn": [-32767, -32766, -32765], "vmem": [-32767, -32768, -32768]},
          chip_profile=False),
    Probe("P10 bias after decay", {"w_in": [(0, 0, 0, 0)], "bias": 7, **_QUIET}, [[0]] * 4, {"vmem": [7, 13, 19, 25]}),
    Probe("P11 no bias", {"w_in": [(0, 0, 0, 0)], **_QUIET}, [[0]] * 4, {"vmem": [0, 0, 0, 0]}),
    Probe("P12 negative bias decays", {"w_in": [(0, 0, 0, 0)], "ds": 15, "dm": 1, "th": 30000, "bias": -100},
          [[0]] * 5, {"vmem": [-100, -150, -175, -187, -193]}),
    Probe("P13 threshold 0 fires the cap", {"w_in": [(0, 0, 0, 0)], "ds": 15, "dm": 15, "th": 0, "th_out": 0},
          [[0]] * 3, {"vmem": [0] * 3, "spikes": [31] * 3, "spikes_out": [1] * 3}),
    Probe("P14 negative decay", {"w_in": [(0, 0, 0, -100)], "ds": 1, "dm": 1, "th": 30000}, [[1]] + [[0]] * 8,
          {"isyn": [-50, -25, -12, -6, -3, -1, 0, 0, 0], "vmem": [-50, -50, -37, -24, -15, -8, -4, -2, -1]}),
    Probe("P15 recurrent one-step delay",
          {"n_hid": 2, "w_in": [(0, 0, 0, 127)], "ws_in": 4, "ds": 15, "dm": 15, "th": 2000, "rec": [(0, 1, 50)]},
          [[1], [0], [0]], {"spikes": [[1, 0]] * 3, "isyn": [[2031, 0], [2030, 49], [2029, 98]]}),
    Probe("P16 synapse 2", {"w_in": [(0, 0, 1, 100)], "ds": 15, "ds2": 1, "dm": 15, "th": 30000}, [[1], [0], [0]],
          {"isyn": [0, 0, 0], "isyn2": [50, 25, 13], "vmem": [50, 74, 86]}),
    Probe("P17 alias to a higher index",
          {**_ALIAS, "w_in": [(0, 0, 0, 127)], "th": np.array([500, 30000, 30000]), "rec": [(1, 2, 50)],
           "aliases": [[1], [], []]}, [[1], [0], [0]],
          {"spikes": [[4, 4, 0]] * 3, "isyn": [[2031, 0, 0], [2030, 0, 199], [2029, 0, 398]]}),
    Probe("P18 alias to a lower index",
          {**_ALIAS, "w_in": [(0, 2, 0, 127)], "th": np.array([30000, 30000, 500]), "rec": [(0, 1, 50)],
           "aliases": [[], [], [0]]}, [[1], [0], [0]],
          {"spikes": [[4, 0, 4]] * 3, "isyn": [[0, 0, 2031], [0, 199, 2030], [0, 398, 2029]]}),
    Probe("P19 per-event saturation, order dependent",
          {"n_in": 2, "w_in": [(0, 0, 0, 127), (1, 0, 0, -128)], "ws_in": 8, "ds": 15, "dm": 15, "th": 32767,
           "th_out": 32767, "w_out": 1}, [[2, 1]], {"isyn": [0]}, chip_profile=False),
    Probe("P19 reversed order",
          {"n_in": 2, "w_in": [(0, 0, 0, 127), (1, 0, 0, -128)], "ws_in": 8, "ds": 15, "dm": 15, "th": 32767,
           "th_out": 32767, "w_out": 1}, [[1, 2]], {"isyn": [-32767]}, chip_profile=False),
    Probe("P20 synapse sum saturates before the bias",
          {"n_in": 2, "w_in": [(0, 0, 0, 127), (1, 0, 1, 64)], "ws_in": 8, "ds": 15, "ds2": 15, "dm": 15,
           "th": 32767, "th_out": 32767, "bias": -10000, "w_out": 1}, [[1, 1], [0, 0]],
          {"vmem": [22767, 0], "spikes": [0, 1]}, chip_profile=False),
    # the same effects at the chip's largest weight shift 7 (values derived by hand from the rules;
    # the conformance suite checks them on xylosim like every probe)
    Probe("P8c same-sign saturation at shift 7",
          {"w_in": [(0, 0, 0, 127)], "ws_in": 7, "ds": 15, "dm": 15, "th": 32767}, [[3], [0], [0]],
          {"isyn": [32766, 32765, 32764], "vmem": [32766, 0, 32764], "spikes": [0, 1, 0]}),
    Probe("P9c negative saturation at shift 7",
          {"w_in": [(0, 0, 0, -128)], "ws_in": 7, "ds": 15, "dm": 15, "th": 32767}, [[3], [0], [0]],
          {"isyn": [-32767, -32766, -32765], "vmem": [-32767, -32768, -32768]}),
    Probe("P19c per-event saturation at shift 7, + first",
          {"n_in": 2, "w_in": [(0, 0, 0, 127), (1, 0, 0, -128)], "ws_in": 7, "ds": 15, "dm": 15, "th": 32767},
          [[4, 2]], {"isyn": [0]}),
    Probe("P19c per-event saturation at shift 7, - first",
          {"n_in": 2, "w_in": [(0, 0, 0, -128), (1, 0, 0, 127)], "ws_in": 7, "ds": 15, "dm": 15, "th": 32767},
          [[2, 4]], {"isyn": [32255]}),
    Probe("P20c synapse sum saturates before the bias at shift 7",
          {"n_in": 2, "w_in": [(0, 0, 0, 127), (1, 0, 1, 127)], "ws_in": 7, "ds": 15, "ds2": 15, "dm": 15,
           "th": 32767, "bias": -100}, [[2, 2], [0, 0]],
          {"isyn": [32511, 32510], "isyn2": [32511, 32510], "vmem": [32667, 0], "spikes": [0, 1]}),
    Probe("W1 negated membrane decrement wraps at -32768 (dash_mem 0)",
          {"w_in": ((0, 0, 0, -128), (0, 0, 1, -128)), "ws_in": 7, "ds": 1, "ds2": 1, "dm": 0, "th": 32767,
           "th_out": 32767, "w_out": 1}, [[15], [0], [0], [0]],
          {"vmem": [-32768] * 4, "isyn": [-16384, -8192, -4096, -2048]}),
)  # fmt: skip
PROBES_BY_NAME: dict[str, Probe] = {p.name: p for p in PROBES}
