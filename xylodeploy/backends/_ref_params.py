"""Spec validation and flat, typed parameter tables for the simulation backends.

`check_spec` accepts exactly the values the core's integer arithmetic is defined for (the
"arith" profile of `xylodeploy.drc.validity`); structural chip limits (sizes, fan-out,
projections) are the design-rule checker's business, not the simulator's.
`build_params` turns a checked `XyloSpec` into CSR fan-out lists with effective weights
``wrap16(w << shift)`` as consumed by the numba kernel in ``_ref_kernel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from xylodeploy.arith.primitives import effective_weights
from xylodeploy.chips.spec import ChipSpec, IntRange
from xylodeploy.drc import validity
from xylodeploy.ir.xylospec import XyloSpec


def check_spec(spec: XyloSpec, source: str = "spec") -> ChipSpec:
    """The "arith" profile of the one spec-validity check (`xylodeploy.drc.validity`); returns the `ChipSpec`.

    Raises ConfigError (one line naming the location, field, limit and value) otherwise.
    """
    return validity.check(spec, "arith", source)


def wrap(values: np.ndarray, rng: IntRange) -> np.ndarray:
    """Two's complement truncation of ``values`` to the width of ``rng``."""
    return effective_weights(values, 0, rng.lo, rng.hi)


@dataclass(frozen=True)
class Csr:
    """Fan-out lists: entries ``ptr[i]:ptr[i+1]`` belong to source ``i``; ``slot`` is the flat
    target state index (``target * Nsyn + syn`` for hidden targets, ``target`` for readout)."""

    ptr: np.ndarray  # (Nsrc+1,) int64
    slot: np.ndarray  # (nnz,) int32
    weight: np.ndarray  # (nnz,) int32, effective weight wrap16(w << shift)


def build_csr(weights: np.ndarray, shift: int, state: IntRange) -> Csr:
    """CSR of the non-zero entries of ``weights`` (source first; remaining axes flattened in C order)."""
    flat = np.asarray(weights, np.int64).reshape(weights.shape[0], -1)
    eff = wrap(flat << shift, state)
    src, slot = np.nonzero(eff)  # row-major: sources ascending, then targets/synapses ascending
    ptr = np.zeros(flat.shape[0] + 1, np.int64)
    np.add.at(ptr, src + 1, 1)
    return Csr(np.cumsum(ptr), slot.astype(np.int32), eff[src, slot].astype(np.int32))


@dataclass(frozen=True)
class KernelParams:
    """Everything the kernel needs, in fixed dtypes (one compiled signature)."""

    n_syn: int
    inp: Csr
    rec: Csr
    out: Csr
    dash_syn: np.ndarray  # (Nh, Nsyn) int32
    dash_mem: np.ndarray  # (Nh,) int32
    threshold: np.ndarray  # (Nh,) int32
    bias: np.ndarray  # (Nh,) int32, zeroed when the global bias enable is off
    idle_ok: np.ndarray  # (Nh,) bool: a zero-state, undriven neuron stays silent and at zero
    alias_ptr: np.ndarray  # (Nh+1,) int64
    alias_tgt: np.ndarray  # (nalias,) int32
    dash_syn_out: np.ndarray  # (Nout,) int32
    dash_mem_out: np.ndarray  # (Nout,) int32
    threshold_out: np.ndarray  # (Nout,) int32
    bias_out: np.ndarray  # (Nout,) int32
    limits: np.ndarray  # (5,) int64: state lo, state hi, max input events, hidden cap, output cap


def build_params(spec: XyloSpec, chip: ChipSpec) -> KernelParams:
    """Kernel tables for a spec already passed through `check_spec`."""
    i32 = np.int32
    has_bias = spec.has_bias
    bias = (spec.bias if has_bias else np.zeros_like(spec.bias)).astype(i32)
    bias_out = (spec.bias_out if has_bias else np.zeros_like(spec.bias_out)).astype(i32)
    dash_syn = np.stack([spec.dash_syn, spec.dash_syn_2][: spec.n_synapses], axis=1).astype(i32)
    alias_ptr = np.zeros(spec.n_hidden + 1, np.int64)
    alias_ptr[1:] = np.cumsum([len(a) for a in spec.aliases])
    alias_tgt = np.array([t for a in spec.aliases for t in a], dtype=i32)
    st = chip.state_range
    limits = np.array([st.lo, st.hi, chip.max_input_events, chip.max_hidden_spikes, chip.max_output_spikes], np.int64)
    return KernelParams(
        n_syn=spec.n_synapses,
        inp=build_csr(spec.weights_in, spec.weight_shift_in, st),
        rec=build_csr(spec.weights_rec, spec.weight_shift_rec, st),
        out=build_csr(spec.weights_out, spec.weight_shift_out, st),
        dash_syn=np.ascontiguousarray(dash_syn),
        dash_mem=spec.dash_mem.astype(i32),
        threshold=spec.threshold.astype(i32),
        bias=bias,
        idle_ok=(spec.threshold > 0) & (bias == 0),
        alias_ptr=alias_ptr,
        alias_tgt=alias_tgt,
        dash_syn_out=spec.dash_syn_out.astype(i32),
        dash_mem_out=spec.dash_mem_out.astype(i32),
        threshold_out=spec.threshold_out.astype(i32),
        bias_out=bias_out,
        limits=limits,
    )


class KernelTables(NamedTuple):
    """The arguments of the scalar and lanes kernels that describe the network (one compiled type)."""

    n_syn: int
    in_ptr: np.ndarray
    in_slot: np.ndarray
    in_w: np.ndarray
    rec_ptr: np.ndarray
    rec_slot: np.ndarray
    rec_w: np.ndarray
    out_ptr: np.ndarray
    out_slot: np.ndarray
    out_w: np.ndarray
    dash_syn: np.ndarray
    dash_mem: np.ndarray
    th: np.ndarray
    bias: np.ndarray
    idle_ok: np.ndarray
    alias_ptr: np.ndarray
    alias_tgt: np.ndarray
    dso: np.ndarray
    dmo: np.ndarray
    tho: np.ndarray
    bo: np.ndarray
    limits: np.ndarray


class Outputs(NamedTuple):
    """What the kernels fill: readout spikes always, the recorded states when ``record``."""

    spikes_out: np.ndarray
    r_spk: np.ndarray
    r_isyn: np.ndarray
    r_isyn2: np.ndarray
    r_vmem: np.ndarray
    r_isyn_out: np.ndarray
    r_vmem_out: np.ndarray


def kernel_tables(p: KernelParams) -> KernelTables:
    """`KernelParams` as the kernels' argument tuple."""
    return KernelTables(
        p.n_syn, p.inp.ptr, p.inp.slot, p.inp.weight, p.rec.ptr, p.rec.slot, p.rec.weight, p.out.ptr, p.out.slot,
        p.out.weight, p.dash_syn, p.dash_mem, p.threshold, p.bias, p.idle_ok, p.alias_ptr, p.alias_tgt,
        p.dash_syn_out, p.dash_mem_out, p.threshold_out, p.bias_out, p.limits,
    )  # fmt: skip
