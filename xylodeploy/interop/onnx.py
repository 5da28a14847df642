"""ONNX export: one time step of a network as a stateful ONNX graph (built with onnx.helper).

Both graphs take ``x`` (B, Nin) and the state of the previous step and return the output spikes
and the new state; feed the state outputs back as inputs at the next step (`run_steps` does;
zeros start a clip). Inputs ``<name>`` pair with outputs ``<name>_next``.

* `float_step_model(graph)` (float64): the `NetworkGraph` dynamics without hop delays (as
  `xylodeploy.interop._common.simulate_graph`). State per population ``p``: ``p.isyn``
  (B, n*k, index ``j*k + s``), ``p.v`` (B, n), ``p.spk`` (B, n: last step's spikes, drives the
  recurrent weights). Output ``spikes``: readout spikes.
* `int_step_model(spec)` (int64, standard operators only): one step of the Xylo core exactly as
  `xylodeploy.arith.scalar_model` defines it, for every valid spec (aliases, thresholds <= 0,
  weight shifts up to 31 included) and every input. State ``isyn``, ``isyn2`` (two-synapse specs),
  ``vmem``, ``spk`` (last step's hidden counts, driving recurrent and readout weights: the one-step
  hop delay), ``isyn_out``, ``vmem_out``. Per-event saturation: targets whose incoming weights
  share one sign are summed in one MatMul (same result in any order); every source with a weight
  onto a mixed-sign target is added one at a time in the chip's order, so the graph grows with
  the number of such sources (see `_IntOps.deliver`). Aliased neurons fire one by one in index
  order. The model's metadata (``xylodeploy.exact``) states on which inputs it is exact: all, unless
  built with ``per_event=False`` (smaller and faster; exact only while no such partial sum saturates).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from xylodeploy._optional import require
from xylodeploy.arith.primitives import effective_weights
from xylodeploy.chips import get_chip
from xylodeploy.io.files import atomic_write
from xylodeploy.ir.graph import INPUT, NetworkGraph
from xylodeploy.ir.xylospec import XyloSpec

OPSET = 17
IR_VERSION = 8  # ONNX IR version of opset 17 (readable by any onnxruntime >= 1.13)


def _onnx() -> Any:
    return require("onnx", "onnx", "ONNX export")


class _Builder:
    """Nodes, constants and graph inputs/outputs with unique names."""

    def __init__(self, dtype: Any) -> None:
        self.onnx, self.np_dtype = _onnx(), dtype
        self.elem = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self.k = 0

    def const(self, value: Any, dtype: Any = None) -> str:
        self.k += 1
        name = f"c{self.k}"
        arr = np.asarray(value, dtype=dtype or self.np_dtype)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def op(self, kind: str, *args: str, **attrs: Any) -> str:
        self.k += 1
        out = f"t{self.k}_{kind}"
        self.nodes.append(self.onnx.helper.make_node(kind, list(args), [out], **attrs))
        return out

    def input(self, name: str, width: int) -> str:
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, self.elem, ["B", width]))
        return name

    def output(self, name: str, value: str, width: int) -> None:
        self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name]))
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, self.elem, ["B", width]))

    def model(self, name: str, doc: str) -> Any:
        h = self.onnx.helper
        graph = h.make_graph(self.nodes, name, self.inputs, self.outputs, self.inits, doc_string=doc)
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)], producer_name="xylodeploy")
        model.ir_version = IR_VERSION
        self.onnx.checker.check_model(model, full_check=True)
        return model


def float_step_model(graph: NetworkGraph) -> Any:
    """One float64 step of ``graph`` as an ONNX model (module docstring)."""
    b = _Builder(np.float64)
    x = b.input("x", graph.n_inputs)
    order = [graph.population(n) for n in graph.topological_order()]
    prev = {p.name: b.input(f"{p.name}.spk", p.size) for p in order}
    now: dict[str, str] = {}
    for p in order:
        n, k = p.size, p.n_synapses
        isyn, v = b.input(f"{p.name}.isyn", n * k), b.input(f"{p.name}.v", n)
        drive = None
        for c in graph.incoming(p.name):
            w = np.zeros((c.weight.shape[0], n, k))
            w[:, :, : c.weight.shape[2]] = c.weight
            src = x if c.source == INPUT else (prev[c.source] if c.is_recurrent else now[c.source])
            term = b.op("MatMul", src, b.const(w.reshape(-1, n * k)))
            drive = term if drive is None else b.op("Add", drive, term)
        beta = b.const(np.exp(-p.dt / p.tau_syn).reshape(-1))
        isyn_new = b.op("Mul", beta, b.op("Add", isyn, drive))
        summed = b.op("MatMul", isyn_new, b.const(np.repeat(np.eye(n), k, axis=0)))
        alpha = b.const(np.exp(-p.dt / p.tau_mem))
        v_new = b.op("Add", b.op("Add", b.op("Mul", alpha, v), summed), b.const(p.bias))
        th = b.const(p.threshold)
        count = b.op("Clip", b.op("Floor", b.op("Div", v_new, th)), b.const(0.0), b.const(float(p.max_spikes)))
        count = b.op("Where", b.op("GreaterOrEqual", v_new, th), count, b.const(0.0))
        v_new = b.op("Sub", v_new, b.op("Mul", count, th))
        now[p.name] = count
        b.output(f"{p.name}.isyn_next", isyn_new, n * k)
        b.output(f"{p.name}.v_next", v_new, n)
    for p in order:
        b.output(f"{p.name}.spk_next", now[p.name], p.size)
    b.output("spikes", now[graph.readout], graph.n_outputs)
    return b.model(graph.name, "xylodeploy float step graph; see xylodeploy.interop.onnx")


def _eff(w: np.ndarray, shift: int) -> np.ndarray:
    """int16(w << shift) as the chip computes it (wraps for large shifts)."""
    return effective_weights(w, shift)


class _IntOps:
    """The integer rules of `xylodeploy.arith.scalar_model` as ONNX nodes on int64 (B, N) tensors."""

    def __init__(self, b: _Builder, lo: int, hi: int, per_event: bool = True) -> None:
        self.b, self.lo, self.hi, self.width = b, b.const(lo), b.const(hi), b.const(hi - lo + 1)
        self.zero, self.one = b.const(0), b.const(1)
        self.per_event = per_event
        self.sequential = self.mixed_targets = 0  # sources delivered one at a time; mixed-sign targets

    def sat(self, t: str) -> str:
        return self.b.op("Clip", t, self.lo, self.hi)

    def wrap(self, t: str) -> str:
        """Two's-complement wrap into the state range (``t`` at most one width outside)."""
        b = self.b
        t = b.op("Where", b.op("Greater", t, self.hi), b.op("Sub", t, self.width), t)
        return b.op("Where", b.op("Less", t, self.lo), b.op("Add", t, self.width), t)

    def decrement(self, x: str, dash: np.ndarray) -> str:
        """``dec(x, d)``: floor shift ``(x - Mod(x, 2^d)) / 2^d``, 1 where that is 0 and ``x > 0``."""
        b = self.b
        p = b.const(np.left_shift(1, np.asarray(dash, np.int64)))
        q = b.op("Div", b.op("Sub", x, b.op("Mod", x, p, fmod=0)), p)
        tail = b.op("And", b.op("Equal", q, self.zero), b.op("Greater", x, self.zero))
        return b.op("Where", tail, self.one, q)

    def deliver(self, state: str, sources: list[tuple[str, np.ndarray]]) -> str:
        """Saturating event delivery from ``(counts (B, Nsrc), weights (Nsrc, N))`` groups in chip order.

        A target whose incoming weights share one sign saturates the same whatever the order, so the
        sources that only feed such targets are summed (one MatMul, one saturation). Every source with
        a weight onto a mixed-sign target is then added one at a time, in the chip's order, saturating
        after each (``n`` same-sign events of one source equal one saturating add of ``n * w``).
        Without ``per_event`` everything is summed first ("sum, then saturate"; exact while no partial
        sum onto a mixed-sign target leaves the state range). Returns the new state.
        """
        b = self.b
        w_all = np.concatenate([w for _, w in sources])
        mixed = (w_all > 0).any(axis=0) & (w_all < 0).any(axis=0)
        self.mixed_targets += int(mixed.sum())
        mixed &= self.per_event
        acc, seq = state, []
        for src, w in sources:
            rows = np.flatnonzero((w[:, mixed] != 0).any(axis=1))
            plain = w.copy()
            plain[rows] = 0
            if plain.any():
                acc = b.op("Add", acc, b.op("MatMul", src, b.const(plain)))
            seq += [(src, w[r], r) for r in rows]
        acc = self.sat(acc)
        for src, row, r in seq:
            n = b.op("Gather", src, b.const([r]), axis=1)
            acc = self.sat(b.op("Add", acc, b.op("Mul", n, b.const(row[None]))))
        self.sequential += len(seq)
        return acc

    def fire(self, v: str, th: np.ndarray, cap: int, k0: str | None = None) -> tuple[str, str]:
        """Capped subtractive firing from count ``k0`` (0 if None): ``(count, vmem after reset)``.

        Closed form for ``th > 0`` (``k0 + min(v // th, cap - k0)``), the cap for ``th == 0``, the
        loop unrolled for ``th < 0`` (each spike adds ``|th|`` and the state wraps).
        """
        b, th = self.b, np.asarray(th, np.int64)
        thc, capc = b.const(th), b.const(cap)
        room = capc if k0 is None else b.op("Sub", capc, k0)
        n = b.op("Min", b.op("Max", b.op("Div", v, b.const(np.where(th > 0, th, 1))), self.zero), room)
        if np.any(th == 0):
            n = b.op("Where", b.const(th == 0, np.bool_), room, n)
        n = b.op("Where", b.op("GreaterOrEqual", v, thc), n, self.zero)
        v_after = b.op("Sub", v, b.op("Mul", n, thc))
        count = n if k0 is None else b.op("Add", k0, n)
        if np.any(th < 0):
            neg = b.const(th < 0, np.bool_)
            vv, kk = v, self.zero if k0 is None else k0
            for _ in range(cap):
                go = b.op("And", neg, b.op("And", b.op("GreaterOrEqual", vv, thc), b.op("Less", kk, capc)))
                vv = b.op("Where", go, self.wrap(b.op("Sub", vv, thc)), vv)
                kk = b.op("Add", kk, b.op("Cast", go, to=self.b.elem))
            count, v_after = b.op("Where", neg, kk, count), b.op("Where", neg, vv, v_after)
        return count, v_after

    def integrate(self, syn: list[str], v: str, dash_mem: np.ndarray, bias: np.ndarray | None) -> str:
        """``sat(v + sat(sat(S + wrap(-dec(v))) + bias))`` for the decayed synapses ``syn``."""
        b = self.b
        s = syn[0] if len(syn) == 1 else b.op("Add", syn[0], syn[1])
        a = self.sat(b.op("Add", s, self.wrap(b.op("Neg", self.decrement(v, dash_mem)))))
        if bias is not None:
            a = self.sat(b.op("Add", a, b.const(bias)))
        return self.sat(b.op("Add", v, a))

    def fire_aliased(self, v: str, th: np.ndarray, cap: int, aliases: tuple[tuple[int, ...], ...]) -> tuple[str, str]:
        """Firing with aliases: every neuron at once, then the neurons in alias relations one by one
        in ascending order (a target above its source fires from the received count; a target below
        it just gets the count added, capped)."""
        b, n_h = self.b, len(aliases)
        count, v_after = self.fire(v, th, cap)
        involved = sorted({h for h, ts in enumerate(aliases) if ts} | {g for ts in aliases for g in ts})
        received: dict[int, str] = {}
        final: dict[int, str] = {}
        vmem: dict[int, str] = {}
        for h in involved:
            col = b.const([h])
            if h in received:
                final[h], vmem[h] = self.fire(b.op("Gather", v, col, axis=1), th[h : h + 1], cap, received[h])
            else:
                final[h] = b.op("Gather", count, col, axis=1)
            for g in aliases[h]:
                into = received if g > h else final
                into[g] = b.op("Min", b.op("Add", into.get(g, self.zero), final[h]), b.const(cap))
        eye = np.eye(n_h, dtype=np.int64)
        keep = np.ones((1, n_h), np.int64)
        keep[0, involved] = 0
        count = b.op("Mul", count, b.const(keep))
        for h in involved:
            count = b.op("Add", count, b.op("MatMul", final[h], b.const(eye[h : h + 1])))
        for h, vh in vmem.items():
            v_after = b.op(
                "Add", b.op("Mul", v_after, b.const(1 - eye[h : h + 1])), b.op("MatMul", vh, b.const(eye[h : h + 1]))
            )
        return count, v_after


