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

import numpy as np
import torch
from torch import Tensor

from xylodeploy.backends._ref_params import wrap
from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.chips import get_chip
from xylodeploy.ir.xylospec import XyloSpec
from xylodeploy.models._exact_kernel import exact_backward, exact_forward
from xylodeploy.models._exact_params import ExactOutput


@dataclass(frozen=True)
class Static:
    """Spec constants of the kernel (everything but the trainable integers).

    State order: hidden synapse states ``h * S + s``, then readout states; neuron order: hidden, then readout.
    """

    n_hidden: int
    n_syn: int
    dsyn: np.ndarray  # (Nh*S + Nout,) int64 synaptic dashes
    dmem: np.ndarray  # (Nh + Nout,) int64 membrane dashes
    alias_ptr: np.ndarray  # (Nh + 1,) int64
    alias_tgt: np.ndarray  # (n_alias,) int64
    limits: tuple[int, int, int, int, int]  # state lo, state hi, max input events, hidden cap, readout cap
    window: float  # surrogate width

    @property
    def has_aliases(self) -> bool:
        return self.alias_tgt.size > 0

    @staticmethod
    def from_spec(spec: XyloSpec, window: float = 0.5) -> Static:
        chip = get_chip(spec.chip)
        i64 = np.int64
        dsyn = np.stack([spec.dash_syn, spec.dash_syn_2], -1)[:, : spec.n_synapses].reshape(-1)
        alias_ptr = np.zeros(spec.n_hidden + 1, i64)
        alias_ptr[1:] = np.cumsum([len(a) for a in spec.aliases])
        st = chip.state_range
        return Static(
            n_hidden=spec.n_hidden,
            n_syn=spec.n_synapses,
            dsyn=np.concatenate([dsyn, spec.dash_syn_out]).astype(i64),
            dmem=np.concatenate([spec.dash_mem, spec.dash_mem_out]).astype(i64),
            alias_ptr=alias_ptr,
            alias_tgt=np.array([a for ts in spec.aliases for a in ts], i64),
            limits=(st.lo, st.hi, chip.max_input_events, chip.max_hidden_spikes, chip.max_output_spikes),
            window=float(window),
        )


