"""The normative scalar model of the Xylo core: THE definition of one time step, in plain Python.

Every engine (reference kernels, exact torch net, integer ONNX graph, xylosim, the chip) must
reproduce `run` on every recorded quantity; tests/conformance checks that. It is slow on purpose:
one event, one neuron, one spike at a time, over Python ints, calling the rules in
`xylodeploy.arith.primitives` (their pure-Python bodies). docs/chip-arithmetic.md explains the
rules with the xylosim findings that established them; other code points here instead of
restating them.

Notation: ``lo, hi = -32768, 32767`` (the int16 state range); ``sat(x) = min(hi, max(lo, x))``;
``wrap(x)`` is the int16 two's-complement wrap; ``x >> d`` is the arithmetic (floor) shift;
``dec(x, d) = x >> d``, but 1 when that is 0 and ``x > 0``. Effective weights are
``wrap(w << shift)`` with the shift of the weight's matrix (in, rec, out). State per hidden
neuron ``h``: ``isyn[h][s]`` (s = 0, and s = 1 for two-synapse specs: "synapse 2"), ``vmem[h]``,
the spike count ``spk[h]`` of the previous step; per readout neuron ``o``: ``isyn_o[o]``,
``vmem_o[o]``. All state is zero at reset. One step with input counts ``x[c]``:

1. Input events. For channel ``c`` ascending, ``n = min(x[c], 15)``; for each non-zero weight
   ``w`` of ``c`` onto ``(h, s)``, in target order: ``n`` times ``isyn[h][s] = sat(isyn[h][s] + w)``
   (saturation after *every* event: the order of channels matters when signs mix).
2. Recurrent events. For hidden source ``src`` ascending with ``n = spk[src]`` (0..31, last step):
   the same with the recurrent weights.
3. Readout events. For ``src`` ascending, ``n = spk[src]``: ``isyn_o[o] = sat(isyn_o[o] + w)``,
   ``n`` times per weight. Hidden-to-hidden and hidden-to-readout hops are thus one step late.
4. Hidden neurons, ``h`` ascending; ``k`` starts at ``spk_new[h]``, the alias count that lower
   neurons have given ``h`` in this step (0 otherwise)::

       isyn[h][s] = isyn[h][s] - dec(isyn[h][s], dash_syn[h][s])    for each synapse s
       S = sum_s isyn[h][s]                                          (wide sum of the decayed currents)
       a = sat(S + wrap(-dec(vmem[h], dash_mem[h])))                 (negated decrement wrapped to int16)
       if has_bias: a = sat(a + bias[h])                             (bias after the saturated sum)
       vmem[h] = sat(vmem[h] + a)
       while k < 31 and vmem[h] >= th[h]: vmem[h] = wrap(vmem[h] - th[h]); k += 1
       spk_new[h] = k
       for each alias target g of h: spk_new[g] = min(spk_new[g] + k, 31)

   The wrap of the negated decrement matters only for ``vmem = -32768`` with ``dash_mem = 0``:
   ``-dec = 32768`` wraps to ``-32768``, so such a membrane stays pinned at ``-32768``. The wrap of
   ``vmem - th`` matters only for negative thresholds (each spike then *adds* ``|th|``; the loop
   stops at the cap); threshold 0 fires the cap every step while ``vmem >= 0``. An alias target
   with a higher index starts its own loop from the received count; one with a lower index has
   already fired and just has the count added.
5. Readout neurons, ``o`` ascending: the same with one synapse, ``k`` from 0 and a cap of 1.
6. ``spk = spk_new``. Recorded after the step: ``spikes = spk`` (alias counts included), ``isyn``,
   ``isyn2`` (after decay), ``vmem`` (after reset), ``isyn_out``, ``vmem_out``, ``spikes_out``.

Each clip of a batch starts from reset. Caps, ranges and the input clamp come from the chip's
`ChipSpec` (all current chips: 15 input events, 31 hidden and 1 readout spikes, int16 state).
"""

from __future__ import annotations

import numpy as np

from xylodeploy.arith.primitives import dec, effective_weights, fire, neg_dec, sat
from xylodeploy.chips import get_chip
from xylodeploy.ir.recording import Recording
from xylodeploy.ir.xylospec import XyloSpec

_dec, _sat, _neg_dec, _fire = dec.py_func, sat.py_func, neg_dec.py_func, fire.py_func


def _fanout(w: np.ndarray, shift: int, lo: int, hi: int) -> list[list[tuple[int, int]]]:
    """Per source: ``(flat target state, effective weight)`` for every non-zero effective weight."""
    eff = effective_weights(np.asarray(w).reshape(w.shape[0], -1), shift, lo, hi)
    return [[(j, e) for j, e in enumerate(row) if e != 0] for row in eff.tolist()]


def _deliver(state: list[int], n: int, fan: list[tuple[int, int]], lo: int, hi: int) -> None:
    for j, w in fan:
        for _ in range(n):
            state[j] = _sat(state[j] + w, lo, hi)


def _neuron(syn: list[int], dashes: list[int], v: int, p: tuple[int, int, int], k: int, cap: int, lim: tuple):
    """Decay the synapses in place; return ``(vmem, count)`` (step 4 of the module docstring)."""
    lo, hi = lim
    dash_mem, bias, th = p
    total = 0
    for s, d in enumerate(dashes):
        syn[s] -= _dec(syn[s], d)
        total += syn[s]
    a = _sat(total + _neg_dec(v, dash_mem, lo, hi), lo, hi)
    a = _sat(a + bias, lo, hi)
    return _fire(_sat(v + a, lo, hi), th, k, cap, lo, hi)


