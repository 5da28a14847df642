"""Batch-vectorised variant of the reference kernel: the arithmetic of `xylodeploy.arith.scalar_model`
(read its docstring for the equations) with ``LANES`` clips side by side in the last array axis, so that
LLVM turns every per-neuron update and every fan-out entry into a few int32 AVX2 instructions.

Event delivery stays event-driven per source (a channel or hidden source with no event in any lane
is skipped) and a neuron whose lanes are all idle (``idle_ok``, zero state, no alias count) is
skipped. Lane groups of a batch are spread over threads by the caller. Intermediates are cast back to int32 after
every operation (numba widens int32 arithmetic to int64, which would stop vectorisation); all
values stay far inside int32 (|n * w| <= 31 * 2**15). Bit-exact with ``_ref_kernel`` and xylosim.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from xylodeploy.arith.primitives import dec_i32, neg_dec_i32, sat, sat_i32
from xylodeploy.arith.primitives import fire as _fire
from xylodeploy.backends._ref_kernel import CAP_H, CAP_O, HI, LO, MAX_IN

LANES = 32  # clips per group (read from the array shape); LLVM's int32 AVX2 loop body does 8 x 4
SPARSE_RATIO = 8  # deliver lane by lane when at most 1/SPARSE_RATIO of the lanes have events
SHIFT_MASK = 31  # int32 shift width; dashes are <= 15 after check_spec, so masking changes nothing

i32 = np.int32


@njit(cache=True, nogil=True, inline="always")
def _deliver(n, k, ptr, slot, w, src, state, lo, hi) -> None:  # noqa: ANN001
    """state[slot] = sat(state[slot] + n[k] * w) for every fan-out entry of ``src``, all lanes.

    Few active lanes (n[k] > 0) are served one by one (sparse); otherwise all lanes at once (SIMD).
    """
    n_l = state.shape[1]
    active = 0
    for lane in range(n_l):
        active += n[k, lane] > 0
    if active * SPARSE_RATIO <= n_l:
        for lane in range(n_l):
            m = n[k, lane]
            if m > 0:
                for e in range(ptr[src], ptr[src + 1]):
                    j = slot[e]
                    state[j, lane] = sat(state[j, lane] + m * w[e], lo, hi)
        return
    for e in range(ptr[src], ptr[src + 1]):
        j = slot[e]
        we = w[e]
        for lane in range(n_l):
            state[j, lane] = sat_i32(i32(state[j, lane] + i32(n[k, lane] * we)), lo, hi)


@njit(cache=True, nogil=True, inline="always")
def _decay(state, j, d) -> None:  # noqa: ANN001
    """state[j] -= dec(state[j], d) (`xylodeploy.arith.primitives`)."""
    for lane in range(state.shape[1]):
        x = state[j, lane]
        state[j, lane] = i32(x - dec_i32(x, d))


@njit(cache=True, nogil=True, inline="always")
def _integrate(total, vmem, j, d, bias, lo, hi, width) -> int:  # noqa: ANN001
    """vmem[j] = sat(vmem + sat(sat(total + wrap(-dec(vmem, d))) + bias)); returns the max new vmem."""
    top = lo
    for lane in range(vmem.shape[1]):
        v = vmem[j, lane]
        a = sat_i32(i32(total[lane] + neg_dec_i32(v, d, hi, width)), lo, hi)
        a = sat_i32(i32(a + bias), lo, hi)
        v = sat_i32(i32(v + a), lo, hi)
        vmem[j, lane] = v
        top = i32(max(top, v))
    return top


@njit(cache=True, nogil=True)
def _group(g, x, tables, record, outs):  # noqa: ANN001
    (n_syn, in_ptr, in_slot, in_w, rec_ptr, rec_slot, rec_w, out_ptr, out_slot, out_w, dash_syn, dash_mem, th, bias,
     idle_ok, alias_ptr, alias_tgt, dso, dmo, tho, bo, limits) = tables  # fmt: skip
    spikes_out, r_spk, r_isyn, r_isyn2, r_vmem, r_isyn_out, r_vmem_out = outs
    lo, hi = i32(limits[LO]), i32(limits[HI])
    width = i32(limits[HI] - limits[LO] + 1)
    max_in, cap_h, cap_o = i32(limits[MAX_IN]), i32(limits[CAP_H]), i32(limits[CAP_O])
    n_t, n_in = x.shape[1], x.shape[2]
    n_h, n_o = dash_mem.shape[0], dmo.shape[0]
    mask = i32(SHIFT_MASK)
    n_l = x.shape[3]
    isyn = np.zeros((n_h * n_syn, n_l), i32)
    vmem = np.zeros((n_h, n_l), i32)
    spk = np.zeros((n_h, n_l), i32)
    isyn_o = np.zeros((n_o, n_l), i32)
    vmem_o = np.zeros((n_o, n_l), i32)
    cnt = np.zeros((1, n_l), i32)
    total = np.zeros(n_l, i32)
    for t in range(n_t):
        for c in range(n_in):
            some = i32(0)
            for lane in range(n_l):
                cnt[0, lane] = i32(min(i32(x[g, t, c, lane]), max_in))
                some = i32(some | cnt[0, lane])
            if some != 0:
                _deliver(cnt, 0, in_ptr, in_slot, in_w, c, isyn, lo, hi)
        for s in range(n_h):
            some = i32(0)
            for lane in range(n_l):
                some = i32(some | spk[s, lane])
            if some != 0:
                _deliver(spk, s, rec_ptr, rec_slot, rec_w, s, isyn, lo, hi)
                _deliver(spk, s, out_ptr, out_slot, out_w, s, isyn_o, lo, hi)
                for lane in range(n_l):
                    spk[s, lane] = 0
        for h in range(n_h):
            js = h * n_syn
            if idle_ok[h]:
                acc = i32(0)
                for lane in range(n_l):
                    acc = i32(acc | i32(i32(spk[h, lane] | vmem[h, lane]) | isyn[js, lane]))
                if n_syn == 2:
                    for lane in range(n_l):
                        acc = i32(acc | isyn[js + 1, lane])
                if acc == 0:
                    continue
            _decay(isyn, js, i32(dash_syn[h, 0] & mask))
            if n_syn == 2:
                _decay(isyn, js + 1, i32(dash_syn[h, 1] & mask))
                for lane in range(n_l):
                    total[lane] = i32(isyn[js, lane] + isyn[js + 1, lane])
            else:
                for lane in range(n_l):
                    total[lane] = isyn[js, lane]
            thr = th[h]
            if _integrate(total, vmem, h, i32(dash_mem[h] & mask), bias[h], lo, hi, width) >= thr:
                for lane in range(n_l):
                    if vmem[h, lane] >= thr and spk[h, lane] < cap_h:
                        vmem[h, lane], spk[h, lane] = _fire(vmem[h, lane], thr, spk[h, lane], cap_h, lo, hi)
            for e in range(alias_ptr[h], alias_ptr[h + 1]):
                a = alias_tgt[e]
                for lane in range(n_l):
                    spk[a, lane] = i32(min(i32(spk[a, lane] + spk[h, lane]), cap_h))
        for o in range(n_o):
            _decay(isyn_o, o, i32(dso[o] & mask))
            for lane in range(n_l):
                total[lane] = isyn_o[o, lane]
            thr = tho[o]
            if _integrate(total, vmem_o, o, i32(dmo[o] & mask), bo[o], lo, hi, width) >= thr:
                for lane in range(n_l):
                    if vmem_o[o, lane] >= thr:
                        vmem_o[o, lane], spikes_out[g, t, o, lane] = _fire(vmem_o[o, lane], thr, 0, cap_o, lo, hi)
        if record:
            for h in range(n_h):
                for lane in range(n_l):
                    r_spk[g, t, h, lane] = spk[h, lane]
                    r_isyn[g, t, h, lane] = isyn[h * n_syn, lane]
                    r_vmem[g, t, h, lane] = vmem[h, lane]
                if n_syn > 1:
                    for lane in range(n_l):
                        r_isyn2[g, t, h, lane] = isyn[h * n_syn + 1, lane]
            for o in range(n_o):
                for lane in range(n_l):
                    r_isyn_out[g, t, o, lane] = isyn_o[o, lane]
                    r_vmem_out[g, t, o, lane] = vmem_o[o, lane]


@njit(cache=True, nogil=True)
def run_groups(start, stop, step, x, tables, record, outs):  # noqa: ANN001, ANN201
    """Run lane groups ``x`` (G, T, Nin, LANES) from reset with ``tables`` (`KernelTables`); outputs
    (`Outputs`) are (G, T, N, LANES) arrays."""
    for g in range(start, stop, step):
        _group(g, x, tables, record, outs)