def _csr(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ptr, slot, weight) of the non-zero entries of a (sources, targets) int64 matrix, row-major."""
    src, slot = np.nonzero(w)
    ptr = np.zeros(w.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=w.shape[0]), out=ptr[1:])
    return ptr, slot.astype(np.int64), w[src, slot].astype(np.int64)


def _forward(st: Static, x: np.ndarray, w_in: np.ndarray, w_hr: np.ndarray, th: np.ndarray, bias: np.ndarray,
             out: tuple[np.ndarray, ...]) -> None:  # fmt: skip
    """Run `exact_forward` on (B, T, Nin) uint8 events and int64 effective integers, filling ``out``."""
    lo, hi, max_in, cap_h, cap_o = st.limits
    exact_forward(x, max_in, *_csr(w_in), *_csr(w_hr), st.n_syn, st.dsyn, st.dmem, th, bias, st.alias_ptr,
                  st.alias_tgt, lo, hi, cap_h, cap_o, *out)  # fmt: skip


def _buffers(st: Static, shape: tuple[int, int], n_states: int, dtypes: tuple) -> tuple[np.ndarray, ...]:
    """Kernel outputs: spikes, vmem, isyn, v_pre and (with aliases) own counts and caps."""
    n_all, n_h = st.dmem.shape[0], st.n_hidden
    alias = shape if st.has_aliases else (0, 0)
    return (
        np.zeros((*shape, n_all), dtypes[0]),
        np.zeros((*shape, n_all), dtypes[1]),
        np.zeros((*shape, n_states), dtypes[1]),
        np.zeros((*shape, n_all), np.int16),
        np.zeros((*alias, n_h if st.has_aliases else 0), np.int8),
        np.zeros((*alias, n_h if st.has_aliases else 0), np.int8),
    )


def _ints(t: Tensor) -> np.ndarray:
    return t.detach().to(torch.int64).contiguous().numpy()


class _FusedExact(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: np.ndarray, w_in: Tensor, w_hr: Tensor, th: Tensor, bias: Tensor, st: Static):  # type: ignore[override]
        w_hr_i = _ints(w_hr)
        bufs = _buffers(st, x.shape[:2], w_hr.shape[1], (np.float64, np.float64))
        _forward(st, x, _ints(w_in), w_hr_i, _ints(th), _ints(bias), bufs)
        spk, vmem, isyn, vpre, own, capm = bufs
        ctx.st, ctx.x, ctx.np_saved = st, x, (vpre, own, capm, w_hr_i)
        ctx.shapes = (w_in.shape, th)
        outs = tuple(torch.from_numpy(a) for a in (spk, vmem, isyn))
        ctx.save_for_backward(outs[0])
        return outs

    @staticmethod
    def backward(ctx, g_spk: Tensor | None, g_vmem: Tensor | None, g_isyn: Tensor | None):  # type: ignore[override]
        st, x = ctx.st, ctx.x
        (spk,) = ctx.saved_tensors
        vpre, own, capm, w_hr = ctx.np_saved
        (n_in, n_hs), th = ctx.shapes
        n_b = x.shape[0]
        empty = np.zeros((0, 0, 0))
        grads = [
            empty if g is None else g.detach().to(torch.float64).contiguous().numpy() for g in (g_spk, g_vmem, g_isyn)
        ]
        alpha = 1.0 - np.exp2(-st.dmem.astype(np.float64))
        beta = 1.0 - np.exp2(-st.dsyn.astype(np.float64))
        gw_in = np.zeros((n_b, n_in, n_hs))
        gw_hr = np.zeros((n_b, *w_hr.shape))
        g_th, g_bias = np.zeros((n_b, st.dmem.shape[0])), np.zeros((n_b, st.dmem.shape[0]))
        _, _, max_in, cap_h, cap_o = st.limits
        exact_backward(x, max_in, spk.numpy(), vpre, own, capm, *grads, *_csr(w_hr), st.n_syn, alpha, beta,
                       th.detach().to(torch.float64).numpy(), st.alias_ptr, st.alias_tgt, cap_h, cap_o, st.window,
                       gw_in, gw_hr, g_th, g_bias)  # fmt: skip
        sums = [torch.from_numpy(a.sum(0)) for a in (gw_in, gw_hr, g_th, g_bias)]
        return (None, *sums, None)


def fused_exact(x: Tensor, w_in: Tensor, w_hr: Tensor, th: Tensor, bias: Tensor, st: Static) -> tuple[Tensor, ...]:
    """Differentiable exact run of (B, T, Nin) event counts (CPU tensors, integer-valued float64).

    ``w_in`` (Nin, Nh*S) and ``w_hr`` (Nh, Nh*S + Nout): effective (shifted) weights; ``th``, ``bias``:
    (Nh + Nout,) hidden then readout. Returns float64 ``(spikes, vmem, isyn)``: (B, T, Nh + Nout),
    (B, T, Nh + Nout) after reset, (B, T, Nh*S + Nout) after decay; all carry gradients.
    """
    xs = torch.clamp(x.detach(), max=float(st.limits[2])).to(torch.uint8).contiguous().numpy()
    return _FusedExact.apply(xs, w_in, w_hr, th, bias, st)


def simulate_exact(spec: XyloSpec, raster: np.ndarray) -> Recording:
    """Run a (B, T, Nin) or (T, Nin) raster of event counts through ``spec`` with the fused forward kernel.

    Same contract as a backend's ``run(raster, record=True)``: every clip from reset, int8 spike counts
    and int16 states, (B, T, N) arrays (``isyn2`` None for one synapse).
    """
    st = Static.from_spec(spec)
    arr, _ = as_batch(raster, spec.n_inputs, "exact kernel input raster")
    x = np.minimum(arr, st.limits[2]).astype(np.uint8)
    rng = get_chip(spec.chip).state_range
    w_in = wrap(np.asarray(spec.weights_in, np.int64) << spec.weight_shift_in, rng).reshape(spec.n_inputs, -1)
    w_rec = wrap(np.asarray(spec.weights_rec, np.int64) << spec.weight_shift_rec, rng).reshape(spec.n_hidden, -1)
    w_out = wrap(np.asarray(spec.weights_out, np.int64) << spec.weight_shift_out, rng)
    th = np.concatenate([spec.threshold, spec.threshold_out]).astype(np.int64)
    bias = np.concatenate([spec.bias, spec.bias_out]).astype(np.int64)
    n_h, n_s = spec.n_hidden, spec.n_synapses
    bufs = _buffers(st, x.shape[:2], n_h * n_s + spec.n_outputs, (np.int8, np.int16))
    _forward(st, x, w_in, np.concatenate([w_rec, w_out], 1), th, bias, bufs)
    spk, vmem, isyn = bufs[:3]
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
    spk, vmem, isyn = fused_exact(x, q.w_in, q.w_hr, th, bias, st)
    n_h, n_hs = st.n_hidden, st.n_hidden * st.n_syn
    out = ExactOutput(spikes_out=spk[..., n_h:], vmem_out=vmem[..., n_h:], isyn_out=isyn[..., n_hs:])
    if check_saturation:
        out.saturation = x.new_zeros(x.shape[0], dtype=torch.int64)
    if record:
        syn = isyn[..., :n_hs].reshape(*x.shape[:2], n_h, st.n_syn)
        out.spikes, out.vmem, out.isyn = spk[..., :n_h], vmem[..., :n_h], syn[..., 0]
        out.isyn2 = syn[..., 1] if st.n_syn > 1 else None
    return out
