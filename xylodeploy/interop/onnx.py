"""ONNX export: one time step of a network as a stateful ONNX graph (built with onnx.helper).

Both graphs take ``x`` (B, Nin) and the state of the previous step and return the output spikes
and the new state; feed the state outputs back as inputs at the next step (`run_steps` does;
zeros start a clip). Inputs ``<name>`` pair with outputs ``<name>_next``.

* `float_step_model(graph)` (float64): the `NetworkGraph` dynamics without hop delays (as
  `xylodeploy.interop._common.simulate_graph`). State per population ``p``: ``p.isyn``
  (B, n*k, index ``j*k + s``), ``p.v`` (B, n), ``p.spk`` (B, n: last step's spikes, drives the
  recurrent weights). Output ``spikes``: readout spikes.
* `int_step_model(spec)` (int64, standard operators only): the Xylo core of xylo-spec.md §1.2.
  State ``isyn``, ``isyn2`` (two-synapse specs), ``vmem``, ``spk`` (last step's hidden counts,
  driving recurrent and readout weights: the chip's one-step hop delay), ``isyn_out``,
  ``vmem_out``. Effective weights ``int16(w << shift)`` are constants; input counts are clipped
  to the chip maximum; the bit-shift decay is ``q = (x - Mod(x, 2^d)) / 2^d`` (floor) with
  ``q = 1`` where ``q == 0 and x > 0``; spike counts are ``clip(v / th, 0, kmax)`` where ``v >= th``,
  followed by the subtractive reset. Saturation: the chip saturates Isyn to int16 after EVERY
  event (order dependent); this graph adds all of a step's events first and then saturates once
  ("sum, then saturate"). The two agree whenever no partial sum leaves the int16 range, in
  particular on every spec that never saturates; all other saturation points (Isyn + Vmem sum,
  bias, Vmem) are as on the chip. Specs with aliases or thresholds <= 0 are refused.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from xylodeploy._optional import require
from xylodeploy.chips import get_chip
from xylodeploy.errors import ConfigError
from xylodeploy.fileio import atomic_write
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
    return ((np.asarray(w, np.int64) << shift) + 32768) % 65536 - 32768


class _IntOps:
    def __init__(self, b: _Builder, lo: int, hi: int) -> None:
        self.b, self.lo, self.hi = b, b.const(lo), b.const(hi)
        self.zero, self.one = b.const(0), b.const(1)

    def sat(self, t: str) -> str:
        return self.b.op("Clip", t, self.lo, self.hi)

    def decrement(self, x: str, dash: np.ndarray) -> str:
        b = self.b
        p = b.const(np.left_shift(1, np.asarray(dash, np.int64)))
        q = b.op("Div", b.op("Sub", x, b.op("Mod", x, p, fmod=0)), p)
        tail = b.op("And", b.op("Equal", q, self.zero), b.op("Greater", x, self.zero))
        return b.op("Where", tail, self.one, q)

    def neuron(self, syn: list[str], v: str, dash_mem: np.ndarray, bias: np.ndarray | None, th: np.ndarray, kmax: int):
        b = self.b
        s = syn[0] if len(syn) == 1 else b.op("Add", syn[0], syn[1])
        a = self.sat(b.op("Sub", s, self.decrement(v, dash_mem)))
        if bias is not None:
            a = self.sat(b.op("Add", a, b.const(bias)))
        v = self.sat(b.op("Add", v, a))
        thc = b.const(th)
        count = b.op("Clip", b.op("Div", v, thc), self.zero, b.const(kmax))
        count = b.op("Where", b.op("GreaterOrEqual", v, thc), count, self.zero)
        return count, b.op("Sub", v, b.op("Mul", count, thc))


def unsupported(spec: XyloSpec) -> str | None:
    """Why `int_step_model` refuses ``spec`` (None when it exports it)."""
    if spec.has_aliases:
        return "ONNX export: specs with aliases are not supported"
    if np.any(spec.threshold <= 0) or np.any(spec.threshold_out <= 0):
        return "ONNX export: thresholds must be >= 1 (threshold 0 makes the chip fire every step)"
    return None


def int_step_model(spec: XyloSpec) -> Any:
    """One exact integer step of ``spec`` as an ONNX model (module docstring)."""
    chip = get_chip(spec.chip)
    reason = unsupported(spec)
    if reason:
        raise ConfigError(reason)
    b = _Builder(np.int64)
    ops = _IntOps(b, chip.state_range.lo, chip.state_range.hi)
    nh, no, ns = spec.n_hidden, spec.n_outputs, spec.n_synapses
    x = b.op("Clip", b.input("x", spec.n_inputs), ops.zero, b.const(chip.max_input_events))
    names = ["isyn", "isyn2"][:ns]
    state = {n: b.input(n, nh) for n in (*names, "vmem", "spk")}
    state |= {n: b.input(n, no) for n in ("isyn_out", "vmem_out")}
    w_in, w_rec = _eff(spec.weights_in, spec.weight_shift_in), _eff(spec.weights_rec, spec.weight_shift_rec)
    dashes = [spec.dash_syn, spec.dash_syn_2]
    syn = []
    for s, name in enumerate(names):
        drive = b.op(
            "Add", b.op("MatMul", x, b.const(w_in[:, :, s])), b.op("MatMul", state["spk"], b.const(w_rec[:, :, s]))
        )
        acc = ops.sat(b.op("Add", state[name], drive))
        syn.append(b.op("Sub", acc, ops.decrement(acc, dashes[s])))
    bias, bias_out = (spec.bias, spec.bias_out) if spec.has_bias else (None, None)
    spk, vmem = ops.neuron(syn, state["vmem"], spec.dash_mem, bias, spec.threshold, chip.max_hidden_spikes)
    w_out = _eff(spec.weights_out, spec.weight_shift_out)
    acc = ops.sat(b.op("Add", state["isyn_out"], b.op("MatMul", state["spk"], b.const(w_out))))
    isyn_out = b.op("Sub", acc, ops.decrement(acc, spec.dash_syn_out))
    out, vmem_out = ops.neuron(
        [isyn_out], state["vmem_out"], spec.dash_mem_out, bias_out, spec.threshold_out, chip.max_output_spikes
    )
    b.output("spikes", out, no)
    for n, s in zip(names, syn, strict=True):
        b.output(f"{n}_next", s, nh)
    for name, value, width in (
        ("vmem_next", vmem, nh), ("spk_next", spk, nh), ("isyn_out_next", isyn_out, no), ("vmem_out_next", vmem_out, no)
    ):  # fmt: skip
        b.output(name, value, width)
    return b.model(f"xylo_{spec.chip}", "xylodeploy integer Xylo step graph; see xylodeploy.interop.onnx")


def export_onnx(obj: NetworkGraph | XyloSpec, path: str | os.PathLike) -> Any:
    """Write the float (graph) or integer (spec) step model to ``path`` atomically; returns it."""
    model = int_step_model(obj) if isinstance(obj, XyloSpec) else float_step_model(obj)
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


__all__ = ["OPSET", "export_onnx", "float_step_model", "int_step_model", "run_steps", "unsupported"]
