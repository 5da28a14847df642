"""The fused exact kernel as a torch op (`fused_exact`) and as a plain simulator (`simulate_exact`).

`fused_exact` runs `_exact_kernel.exact_forward` and, on ``backward``, `_exact_kernel.exact_backward`:
values are the chip's (docs/chip-arithmetic.md), gradients are those of the straight-through torch
model of `_exact_ops` (same surrogate, decay and straight-through rules). Its inputs are the
*effective* integer parameters (``XyloExactNet.effective()``), so the rounding, clamping, masking
and shifting in front of it keep their torch gradients.

`simulate_exact(spec, raster)` runs the same forward kernel on a spec's integers and returns a
backend `Recording` (int8 spikes, int16 states), so it can be checked against the other engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import torch
from torch import Tensor

from xylodeploy.arith.primitives import effective_weights
from xylodeploy.chips import get_chip
from xylodeploy.drc import validity
from xylodeploy.errors import ConfigError
from xylodeploy.ir.recording import Recording
from xylodeploy.ir.xylospec import XyloSpec
from xylodeploy.models._exact_kernel import exact_backward, exact_forward
from xylodeploy.models._exact_params import ExactOutput


@dataclass(frozen=True)
class Pattern:
    """Entries of a (sources, targets) matrix that get weight gradients, as CSR (``flat``: row-major index)."""

    ptr: np.ndarray  # (sources + 1,) int64
    slot: np.ndarray  # (nnz,) int64 target index
    flat: np.ndarray  # (nnz,) int64 index into the flattened matrix
    span: np.ndarray  # (sources, 2) int64: first and one-past-last target of each row (0, 0 if empty)

    @staticmethod
    def of(mask: np.ndarray) -> Pattern:
        src, slot = np.nonzero(mask)
        ptr = np.zeros(mask.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(src, minlength=mask.shape[0]), out=ptr[1:])
        span = np.zeros((mask.shape[0], 2), np.int64)
        rows = ptr[1:] > ptr[:-1]
        span[rows, 0] = slot[ptr[:-1][rows]]
        span[rows, 1] = slot[ptr[1:][rows] - 1] + 1
        return Pattern(ptr, slot.astype(np.int64), (src * mask.shape[1] + slot).astype(np.int64), span)


@dataclass(frozen=True)
class Static:
    """Spec constants of the kernel (everything but the trainable integers).

    State order: hidden synapse states ``h * S + s``, then readout states; neuron order: hidden, then readout.
    ``grad_in`` / ``grad_hr``: the weight entries that get gradients (input, recurrent | readout).
    """

    n_hidden: int
    n_syn: int
    dsyn: np.ndarray  # (Nh*S + Nout,) int64 synaptic dashes
    dmem: np.ndarray  # (Nh + Nout,) int64 membrane dashes
    alias_ptr: np.ndarray  # (Nh + 1,) int64
    alias_tgt: np.ndarray  # (n_alias,) int64
    limits: tuple[int, int, int, int, int]  # state lo, state hi, max input events, hidden cap, readout cap
    window: float  # surrogate width
    grad_in: Pattern
    grad_hr: Pattern

    @property
    def has_aliases(self) -> bool:
        return self.alias_tgt.size > 0

    @staticmethod
    def from_spec(spec: XyloSpec, window: float = 0.5, masks: tuple[np.ndarray, ...] | None = None) -> Static:
        """Constants of ``spec``; ``masks`` (weights_in, weights_rec, weights_out shaped): trainable entries
        (default: the non-zero weights)."""
        chip = get_chip(spec.chip)
        st = chip.state_range
        if st.lo < -32768 or st.hi > 32767 or chip.max_hidden_spikes > 127:
            raise ConfigError(f"exact kernel: chip {chip.name} state range {st} does not fit its int16 buffers")
        i64, n_h = np.int64, spec.n_hidden
        dsyn = np.stack([spec.dash_syn, spec.dash_syn_2], -1)[:, : spec.n_synapses].reshape(-1)
        alias_ptr = np.zeros(n_h + 1, i64)
        alias_ptr[1:] = np.cumsum([len(a) for a in spec.aliases])
        m_in, m_rec, m_out = masks or (spec.weights_in != 0, spec.weights_rec != 0, spec.weights_out != 0)
        m_hr = np.concatenate([np.asarray(m_rec).reshape(n_h, -1), np.asarray(m_out).reshape(n_h, -1)], 1)
        return Static(
            n_hidden=n_h,
            n_syn=spec.n_synapses,
            dsyn=np.concatenate([dsyn, spec.dash_syn_out]).astype(i64),
            dmem=np.concatenate([spec.dash_mem, spec.dash_mem_out]).astype(i64),
            alias_ptr=alias_ptr,
            alias_tgt=np.array([a for ts in spec.aliases for a in ts], i64),
            limits=(st.lo, st.hi, chip.max_input_events, chip.max_hidden_spikes, chip.max_output_spikes),
            window=float(window),
            grad_in=Pattern.of(np.asarray(m_in).reshape(spec.n_inputs, -1) != 0),
            grad_hr=Pattern.of(m_hr != 0),
        )


def _forward(st: Static, x: np.ndarray, w_in: np.ndarray, w_hr: np.ndarray, th: np.ndarray,
             bias: np.ndarray) -> tuple[np.ndarray, ...]:  # fmt: skip
    """`exact_forward` on (B, T, Nin) uint8 events and int64 effective integers.

    Returns int8 spikes, int16 vmem (after reset), int16 isyn, int16 v_pre and (with aliases, else
    empty) int8 own counts and caps; neuron/state order as in `Static`.
    """
    lo, hi, max_in, cap_h, cap_o = st.limits
    shape, n_all, n_h = x.shape[:2], st.dmem.shape[0], st.n_hidden
    alias = (*shape, n_h) if st.has_aliases else (0, 0, 0)
    out = (
        np.empty((*shape, n_all), np.int8),
        np.empty((*shape, n_all), np.int16),
        np.empty((*shape, st.dsyn.shape[0]), np.int16),
        np.empty((*shape, n_all), np.int16),
        np.empty(alias, np.int8),
        np.empty(alias, np.int8),
    )
    exact_forward(x, max_in, *_fanout(w_in), *_fanout(w_hr), st.n_syn, st.dsyn, st.dmem, th, bias, st.alias_ptr,
                  st.alias_tgt, lo, hi, cap_h, cap_o, *out)  # fmt: skip
    return out


def _fanout(w: np.ndarray, dtype: type = np.int64) -> tuple:
    """A (sources, targets) matrix for the kernels: (dense?, dense matrix, row spans, CSR ptr, slot, weight).

    Dense rows are walked over their span of non-zero targets only (SIMD); the CSR lists hold the non-zeros.
    """
    p = Pattern.of(w != 0)
    weight = w.reshape(-1)[p.flat].astype(dtype)
    return _dense(p.slot.size, w.size), np.ascontiguousarray(w, dtype), p.span, p.ptr, p.slot, weight


def _dense(nnz: int, size: int) -> bool:
    """Whether a weight matrix is dense enough for SIMD rows over all targets (else CSR lists)."""
    return 8 * nnz >= size  # SIMD rows cost ~1/8 of a CSR entry per element


def _ints(t: Tensor) -> np.ndarray:
    return t.detach().to(torch.int64).contiguous().numpy()


def _f64(a: np.ndarray) -> Tensor:
    return torch.from_numpy(a).to(torch.float64)


def _grad(g: Tensor | None) -> np.ndarray:
    return np.zeros((0, 0, 0)) if g is None else g.detach().to(torch.float64).contiguous().numpy()


class _FusedExact(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: np.ndarray, w_in: Tensor, w_hr: Tensor, th: Tensor, bias: Tensor, st: Static,  # type: ignore[override]
                record: bool):  # fmt: skip
        w_hr_i = _ints(w_hr)
        spk, vmem, isyn, vpre, own, capm = _forward(st, x, _ints(w_in), w_hr_i, _ints(th), _ints(bias))
        ctx.set_materialize_grads(False)
        ctx.st, ctx.x, ctx.saved = st, x, (spk, vpre, own, capm, w_hr_i, th.detach().to(torch.float64).numpy())
        ctx.shapes = (w_in.shape, w_hr.shape)
        n_h, n_hs = st.n_hidden, st.n_hidden * st.n_syn
        outs = [_f64(spk[..., n_h:]), _f64(vmem[..., n_h:]), _f64(isyn[..., n_hs:])]
        if record:
            outs += [_f64(spk[..., :n_h]), _f64(vmem[..., :n_h]), _f64(isyn[..., :n_hs])]
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads: Tensor | None):  # type: ignore[override]
        st, x = ctx.st, ctx.x
        spk, vpre, own, capm, w_hr, th = ctx.saved
        s_in, s_hr = ctx.shapes
        n_b, n_all = x.shape[0], st.dmem.shape[0]
        g = [_grad(grads[i]) if i < len(grads) else _grad(None) for i in (3, 0, 4, 1, 5, 2)]
        alpha = 1.0 - np.exp2(-st.dmem.astype(np.float64))
        beta = 1.0 - np.exp2(-st.dsyn.astype(np.float64))
        n_ch = max(1, min(n_b, numba.get_num_threads()))
        g_in, g_hr = np.zeros((n_ch, *s_in)), np.zeros((n_ch, *s_hr))
        g_th, g_bias = np.zeros((n_ch, n_all)), np.zeros((n_ch, n_all))
        nnz = st.grad_in.flat.size + st.grad_hr.flat.size
        _, _, max_in, cap_h, cap_o = st.limits
        gi, gh = st.grad_in, st.grad_hr
        exact_backward(x, max_in, spk, vpre, own, capm, *g, *_fanout(np.ascontiguousarray(w_hr.T), np.float64),
                       _dense(nnz, g_in[0].size + g_hr[0].size), gi.span, gi.ptr, gi.slot, gh.span, gh.ptr, gh.slot,
                       st.n_syn, alpha,
                       beta, th, 1.0 / np.maximum(th, 1.0), st.alias_ptr, st.alias_tgt, cap_h, cap_o, 1.0 / st.window,
                       g_in, g_hr, g_th, g_bias)  # fmt: skip
        sums = (torch.from_numpy(a.sum(0)) for a in (g_in, g_hr, g_th, g_bias))
        return None, *sums, None, None


def fused_exact(x: Tensor, w_in: Tensor, w_hr: Tensor, th: Tensor, bias: Tensor, st: Static,
                record: bool = False) -> tuple[Tensor, ...]:  # fmt: skip
    """Differentiable exact run of (B, T, Nin) event counts (CPU tensors, integer-valued float64).

    ``w_in`` (Nin, Nh*S) and ``w_hr`` (Nh, Nh*S + Nout): effective (shifted) weights; ``th``, ``bias``:
    (Nh + Nout,) hidden then readout. Returns float64 readout ``(spikes, vmem, isyn)`` (B, T, Nout) and,
    with ``record``, hidden ``(spikes, vmem, isyn)`` (B, T, Nh), (B, T, Nh), (B, T, Nh*S); vmem after
    reset, isyn after decay. Weight gradients are exact on ``st.grad_in`` / ``st.grad_hr``; entries
    outside those patterns may be zero or not (callers mask them, as `XyloExactNet` does).
    """
    xs = torch.clamp(x.detach(), max=float(st.limits[2])).to(torch.uint8).contiguous().numpy()
    return _FusedExact.apply(xs, w_in, w_hr, th, bias, st, record)


def simulate_exact(spec: XyloSpec, raster: np.ndarray) -> Recording:
    """Run a (B, T, Nin) or (T, Nin) raster of event counts through ``spec`` with the fused forward kernel.

    Same contract as a backend's ``run(raster, record=True)``: every clip from reset, int8 spike counts
    and int16 states, (B, T, N) arrays (``isyn2`` None for one synapse). Values outside the chip's
    ranges raise `ConfigError`, as the reference backend does.
    """
    validity.check(spec, "arith", "exact kernel")
    st = Static.from_spec(spec)
    arr = np.asarray(raster)
    arr = arr[None] if arr.ndim == 2 else arr
    if arr.ndim != 3 or arr.shape[2] != spec.n_inputs or arr.dtype.kind not in "iu" or (arr.size and arr.min() < 0):
        raise ConfigError(f"exact kernel input raster: expected (B, T, {spec.n_inputs}) non-negative integer "
                          f"event counts, got {arr.dtype} {arr.shape}")  # fmt: skip
    x = np.minimum(arr, st.limits[2]).astype(np.uint8)
    rng = get_chip(spec.chip).state_range
    w_in = effective_weights(spec.weights_in, spec.weight_shift_in, rng.lo, rng.hi).reshape(spec.n_inputs, -1)
    w_rec = effective_weights(spec.weights_rec, spec.weight_shift_rec, rng.lo, rng.hi).reshape(spec.n_hidden, -1)
    w_out = effective_weights(spec.weights_out, spec.weight_shift_out, rng.lo, rng.hi)
    th = np.concatenate([spec.threshold, spec.threshold_out]).astype(np.int64)
    bias = np.concatenate([spec.bias, spec.bias_out]).astype(np.int64)
    n_h, n_s = spec.n_hidden, spec.n_synapses
    spk, vmem, isyn = _forward(st, x, w_in, np.concatenate([w_rec, w_out], 1), th, bias)[:3]
    syn = isyn[..., : n_h * n_s].reshape(*x.shape[:2], n_h, n_s)

    def c(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a)

    return Recording(
        spikes_out=c(spk[..., n_h:]),
        spikes=c(spk[..., :n_h]),
        isyn=c(syn[..., 0]),
        isyn2=c(syn[..., 1]) if n_s > 1 else None,
        vmem=c(vmem[..., :n_h]),
        isyn_out=c(isyn[..., n_h * n_s :]),
        vmem_out=c(vmem[..., n_h:]),
    )


def kernel_output(x: Tensor, q: Any, st: Static, record: bool, check_saturation: bool) -> ExactOutput:
    """`ExactOutput` of `XyloExactNet` from the fused kernel (``q``: its effective integers).

    The kernel delivers every event in the chip's order, so ``saturation`` is all zeros (exact).
    """
    th = torch.cat([q.th, q.th_out])
    bias = torch.cat([q.bias, q.bias_out])
    outs = fused_exact(x, q.w_in, q.w_hr, th, bias, st, record)
    n_h = st.n_hidden
    out = ExactOutput(spikes_out=outs[0], vmem_out=outs[1], isyn_out=outs[2])
    if check_saturation:
        out.saturation = x.new_zeros(x.shape[0], dtype=torch.int64)
    if record:
        syn = outs[5].reshape(*x.shape[:2], n_h, st.n_syn)
        out.spikes, out.vmem, out.isyn = outs[3], outs[4], syn[..., 0]
        out.isyn2 = syn[..., 1] if st.n_syn > 1 else None
    return out
