"""Numba kernel of the reference simulator: one step of `xylodeploy.arith.scalar_model` (read its docstring
for the equations), one clip at a time, event by event, with the rules of `xylodeploy.arith.primitives`.

Differences in form only: the ``n`` events of one source onto one state are one saturating add of
``n * w`` (they share one sign, so the result is the same), and a neuron with zero state, no
received events and no alias count, whose threshold is > 0 and whose bias is 0 (``idle_ok``),
provably stays at zero without spiking: it is skipped. The network arrives as a `KernelTables`
named tuple, the outputs as `Outputs` (``_ref_params``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from xylodeploy.arith.primitives import dec as _dec
from xylodeploy.arith.primitives import deliver as _deliver
from xylodeploy.arith.primitives import fire as _fire
from xylodeploy.arith.primitives import neg_dec as _neg_dec
from xylodeploy.arith.primitives import sat as _sat

# limits vector layout (see _ref_params.KernelParams.limits)
LO, HI, MAX_IN, CAP_H, CAP_O = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True)
def _clip(b, raster, tables, record, outs):  # noqa: ANN001
    (n_syn, in_ptr, in_slot, in_w, rec_ptr, rec_slot, rec_w, out_ptr, out_slot, out_w, dash_syn, dash_mem, th, bias,
     idle_ok, alias_ptr, alias_tgt, dso, dmo, tho, bo, limits) = tables  # fmt: skip
    spikes_out, r_spk, r_isyn, r_isyn2, r_vmem, r_isyn_out, r_vmem_out = outs
    lo, hi = limits[LO], limits[HI]
    max_in, cap_h, cap_o = limits[MAX_IN], limits[CAP_H], limits[CAP_O]
    n_t, n_in = raster.shape[1], raster.shape[2]
    n_h, n_o = dash_mem.shape[0], dmo.shape[0]
    isyn = np.zeros(n_h * n_syn, np.int64)
    vmem = np.zeros(n_h, np.int64)
    spk = np.zeros(n_h, np.int64)
    isyn_o = np.zeros(n_o, np.int64)
    vmem_o = np.zeros(n_o, np.int64)
    for t in range(n_t):
        for c in range(n_in):
            n = min(np.int64(raster[b, t, c]), max_in)
            if n > 0:
                _deliver(n, in_ptr, in_slot, in_w, c, isyn, lo, hi)
        for s in range(n_h):
            n = spk[s]
            if n > 0:
                _deliver(n, rec_ptr, rec_slot, rec_w, s, isyn, lo, hi)
                _deliver(n, out_ptr, out_slot, out_w, s, isyn_o, lo, hi)
                spk[s] = 0
        for h in range(n_h):
            base = h * n_syn
            k = spk[h]
            v = vmem[h]
            if idle_ok[h] and k == 0 and v == 0:
                quiet = True
                for s in range(n_syn):
                    if isyn[base + s] != 0:
                        quiet = False
                if quiet:
                    continue
            total = 0
            for s in range(n_syn):
                i = isyn[base + s]
                i -= _dec(i, dash_syn[h, s])
                isyn[base + s] = i
                total += i
            a = _sat(total + _neg_dec(v, dash_mem[h], lo, hi), lo, hi)
            a = _sat(a + bias[h], lo, hi)
            v, k = _fire(_sat(v + a, lo, hi), th[h], k, cap_h, lo, hi)
            vmem[h] = v
            spk[h] = k
            for e in range(alias_ptr[h], alias_ptr[h + 1]):
                g = alias_tgt[e]
                spk[g] = min(spk[g] + k, cap_h)
        for o in range(n_o):
            i = isyn_o[o]
            i -= _dec(i, dso[o])
            isyn_o[o] = i
            a = _sat(_sat(i + _neg_dec(vmem_o[o], dmo[o], lo, hi), lo, hi) + bo[o], lo, hi)
            v, k = _fire(_sat(vmem_o[o] + a, lo, hi), tho[o], 0, cap_o, lo, hi)
            vmem_o[o] = v
            spikes_out[b, t, o] = k
        if record:
            for h in range(n_h):
                r_spk[b, t, h] = spk[h]
                r_isyn[b, t, h] = isyn[h * n_syn]
                r_vmem[b, t, h] = vmem[h]
                if n_syn > 1:
                    r_isyn2[b, t, h] = isyn[h * n_syn + 1]
            for o in range(n_o):
                r_isyn_out[b, t, o] = isyn_o[o]
                r_vmem_out[b, t, o] = vmem_o[o]


@njit(cache=True, nogil=True)
def run_batch(start, stop, step, raster, tables, record, outs):  # noqa: ANN001, ANN201
    """Run every clip of ``raster`` (B, T, Nin) from reset with the network ``tables`` (`KernelTables`);
    fill ``outs.spikes_out`` and, if ``record``, the recorded states (`Outputs`)."""
    for b in range(start, stop, step):
        _clip(b, raster, tables, record, outs)
