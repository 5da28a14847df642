"""Compiled forward and hand-written backward of `XyloExactNet` (the fused exact kernel).

Forward (`exact_forward`): the chip's update of docs/chip-arithmetic.md, event by event in the
chip's order, with the shared primitives of `xylodeploy.arith.primitives` (``dec``, ``sat``,
``neg_dec``, ``fire``). Hidden synapse states ``j = h * S + s`` and readout states ``NhS + o``
share one state vector, so one fan-out list per hidden source delivers to both. Per clip, step::

    acc_j   = isyn_j;  acc_j = sat(acc_j + x_c · W_in[c, j])   for active channels c ascending
                       acc_j = sat(acc_j + k_i · W_hr[i, j])   for spiking sources i ascending
    isyn_j  = acc_j - dec(acc_j, d_j)
    v       = sat(vmem + sat(sat(Σ_s isyn + neg_dec(vmem, dm)) + bias));  v_pre = v
    (vmem, k) = fire(v, th, k0, cap)          k0: alias counts received this step (readout: 0)

Backward (`exact_backward`): the reverse-mode adjoint of the straight-through model of
`_exact_ops` (saturation, wrap, caps: identity; decay ``x - dec(x, d)``: factor ``β = 1 - 2^-d``;
membrane: ``α = 1 - 2^-dm``; spike count: the `SpikeCount` surrogate ``g_u = s/θ'``,
``g_θ = -s·u/θ'`` with ``θ' = max(θ, 1)``, ``u = v_pre/θ'``). With ``ḡ`` the output gradients
and ``λ`` the adjoints, for ``t = T-1 .. 0``::

    dvm     = ḡ_vmem[t] + α · λv[t+1]
    dk      = ḡ_spk[t] + Σ_j W_hr[i, j] · λacc_j[t+1]      (then through the alias sums, reversed)
    dn      = dk - θ · dvm ;   λv[t] = dvm + dn · g_u
    ∂θ     += dn · g_θ - n_own · dvm ;   ∂bias += λv[t]
    λacc_j[t] = β_j · (ḡ_isyn_j[t] + λacc_j[t+1] + λv_h(j)[t])
    ∂W_in[c, j] += x_c[t] · λacc_j[t] ;   ∂W_hr[i, j] += k_i[t-1] · λacc_j[t]

Alias sums are identity-gradient adds, undone in reverse neuron order; a self-alias (rejected by
the design rules) is exact in the forward, but its gradient may differ from the torch loop's.
Both kernels run clips in parallel (numba ``prange``) and touch only active sources' rows (dense
SIMD rows or CSR lists, whichever the weight density favours); backward skips steps whose adjoints
are all zero (e.g. after the last maximum of a max-pooled loss).
"""

from __future__ import annotations

import numba
import numpy as np

from xylodeploy.arith.primitives import dec, deliver, deliver_row, fire, neg_dec, sat

_NB = {"cache": True, "parallel": True, "nogil": True, "error_model": "numpy"}


@numba.njit(cache=True, nogil=True, inline="always")
def _grad_row(g_row, n, la, dense, span, ptr, slot, src) -> None:  # noqa: ANN001
    """Weight gradient of one source that delivered ``n`` events: ``g_row[j] += n * la[j]`` over its row
    span (dense) or its CSR pattern."""
    if dense:
        for j in range(span[src, 0], span[src, 1]):
            g_row[j] += n * la[j]
    else:
        for e in range(ptr[src], ptr[src + 1]):
            g_row[slot[e]] += n * la[slot[e]]


