"""The pipeline report: one JSON file plus PNG plots people would rather look at than read.

Plots (matplotlib, Agg backend, written atomically):
``weights.png`` weight histograms per shift group, float vs de-quantised integer;
``time_constants.png`` requested vs effective time constants per population;
``readout_trace.png`` one test clip's readout, float model vs chip (reference simulator);
``resources.png`` what the network uses of the chip.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from xylodeploy.drc import resource_summary
from xylodeploy.flow.compile import Deployment
from xylodeploy.io.files import atomic_write
from xylodeploy.quantize import dash_to_tau


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())
    return path


def write_json(doc: dict[str, Any], path: Path) -> Path:
    """Write ``doc`` as indented JSON, atomically."""
    with atomic_write(path, "w") as fh:
        json.dump(doc, fh, indent=2, default=_json_default)
        fh.write("\n")
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def dequantized_weights(dep: Deployment) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per shift group: (float weights, de-quantised integer weights), same order, in float units."""
    q, g = dep.qgraph, dep.graph
    shifts = {"in": q.weight_shift_in, "rec": q.weight_shift_rec, "out": q.weight_shift_out}
    out: dict[str, tuple[list, list]] = {}
    for qc in q.connections:
        fc = next(c for c in g.connections if (c.source, c.target) == (qc.source, qc.target))
        scale = np.asarray(q.population(qc.target).scale, dtype=np.float64)[None, :, None]
        deq = qc.weight * 2.0 ** shifts[qc.group] / scale
        w = np.asarray(fc.weight)[:, :, : deq.shape[2]]
        ref, approx = out.setdefault(qc.group, ([], []))
        ref.append(w.ravel())
        approx.append(deq.ravel())
    return {k: (np.concatenate(a), np.concatenate(b)) for k, (a, b) in out.items()}


def plot_weights(dep: Deployment, path: Path) -> Path:
    """Histograms of float vs de-quantised weights, one panel per shift group."""
    plt = _pyplot()
    groups = dequantized_weights(dep)
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.2), squeeze=False)
    names = {"in": "input -> hidden", "rec": "hidden -> hidden", "out": "hidden -> readout"}
    for ax, (grp, (ref, deq)) in zip(axes[0], groups.items(), strict=True):
        bins = np.linspace(min(ref.min(), deq.min()), max(ref.max(), deq.max()), 60)
        ax.hist(ref, bins=bins, alpha=0.6, label="float")
        ax.hist(deq, bins=bins, alpha=0.6, label="int8 (de-quantised)", histtype="step", linewidth=1.5)
        ax.set_title(names.get(grp, grp))
        ax.set_yscale("log")
        ax.set_xlabel("weight [float units]")
    axes[0][0].set_ylabel("count")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle("Weights before / after quantisation", y=1.04)
    return _save(fig, path)


def plot_time_constants(dep: Deployment, path: Path) -> Path:
    """Requested vs effective (bit-shift) time constants, per population and field."""
    plt = _pyplot()
    dt = dep.graph.populations[0].dt
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    lo, hi = np.inf, 0.0
    for pop in dep.graph.populations:
        qp = dep.qgraph.population(pop.name)
        for label, req, dash in (("tau_mem", pop.tau_mem, qp.dash_mem), ("tau_syn", pop.tau_syn, qp.dash_syn)):
            req = np.asarray(req).ravel() / dt
            eff = dash_to_tau(np.asarray(dash).ravel()[: req.size], dt) / dt
            ax.scatter(req, np.maximum(eff, 0.5), s=14, label=f"{pop.name} {label}", alpha=0.8)
            lo, hi = min(lo, req.min()), max(hi, req.max(), eff.max())
    ax.plot([lo * 0.8, hi * 1.2], [lo * 0.8, hi * 1.2], "k--", linewidth=0.8, label="effective = requested")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("requested tau [dt]")
    ax.set_ylabel("effective tau on chip [dt]")
    ax.legend(fontsize=7)
    ax.set_title("Time constants: requested vs bit-shift decay")
    return _save(fig, path)


def plot_readout(float_trace: np.ndarray, chip_trace: np.ndarray, quantity: str, label: int | None,
                 classes: list[str] | None, path: Path) -> Path:  # fmt: skip
    """One clip's readout over time: float model (solid) vs chip (dashed), one colour per class."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for k in range(float_trace.shape[1]):
        name = classes[k] if classes and k < len(classes) else str(k)
        (line,) = ax.plot(float_trace[:, k], linewidth=1.2, label=f"{name}")
        ax.plot(chip_trace[:, k], "--", color=line.get_color(), linewidth=1.0)
    ax.set_xlabel("time step")
    ax.set_ylabel(f"readout {quantity} [float units]")
    truth = "" if label is None else f" (true class: {classes[label] if classes else label})"
    ax.set_title(f"Readout, float (solid) vs chip (dashed){truth}")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_resources(dep: Deployment, path: Path) -> Path:
    """Horizontal bars: percent of each chip resource the network uses."""
    plt = _pyplot()
    rows = [r for r in resource_summary(dep.spec, dep.chip) if r.percent is not None]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(rows) + 1.2))
    pct = [r.percent for r in rows]
    ax.barh([r.resource for r in rows], pct, color=["tab:red" if p > 100 else "tab:blue" for p in pct])
    for i, r in enumerate(rows):
        ax.text(min(r.percent, 100) + 1, i, f"{r.used}/{r.available}", va="center", fontsize=7)
    ax.set_xlim(0, 115)
    ax.set_xlabel(f"% of {dep.chip.title} ({dep.chip.part_number})")
    ax.invert_yaxis()
    ax.set_title("Chip resources used")
    return _save(fig, path)