def int_step_model(spec: XyloSpec, per_event: bool = True) -> Any:
    """One integer step of ``spec`` as an ONNX model (module docstring), exact on every input.

    ``per_event=False`` trades exactness for size: every step's events are summed before one
    saturation, which is exact only on clips where no partial sum onto a target with weights of both
    signs leaves int16. The export then warns (`OnnxExactnessWarning`) and says so in its metadata.
    """
    chip = get_chip(spec.chip)
    b = _Builder(np.int64)
    ops = _IntOps(b, chip.state_range.lo, chip.state_range.hi, per_event)
    nh, no, ns = spec.n_hidden, spec.n_outputs, spec.n_synapses
    x = b.op("Clip", b.input("x", spec.n_inputs), ops.zero, b.const(chip.max_input_events))
    names = ["isyn", "isyn2"][:ns]
    state = {n: b.input(n, nh) for n in (*names, "vmem", "spk")}
    state |= {n: b.input(n, no) for n in ("isyn_out", "vmem_out")}
    w_in, w_rec = _eff(spec.weights_in, spec.weight_shift_in), _eff(spec.weights_rec, spec.weight_shift_rec)
    dashes = [spec.dash_syn, spec.dash_syn_2]
    syn = []
    for s, name in enumerate(names):
        acc = ops.deliver(state[name], [(x, w_in[:, :, s]), (state["spk"], w_rec[:, :, s])])
        syn.append(b.op("Sub", acc, ops.decrement(acc, dashes[s])))
    bias, bias_out = (spec.bias, spec.bias_out) if spec.has_bias else (None, None)
    v = ops.integrate(syn, state["vmem"], spec.dash_mem, bias)
    if spec.has_aliases:
        spk, vmem = ops.fire_aliased(v, spec.threshold, chip.max_hidden_spikes, spec.aliases)
    else:
        spk, vmem = ops.fire(v, spec.threshold, chip.max_hidden_spikes)
    acc = ops.deliver(state["isyn_out"], [(state["spk"], _eff(spec.weights_out, spec.weight_shift_out))])
    isyn_out = b.op("Sub", acc, ops.decrement(acc, spec.dash_syn_out))
    v_out = ops.integrate([isyn_out], state["vmem_out"], spec.dash_mem_out, bias_out)
    out, vmem_out = ops.fire(v_out, spec.threshold_out, chip.max_output_spikes)
    b.output("spikes", out, no)
    for n, s in zip(names, syn, strict=True):
        b.output(f"{n}_next", s, nh)
    for name, value, width in (
        ("vmem_next", vmem, nh), ("spk_next", spk, nh), ("isyn_out_next", isyn_out, no), ("vmem_out_next", vmem_out, no)
    ):  # fmt: skip
        b.output(name, value, width)
    model = b.model(f"xylo_{spec.chip}", "xylodeploy integer Xylo step graph; see xylodeploy.interop.onnx")
    b.onnx.helper.set_model_props(model, {"xylodeploy.chip": spec.chip, "xylodeploy.exact": _exactness(ops)})
    return model