@numba.njit(**_NB)
def exact_forward(x, max_in, dense_in, w_in, in_span, in_ptr, in_slot, in_w, dense_hr, w_hr, hr_span, hr_ptr, hr_slot,
                  hr_w, n_syn,
                  dsyn, dmem, th, bias, alias_ptr, alias_tgt, lo, hi, cap_h, cap_o,
                  r_spk, r_vmem, r_isyn, r_vpre, r_own, r_cap):  # fmt: skip  # pragma: no cover - compiled
    """Fill r_spk (int8), r_vmem/r_vpre (int16) (B, T, Nh+Nout), r_isyn (int16, (B, T, Nh·S+Nout)) and,
    with aliases, r_own/r_cap (int8, (B, T, Nh)): own spike counts and the cap they fired under.

    Weights: ``dense_*`` selects the dense rows ``w_*`` (SIMD over each row's span of non-zero targets,
    ``*_span``) or the CSR lists of non-zero entries (``*_ptr``, ``*_slot``, ``*_w``); both deliver the
    same saturating adds.
    """
    n_b, n_t, n_in = x.shape
    n_all = dmem.shape[0]
    n_st = dsyn.shape[0]
    n_h = hr_ptr.shape[0] - 1
    n_hs = n_h * n_syn
    aliases = r_own.shape[0] > 0
    for b in numba.prange(n_b):
        acc = np.zeros(n_st, np.int64)
        vmem = np.zeros(n_all, np.int64)
        prev = np.zeros(n_h, np.int64)
        cur = np.zeros(n_h, np.int64)
        for t in range(n_t):
            for c in range(n_in):
                n = min(np.int64(x[b, t, c]), max_in)
                if n > 0 and dense_in:  # zero weights leave an in-range state unchanged
                    deliver_row(n, w_in[c], in_span[c, 0], in_span[c, 1], acc, lo, hi)
                elif n > 0:
                    deliver(n, in_ptr, in_slot, in_w, c, acc, lo, hi)
            for i in range(n_h):
                n = prev[i]
                if n > 0 and dense_hr:
                    deliver_row(n, w_hr[i], hr_span[i, 0], hr_span[i, 1], acc, lo, hi)
                elif n > 0:
                    deliver(n, hr_ptr, hr_slot, hr_w, i, acc, lo, hi)
                cur[i] = 0
            for j in range(n_st):
                acc[j] -= dec(acc[j], dsyn[j])
                r_isyn[b, t, j] = acc[j]
            for h in range(n_all):
                if h < n_h:
                    total = np.int64(0)
                    for s in range(n_syn):
                        total += acc[h * n_syn + s]
                    k0, cap = cur[h], cap_h
                else:
                    total, k0, cap = acc[n_hs + h - n_h], np.int64(0), cap_o
                v = vmem[h]
                a = sat(sat(total + neg_dec(v, dmem[h], lo, hi), lo, hi) + bias[h], lo, hi)
                v = sat(v + a, lo, hi)
                r_vpre[b, t, h] = v
                v, k = fire(v, th[h], k0, cap, lo, hi)
                vmem[h] = v
                r_vmem[b, t, h] = v
                if h < n_h:
                    cur[h] = k
                    if aliases:
                        r_own[b, t, h] = k - k0
                        r_cap[b, t, h] = cap - k0
                    for e in range(alias_ptr[h], alias_ptr[h + 1]):
                        g = alias_tgt[e]
                        cur[g] = min(cur[g] + k, cap_h)
                else:
                    r_spk[b, t, h] = k
            for h in range(n_h):
                r_spk[b, t, h] = cur[h]
                prev[h] = cur[h]


@numba.njit(inline="always")
def _surrogate(v, inv_th, cap, inv_window):  # pragma: no cover - compiled
    """(dn/dv, dn/dθ) of the SpikeCount surrogate (`_exact_ops.SpikeCount`); ``inv_th = 1 / max(θ, 1)``."""
    u = v * inv_th
    if u >= cap + 0.5:
        return 0.0, 0.0
    dist = 1.0 - u if u < 1.0 else abs(u - np.rint(u))
    gu = np.exp(-dist * inv_window) * inv_th
    return gu, -gu * u


@numba.njit(inline="always")
def _live(b, t, n_h, n_all, n_st, la_next, lv, gs_h, gs_o, gv_h, gv_o, gi_h, gi_o):  # pragma: no cover
    """Whether step ``t`` has any non-zero adjoint (else it contributes nothing and is skipped)."""
    for j in range(n_st):
        if la_next[j] != 0.0:
            return True
    for h in range(n_all):
        if lv[h] != 0.0:
            return True
    for g in (gs_h, gv_h, gi_h, gs_o, gv_o, gi_o):
        if g.shape[0] > 0:
            for j in range(g.shape[2]):
                if g[b, t, j] != 0.0:
                    return True
    return False