class _Clip:
    """State and tables of one clip; `step` is steps 1-6 of the module docstring."""

    def __init__(self, spec: XyloSpec) -> None:
        chip = get_chip(spec.chip)
        self.lim = (chip.state_range.lo, chip.state_range.hi)
        self.max_in, self.cap_h, self.cap_o = chip.max_input_events, chip.max_hidden_spikes, chip.max_output_spikes
        lo, hi = self.lim
        self.n_h, self.n_o, self.n_s = spec.n_hidden, spec.n_outputs, spec.n_synapses
        self.f_in = _fanout(spec.weights_in, spec.weight_shift_in, lo, hi)
        self.f_rec = _fanout(spec.weights_rec, spec.weight_shift_rec, lo, hi)
        self.f_out = _fanout(spec.weights_out, spec.weight_shift_out, lo, hi)
        bias = spec.bias.tolist() if spec.has_bias else [0] * self.n_h
        bias_o = spec.bias_out.tolist() if spec.has_bias else [0] * self.n_o
        self.p_h = list(zip(spec.dash_mem.tolist(), bias, spec.threshold.tolist(), strict=True))
        self.p_o = list(zip(spec.dash_mem_out.tolist(), bias_o, spec.threshold_out.tolist(), strict=True))
        self.dashes = [[int(spec.dash_syn[h]), int(spec.dash_syn_2[h])][: self.n_s] for h in range(self.n_h)]
        self.dashes_o = [[d] for d in spec.dash_syn_out.tolist()]
        self.aliases = spec.aliases
        self.isyn, self.vmem, self.spk = [0] * (self.n_h * self.n_s), [0] * self.n_h, [0] * self.n_h
        self.isyn_o, self.vmem_o = [0] * self.n_o, [0] * self.n_o

    def step(self, x: list[int]) -> dict[str, list[int]]:
        lo, hi = self.lim
        for c, count in enumerate(x):
            _deliver(self.isyn, min(count, self.max_in), self.f_in[c], lo, hi)
        for src in range(self.n_h):
            _deliver(self.isyn, self.spk[src], self.f_rec[src], lo, hi)
            _deliver(self.isyn_o, self.spk[src], self.f_out[src], lo, hi)
        new, n_s = [0] * self.n_h, self.n_s
        for h in range(self.n_h):
            syn = self.isyn[h * n_s : (h + 1) * n_s]
            self.vmem[h], new[h] = _neuron(syn, self.dashes[h], self.vmem[h], self.p_h[h], new[h], self.cap_h, self.lim)
            self.isyn[h * n_s : (h + 1) * n_s] = syn
            for g in self.aliases[h]:
                new[g] = min(new[g] + new[h], self.cap_h)
        out = [0] * self.n_o
        for o in range(self.n_o):
            syn = [self.isyn_o[o]]
            self.vmem_o[o], out[o] = _neuron(
                syn, self.dashes_o[o], self.vmem_o[o], self.p_o[o], 0, self.cap_o, self.lim
            )
            self.isyn_o[o] = syn[0]
        self.spk = new
        return {
            "spikes_out": out,
            "spikes": list(new),
            "isyn": self.isyn[0::n_s],
            "isyn2": self.isyn[1::n_s] if n_s > 1 else [],
            "vmem": list(self.vmem),
            "isyn_out": list(self.isyn_o),
            "vmem_out": list(self.vmem_o),
        }


_FIELDS = ("spikes_out", "spikes", "isyn", "isyn2", "vmem", "isyn_out", "vmem_out")


def run_clip(spec: XyloSpec, raster: np.ndarray) -> dict[str, np.ndarray]:
    """One clip (T, Nin) from reset; every recorded quantity as a (T, N) int64 array (``isyn2``: (T, 0)
    for one-synapse specs)."""
    core = _Clip(spec)
    steps = [core.step(x) for x in np.asarray(raster, np.int64).tolist()]
    widths = {"spikes_out": core.n_o, "isyn_out": core.n_o, "vmem_out": core.n_o, "isyn2": core.n_h * (core.n_s > 1)}
    return {k: np.array([s[k] for s in steps], np.int64).reshape(len(steps), widths.get(k, core.n_h)) for k in _FIELDS}


def run(spec: XyloSpec, raster: np.ndarray) -> Recording:
    """Every clip of a (B, T, Nin) (or (T, Nin)) raster from reset: a full `Recording` of int64 arrays."""
    x = np.asarray(raster, np.int64)
    x = x[None] if x.ndim == 2 else x
    clips = [run_clip(spec, clip) for clip in x]
    n_h, n_o = spec.n_hidden, spec.n_outputs
    shapes = {"spikes_out": n_o, "isyn_out": n_o, "vmem_out": n_o}
    arrays = {
        k: np.stack([c[k] for c in clips]) if clips else np.zeros((0, x.shape[1], shapes.get(k, n_h)), np.int64)
        for k in _FIELDS
    }
    if spec.n_synapses < 2:
        arrays["isyn2"] = None
    return Recording(**arrays)


__all__ = ["run", "run_clip"]
