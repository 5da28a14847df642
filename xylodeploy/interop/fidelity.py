"""Source model vs imported graph: the framework's own forward pass against the float graph.

A torch-based import (snnTorch, SpikingJelly, rockpool) is a translation; every approximation it makes
is reported, but only running both says how much it costs on *this* model. `check_source` runs a copy
of the source model with its own library (the importer's ``run_<framework>``, listed in
`xylodeploy.interop.registry`) and the imported float graph (no hop delay: the frameworks deliver a
spike within its step) on the same clips, and compares the readouts::

    error = sum |n_graph - n_source| / max(1, sum n_source)       (spike counts per clip and neuron)
    error = sum |v_graph - v_source| / max(eps, sum |v_source|)   (a membrane readout)

A model whose forward cannot be stepped generically (one that takes its own states as arguments, or
whose output is not the readout's spikes) is reported as not checked, never as agreeing. An import that
said "exact" and still differs is called out as a defect of the importer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xylodeploy.ir.graph import NetworkGraph

SOURCE_THRESHOLD = 0.10  # warn when the graph's readout differs from the source's by more than this
MAX_CLIPS = 32  # the first clips are enough to measure a translation; more only cost time
_EXACT_TOLERANCE = 1e-4  # float rounding between a framework's float32 pass and our float64 graph


@dataclass
class SourceCheck:
    """Outcome of `check_source`: the error (None when not checked), a line to print, loud warnings."""

    error: float | None
    line: str
    warnings: list[str] = field(default_factory=list)


def _compare(out: np.ndarray, graph: NetworkGraph, clips: np.ndarray, mode: str) -> tuple[float, str]:
    """The graph's readout against the source's ``out`` (not all zero), with the chip check's formulas."""
    from xylodeploy.interop._common import simulate_graph
    from xylodeploy.interop.agreement import count_error, membrane_error

    sim = simulate_graph(graph, clips)
    if mode == "vmem":
        return membrane_error(out, sim[f"{graph.readout}.v"]), "membrane error"
    return count_error(out.sum(axis=1), sim[graph.readout].sum(axis=1)), "readout spike-count error"


def check_source(
    framework: str, model: Any, graph: NetworkGraph, report: Any, clips: np.ndarray, clips_text: str
) -> SourceCheck:
    """Run ``model`` with its own library and ``graph`` on ``clips`` (module docstring)."""
    from xylodeploy.interop.registry import get_runner

    runner = get_runner(framework)
    if len(clips) > MAX_CLIPS:
        clips, clips_text = clips[:MAX_CLIPS], f"the first {MAX_CLIPS} of the {clips_text}"
    if runner is None:
        return SourceCheck(None, f"source vs import: no {framework} forward pass to compare with")
    mode = "vmem" if getattr(report, "readout", "spikes") == "vmem" else "spikes"
    try:
        out = np.asarray(runner(model, np.asarray(clips, dtype=np.float32)), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - the user's model may fail in any way when stepped generically
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        return SourceCheck(None, f"source vs import: not checked ({framework} model not steppable here: {reason})")
    expected = (clips.shape[0], clips.shape[1], graph.population(graph.readout).size)
    if out.shape != expected or (mode == "spikes" and not np.all(out == np.round(out))):
        return SourceCheck(None, f"source vs import: not checked ({framework} output {out.shape} is not the "
                                 f"readout's {'membrane' if mode == 'vmem' else 'spikes'} {expected})")  # fmt: skip
    if not np.any(out):
        return SourceCheck(None, f"source vs import: not judged (the {framework} model's readout is silent on the "
                                 f"{clips_text}; give --example-input clips that drive it)")  # fmt: skip
    error, what = _compare(out, graph, np.asarray(clips), mode)
    line = f"source vs import ({framework}'s own forward pass, {clips_text}): {what} {error:.3f}"
    warns = []
    if getattr(report, "exact", False) and error > _EXACT_TOLERANCE:
        warns.append(f"the import says exact but differs from the {framework} model by {error:.3f}: an importer "
                     "defect; please report it with the model")  # fmt: skip
    elif error > SOURCE_THRESHOLD:
        approx = ", ".join(sorted({n.layer for n in getattr(report, "notes", []) if not n.exact})) or "none"
        warns.append(f"the imported float graph differs from the {framework} model by {error:.3f} on the readout "
                     f"(threshold {SOURCE_THRESHOLD:.0%}); approximated layers: {approx}")  # fmt: skip
    return SourceCheck(error, line, warns)


__all__ = ["SOURCE_THRESHOLD", "SourceCheck", "check_source"]