@numba.njit(**_NB)
def exact_backward(x, max_in, spk, vpre, own, capm, gs_h, gs_o, gv_h, gv_o, gi_h, gi_o, dense, wt, tr_span, tr_ptr,
                   tr_src, tr_w, dense_g, in_gspan, in_gptr, in_gslot, hr_gspan, hr_gptr, hr_gslot, n_syn, alpha, beta,
                   th, inv_th, alias_ptr, alias_tgt, cap_h, cap_o, inv_window,
                   g_in, g_hr, g_th, g_bias):  # fmt: skip  # pragma: no cover - compiled
    """Accumulate gradients per chunk of clips (clips ``b ≡ ch mod n_ch``): g_in (n_ch, Nin, NhS),
    g_hr (n_ch, Nh, NhS+Nout), g_th/g_bias (n_ch, Nh+Nout).

    ``gs/gv/gi``: output gradients of spikes, vmem, isyn, hidden (``_h``) and readout (``_o``) parts,
    (B, T, N) or empty (0, 0, 0) for none. ``tr_*``: the non-zero recurrent/readout weights as float64
    CSR by *target* state (sources in ``tr_src``), or with ``dense`` the dense transpose ``wt``. Weight
    gradients: the row spans of active sources with ``dense_g``, else only the ``*_g*`` CSR patterns.
    """
    n_b, n_t, n_in = x.shape
    n_all = alpha.shape[0]
    n_st = beta.shape[0]
    n_h = alias_ptr.shape[0] - 1
    n_hs = n_h * n_syn
    aliases = own.shape[0] > 0
    n_ch = g_th.shape[0]
    for ch in numba.prange(n_ch):
        for b in range(ch, n_b, n_ch):
            la_next = np.zeros(n_st, np.float64)
            la = np.zeros(n_st, np.float64)
            lv = np.zeros(n_all, np.float64)
            dkd = np.zeros(n_h, np.float64)
            dkt = np.zeros(n_h, np.float64)
            for t in range(n_t - 1, -1, -1):
                if not _live(b, t, n_h, n_all, n_st, la_next, lv, gs_h, gs_o, gv_h, gv_o, gi_h, gi_o):
                    continue  # la_next, lv stay zero
                for i in range(n_h):  # dk = ḡ_spk + W_hr λacc[t+1], scattered from the targets
                    dkd[i] = gs_h[b, t, i] if gs_h.shape[0] > 0 else 0.0
                for j in range(n_st):
                    lj = la_next[j]
                    if lj != 0.0:
                        if dense:
                            for i in range(tr_span[j, 0], tr_span[j, 1]):
                                dkd[i] += wt[j, i] * lj
                        else:
                            for e in range(tr_ptr[j], tr_ptr[j + 1]):
                                dkd[tr_src[e]] += tr_w[e] * lj
                for h in range(n_h - 1, -1, -1):  # reverse alias sums: final counts -> own counts
                    tot = dkd[h]
                    for e in range(alias_ptr[h], alias_ptr[h + 1]):
                        g = alias_tgt[e]
                        tot += dkt[g] if g > h else dkd[g]
                    dkt[h] = tot
                for h in range(n_all):
                    hid = h < n_h
                    o = h - n_h
                    dvm = alpha[h] * lv[h]
                    if hid:
                        if gv_h.shape[0] > 0:
                            dvm += gv_h[b, t, h]
                        dk = dkt[h]
                        n_own = float(own[b, t, h]) if aliases else float(spk[b, t, h])
                        cap = float(capm[b, t, h]) if aliases else float(cap_h)
                    else:
                        if gv_o.shape[0] > 0:
                            dvm += gv_o[b, t, o]
                        dk = gs_o[b, t, o] if gs_o.shape[0] > 0 else 0.0
                        n_own, cap = float(spk[b, t, h]), float(cap_o)
                    gu, gth = _surrogate(float(vpre[b, t, h]), inv_th[h], cap, inv_window)
                    dn = dk - th[h] * dvm
                    lvh = dvm + dn * gu
                    lv[h] = lvh
                    g_th[ch, h] += dn * gth - n_own * dvm
                    g_bias[ch, h] += lvh
                    if hid:
                        for s in range(n_syn):
                            j = h * n_syn + s
                            d = la_next[j] + lvh
                            if gi_h.shape[0] > 0:
                                d += gi_h[b, t, j]
                            la[j] = beta[j] * d
                    else:
                        j = n_hs + o
                        d = la_next[j] + lvh
                        if gi_o.shape[0] > 0:
                            d += gi_o[b, t, o]
                        la[j] = beta[j] * d
                for c in range(n_in):
                    n = min(np.int64(x[b, t, c]), max_in)
                    if n > 0:
                        _grad_row(g_in[ch, c], n, la, dense_g, in_gspan, in_gptr, in_gslot, c)
                if t > 0:
                    for i in range(n_h):
                        k = spk[b, t - 1, i]
                        if k > 0:
                            _grad_row(g_hr[ch, i], k, la, dense_g, hr_gspan, hr_gptr, hr_gslot, i)
                la_next, la = la, la_next