class OnnxExactnessWarning(UserWarning):
    """An integer ONNX graph that is not exact on every input (``per_event=False``)."""


def _exactness(ops: _IntOps) -> str:
    """The ``xylodeploy.exact`` metadata: on which inputs the graph equals the chip (warns if not all)."""
    if ops.per_event or ops.mixed_targets == 0:
        return (
            "every input: bit-exact with xylodeploy's reference simulator and xylosim on all recorded states "
            f"(per-event saturation order modelled for {ops.sequential} event sources)"
        )
    where = (
        f"clips on which no step's partial sum of events onto the {ops.mixed_targets} synaptic states with weights "
        "of both signs leaves -32768..32767 (events are summed, then saturated once)"
    )
    warnings.warn(f"ONNX export with per_event=False is exact only on {where}", OnnxExactnessWarning, stacklevel=3)
    return where


def export_onnx(obj: NetworkGraph | XyloSpec, path: str | os.PathLike, per_event: bool = True) -> Any:
    """Write the float (graph) or integer (spec, `int_step_model`) step model to ``path`` atomically; returns it."""
    model = int_step_model(obj, per_event) if isinstance(obj, XyloSpec) else float_step_model(obj)
    with atomic_write(path) as fh:
        fh.write(model.SerializeToString())
    return model


def run_steps(model: Any, raster: Any) -> dict[str, np.ndarray]:
    """Run a step model over a (B, T, Nin) raster with onnxruntime; zero initial state.

    Returns every ``*_next`` state and ``spikes``, stacked over time as (B, T, width).
    """
    ort = require("onnxruntime", "onnx", "running ONNX step graphs")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    dtype = np.int64 if sess.get_inputs()[0].type == "tensor(int64)" else np.float64
    x = np.asarray(raster)
    x = x[None] if x.ndim == 2 else x
    feeds = {i.name: np.zeros((x.shape[0], i.shape[1]), dtype) for i in sess.get_inputs() if i.name != "x"}
    names = [o.name for o in sess.get_outputs()]
    rows: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for t in range(x.shape[1]):
        outs = sess.run(names, {"x": x[:, t].astype(dtype), **feeds})
        for n, o in zip(names, outs, strict=True):
            rows[n].append(o)
            if n.endswith("_next"):
                feeds[n[: -len("_next")]] = o
    return {n: np.stack(r, axis=1) for n, r in rows.items()}


__all__ = ["OPSET", "OnnxExactnessWarning", "export_onnx", "float_step_model", "int_step_model", "run_steps"]
