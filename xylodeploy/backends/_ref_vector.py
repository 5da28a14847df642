"""Per-clip reference kernel vectorised over neurons: the exact Xylo core update of
`xylodeploy.arith.scalar_model` (read its docstring for the equations), one clip at a time, with
LLVM's SIMD across neurons.

Layout: all state is int32, synapse-major (``isyn[s * Nh + h]``; a one-synapse spec gets an
all-zero second synapse, which decays 0 -> 0 and never receives an event, so it changes nothing).
Per time step:

1. input: for channel ``c`` ascending with ``n = x[t, c] > 0``, one dense pass over the columns
   of ``c`` that hold a non-zero weight: ``isyn[j] = sat16(isyn[j] + n * w_in[c, j])``. This is
   the same sequence of saturating adds as event-by-event delivery, because (a) each state ``j``
   still sees the channels in ascending order (vectorising over ``j`` only reorders adds to
   *different* states) and (b) the ``n`` events of one channel share one sign, so ``n`` saturating
   adds of ``w`` equal one saturating add of ``n * w``.
2. recurrent / readout: fan-out lists (CSR) of the sources that spiked in step ``t - 1``, taken
   from an ascending list of spiking neurons (recorded while firing) instead of a scan.

   Fast path (steps 1-2): every hidden state ``j`` starts the step at ``|isyn[j]| <= top`` (max
   after the previous decay) and receives adds whose magnitudes sum to at most
   ``bound = top + sum_c n_c * max_j |w_in[c, j]| + sum_src spk_src * max_e |w_rec[src, e]|``.
   If ``bound <= 32767`` no partial sum can leave [-32767, 32767], so saturating adds equal plain
   adds: the step runs the plain loops (the scatter loop gets ~2x faster). Otherwise every add
   saturates, in order. Readout deliveries (few) always saturate.
3. membrane update for all neurons at once (no dependence on spike counts; vectorised).
4. firing in ascending neuron order, scalar: ``k`` starts at the alias count received so far,
   ``while k < cap and vmem >= th: vmem = wrap16(vmem - th)``; alias targets get
   ``min(spk + k, cap)``; every neuron whose count becomes > 0 is added to the spiking list
   (which is sorted when an alias made a lower-index neuron spike after the fact).
5. readout neurons, scalar (few).

Intermediates are cast back to int32 (numba widens int32 arithmetic to int64, which would stop
vectorisation); values stay far inside int32 (|n * w| <= 31 * 2**15, |isyn_0 + isyn_1| <= 2**16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from xylodeploy.arith.primitives import dec, dec_i32, fire, neg_dec, neg_dec_i32, sat, sat_i32
from xylodeploy.backends._ref_kernel import CAP_H, CAP_O, HI, LO, MAX_IN
from xylodeploy.backends._ref_params import KernelParams

i32 = np.int32
u64 = np.uint64
SHIFT_MASK = 31  # int32 shift width; dashes are <= 15 after check_spec, so masking changes nothing


@dataclass(frozen=True)
class VectorTables:
    """Synapse-major tables for `run_clips` derived from `KernelParams`."""

    w_in: np.ndarray  # (Nin, 2 * Nh) int32 dense effective input weights, column s * Nh + h
    span: np.ndarray  # (Nin, 2, 2) int64: columns [span[c, s, 0], span[c, s, 1]) of synapse s hold c's weights
    rec_slot: np.ndarray  # (nnz_rec,) uint32 synapse-major target state of each recurrent CSR entry
    out_slot: np.ndarray  # (nnz_out,) uint32 readout CSR targets
    dash_syn: np.ndarray  # (2, Nh) int32 (0 for the absent second synapse)
    wmax_in: np.ndarray  # (Nin,) int32: max |effective input weight| of each channel
    wmax_rec: np.ndarray  # (Nh,) int32: max |effective recurrent weight| of each source's fan-out


class VectorArgs(NamedTuple):
    """The network arguments of `run_clips` (one compiled type)."""

    w_in: np.ndarray
    span: np.ndarray
    wmax_in: np.ndarray
    rec_ptr: np.ndarray
    rec_slot: np.ndarray
    rec_w: np.ndarray
    wmax_rec: np.ndarray
    out_ptr: np.ndarray
    out_slot: np.ndarray
    out_w: np.ndarray
    ds: np.ndarray
    dm: np.ndarray
    th: np.ndarray
    bias: np.ndarray
    alias_ptr: np.ndarray
    alias_tgt: np.ndarray
    dso: np.ndarray
    dmo: np.ndarray
    tho: np.ndarray
    bo: np.ndarray
    limits: np.ndarray
    n_syn: int


def vector_args(p: KernelParams, v: VectorTables) -> VectorArgs:
    """The arguments of `run_clips` for ``p`` and its synapse-major tables ``v``."""
    return VectorArgs(
        v.w_in, v.span, v.wmax_in, p.rec.ptr, v.rec_slot, p.rec.weight, v.wmax_rec, p.out.ptr, v.out_slot,
        p.out.weight, v.dash_syn, p.dash_mem, p.threshold, p.bias, p.alias_ptr, p.alias_tgt, p.dash_syn_out,
        p.dash_mem_out, p.threshold_out, p.bias_out, p.limits, p.n_syn,
    )  # fmt: skip


def build_tables(p: KernelParams) -> VectorTables:
    """Re-index ``p``'s fan-out tables (slot ``h * Nsyn + s``) to the synapse-major layout."""
    n_h = p.dash_mem.shape[0]
    n_in = p.inp.ptr.shape[0] - 1

    def remap(slot: np.ndarray) -> np.ndarray:
        return ((slot % p.n_syn) * n_h + slot // p.n_syn).astype(np.uint32)

    w_in = np.zeros((n_in, 2 * n_h), np.int32)
    span = np.zeros((n_in, 2, 2), np.int64)
    for c in range(n_in):
        cols = remap(p.inp.slot[p.inp.ptr[c] : p.inp.ptr[c + 1]])
        w_in[c, cols] = p.inp.weight[p.inp.ptr[c] : p.inp.ptr[c + 1]]
        for s in range(2):
            mine = cols[(cols >= s * n_h) & (cols < (s + 1) * n_h)]
            if mine.size:
                span[c, s] = mine.min(), mine.max() + 1
    dash = np.zeros((2, n_h), np.int32)
    dash[: p.n_syn] = p.dash_syn.T
    wmax_rec = np.zeros(n_h, np.int32)
    src = np.repeat(np.arange(n_h), np.diff(p.rec.ptr))
    np.maximum.at(wmax_rec, src, np.abs(p.rec.weight))
    wmax_in = np.abs(w_in).max(axis=1, initial=0).astype(np.int32)
    return VectorTables(w_in, span, remap(p.rec.slot), p.out.slot.astype(np.uint32), dash, wmax_in, wmax_rec)


@njit(cache=True, nogil=True, inline="always")
def _deliver(act, n_act, spk, ptr, slot, w, state, lo, hi, sat) -> None:  # noqa: ANN001
    """state[slot] += spk[src] * w over the fan-out of every source ``act[:n_act]`` (in order),
    saturating each add if ``sat``.

    Entries are indexed with an unsigned integer: numba then skips its negative-index check,
    which halves the cost of this scatter loop (``slot`` is unsigned for the same reason). The
    two variants are separate loops: a branch inside the scatter loop costs another ~25%.
    """
    if sat:
        for a in range(n_act):
            n = spk[act[a]]
            for e in range(ptr[act[a]], ptr[act[a] + 1]):
                u = u64(e)
                j = slot[u]
                state[j] = sat_i32(i32(state[j] + i32(n * w[u])), lo, hi)
    else:
        for a in range(n_act):
            n = spk[act[a]]
            for e in range(ptr[act[a]], ptr[act[a] + 1]):
                u = u64(e)
                j = slot[u]
                state[j] = i32(state[j] + i32(n * w[u]))


@njit(cache=True, nogil=True, inline="always")
def _input(n, row, state, lo, hi, sat) -> None:  # noqa: ANN001
    """state[j] += n * row[j] for all j, saturating if ``sat`` (SIMD; views of equal length)."""
    if sat:
        for j in range(state.shape[0]):
            state[j] = sat_i32(i32(state[j] + i32(n * row[j])), lo, hi)
    else:
        for j in range(state.shape[0]):
            state[j] = i32(state[j] + i32(n * row[j]))


@njit(cache=True, nogil=True, inline="always")
def _decay(x, d) -> int:  # noqa: ANN001
    """x - dec(x, d) (`xylodeploy.arith.primitives`)."""
    return i32(x - dec_i32(x, i32(d & SHIFT_MASK)))


@njit(cache=True, nogil=True, inline="always")
def _membrane(i0, i1, vmem, ds0, ds1, dm, bias, th, flag, lo, hi, width) -> int:  # noqa: ANN001
    """Decay both synapses, integrate their sum, the negated (int16-wrapped) decrement and the bias;
    ``flag[h] = vmem[h] >= th[h]`` marks the neurons that may spike (SIMD over neurons).
    Returns max |isyn| after the decay."""
    top = i32(0)
    for h in range(vmem.shape[0]):
        x0 = _decay(i0[h], ds0[h])
        x1 = _decay(i1[h], ds1[h])
        i0[h] = x0
        i1[h] = x1
        top = max(top, i32(max(abs(x0), abs(x1))))
        v = vmem[h]
        nq = neg_dec_i32(v, i32(dm[h] & SHIFT_MASK), hi, width)
        a = sat_i32(i32(i32(x0 + x1) + nq), lo, hi)
        a = sat_i32(i32(a + bias[h]), lo, hi)
        v = sat_i32(i32(v + a), lo, hi)
        vmem[h] = v
        flag[h] = v >= th[h]
    return top


@njit(cache=True, nogil=True, inline="always")
def _fire_all(vmem, spk, th, flag, words, alias_ptr, alias_tgt, act, cap, lo, hi) -> int:  # noqa: ANN001
    """Spike loops in ascending order with aliasing; fills ``act`` (ascending) and returns its length.

    Only flagged neurons are visited (``words`` is ``flag`` read 8 bytes at a time): an unflagged
    neuron has vmem < th and no alias count, so it neither spikes nor changes. A neuron that gets
    an alias count from a lower-index one is flagged on the spot.
    """
    n_act = 0
    unsorted = False
    for w in range(words.shape[0]):
        if words[w] == 0:
            continue
        for h in range(8 * w, 8 * w + 8):
            if not flag[h]:
                continue
            k = spk[h]
            if k < cap and vmem[h] >= th[h]:
                v, k = fire(vmem[h], th[h], k, cap, lo, hi)
                vmem[h] = v
                spk[h] = k
            if k > 0:
                act[n_act] = h
                n_act += 1
                for e in range(alias_ptr[h], alias_ptr[h + 1]):
                    g = alias_tgt[e]
                    old = spk[g]
                    spk[g] = min(old + k, cap)
                    flag[g] = True
                    if g < h and old == 0:
                        act[n_act] = g
                        n_act += 1
                        unsorted = True
    if unsorted:
        act[:n_act].sort()
    return n_act


@njit(cache=True, nogil=True, inline="always")
def _readout(isyn_o, vmem_o, dso, dmo, tho, bo, out, cap, lo, hi, width) -> None:  # noqa: ANN001
    """Readout neurons (one synapse, at most ``cap`` spikes), scalar: there are few."""
    for o in range(vmem_o.shape[0]):
        i = isyn_o[o]
        i -= dec(i, dso[o])
        isyn_o[o] = i
        v = vmem_o[o]
        a = sat(sat(i + neg_dec(v, dmo[o], lo, hi), lo, hi) + bo[o], lo, hi)
        v, k = fire(sat(v + a, lo, hi), tho[o], 0, cap, lo, hi)
        vmem_o[o] = v
        out[o] = k


@njit(cache=True, nogil=True)
def _clip(b, x, args, record, outs):  # noqa: ANN001
    (w_in, span, wmax_in, rec_ptr, rec_slot, rec_w, wmax_rec, out_ptr, out_slot, out_w, ds, dm, th, bias, alias_ptr,
     alias_tgt, dso, dmo, tho, bo, limits, n_syn) = args  # fmt: skip
    spikes_out, r_spk, r_isyn, r_isyn2, r_vmem, r_isyn_out, r_vmem_out = outs
    lo, hi = i32(limits[LO]), i32(limits[HI])
    width = i32(limits[HI] - limits[LO] + 1)
    safe = min(limits[HI], -limits[LO])  # |partial sums| <= safe cannot saturate
    max_in, cap_h, cap_o = i32(limits[MAX_IN]), i32(limits[CAP_H]), i32(limits[CAP_O])
    n_t, n_in = x.shape[1], x.shape[2]
    n_h = dm.shape[0]
    isyn = np.zeros(2 * n_h, i32)  # synapse-major: isyn[s * n_h + h]
    i0, i1 = isyn[:n_h], isyn[n_h:]
    vmem = np.zeros(n_h, i32)
    flag = np.zeros(-(-n_h // 8) * 8, np.bool_)  # padding stays False
    words = flag.view(np.uint64)
    spk = np.zeros(n_h, i32)
    act = np.zeros(n_h, np.int64)  # neurons that spiked in the previous step, ascending
    n_act = 0
    top = 0  # max |isyn| after the previous step's decay
    cnt = np.zeros(n_in, i32)
    isyn_o = np.zeros(dmo.shape[0], i32)
    vmem_o = np.zeros(dmo.shape[0], i32)
    for t in range(n_t):
        # bound on sum |delivered| per state: no saturation possible if top + bound <= safe
        bound = top
        for c in range(n_in):
            cnt[c] = i32(min(i32(x[b, t, c]), max_in))
            bound += cnt[c] * wmax_in[c]
        for a in range(n_act):
            bound += spk[act[a]] * wmax_rec[act[a]]
        sat = bound > safe
        for c in range(n_in):
            if cnt[c] > 0:
                for s in range(2):
                    j0, j1 = span[c, s, 0], span[c, s, 1]
                    _input(cnt[c], w_in[c, j0:j1], isyn[j0:j1], lo, hi, sat)
        _deliver(act, n_act, spk, rec_ptr, rec_slot, rec_w, isyn, lo, hi, sat)
        _deliver(act, n_act, spk, out_ptr, out_slot, out_w, isyn_o, lo, hi, True)
        for a in range(n_act):
            spk[act[a]] = 0
        top = _membrane(i0, i1, vmem, ds[0], ds[1], dm, bias, th, flag, lo, hi, width)
        n_act = _fire_all(vmem, spk, th, flag, words, alias_ptr, alias_tgt, act, cap_h, lo, hi)
        _readout(isyn_o, vmem_o, dso, dmo, tho, bo, spikes_out[b, t], cap_o, lo, hi, width)
        if record:
            r_spk[b, t] = spk
            r_isyn[b, t] = i0
            r_vmem[b, t] = vmem
            if n_syn > 1:
                r_isyn2[b, t] = i1
            r_isyn_out[b, t] = isyn_o
            r_vmem_out[b, t] = vmem_o


@njit(cache=True, nogil=True)
def run_clips(start, stop, step, x, args, record, outs):  # noqa: ANN001, ANN201
    """Run clips ``start:stop:step`` of ``x`` (B, T, Nin) from reset with ``args`` (`VectorArgs`); outputs
    (`Outputs`) are (B, T, N) arrays."""
    for b in range(start, stop, step):
        _clip(b, x, args, record, outs)
