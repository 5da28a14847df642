"""Differential validation: float model vs exact torch mode vs reference vs xylosim (or a board).

``validate(spec, x, y, model=...)`` runs the same clips through every stage, reports each stage's
accuracy, how often each pair of stages predicts the same class, whether the integer stages agree
bit for bit, and for any disagreement the first divergence: stage pair, quantity, layer (population),
clip, time step and neuron. The float model is compared with the chip through its hidden spike trains
(it is not expected to be bit-exact: quantisation changes them); integer stages must agree exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xylodeploy.backends import get_backend
from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.backends.compare import compare_recordings
from xylodeploy.errors import ConfigError
from xylodeploy.ir.recording import Divergence
from xylodeploy.ir.xylospec import XyloSpec
from xylodeploy.readout import ReadoutRule


@dataclass
class StageResult:
    """Predictions and accuracy of one stage on the clips it ran."""

    name: str
    predictions: np.ndarray
    n_clips: int
    seconds: float
    accuracy: float | None = None


@dataclass
class PairResult:
    """Agreement of two stages on the clips both ran."""

    a: str
    b: str
    prediction_agreement: float
    bit_exact: bool | None  # None: not an integer-vs-integer comparison
    first_divergence: Divergence | None = None


@dataclass
class ValidationReport:
    """Everything `validate` measured; ``ok`` is True when every integer pair is bit-exact."""

    stages: dict[str, StageResult] = field(default_factory=dict)
    pairs: list[PairResult] = field(default_factory=list)
    saturation_steps: int = 0  # exact-mode neuron-steps flagged for possible per-event saturation

    @property
    def ok(self) -> bool:
        return all(p.bit_exact is not False for p in self.pairs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "saturation_steps": self.saturation_steps,
            "stages": {
                n: {"accuracy": s.accuracy, "n_clips": s.n_clips, "seconds": s.seconds} for n, s in self.stages.items()
            },  # fmt: skip
            "pairs": [
                {
                    "a": p.a,
                    "b": p.b,
                    "prediction_agreement": p.prediction_agreement,
                    "bit_exact": p.bit_exact,
                    "first_divergence": None if p.first_divergence is None else str(p.first_divergence),
                }
                for p in self.pairs
            ],  # fmt: skip
        }


def layer_of(spec: XyloSpec, neuron: int, quantity: str) -> tuple[str, int]:
    """(population name, index within it) of a hidden or readout neuron, from the mapping provenance."""
    if quantity.endswith("_out"):
        return "readout", neuron
    pops = dict(spec.provenance.get("mapping", {}).get("populations", {}))
    for name, r in pops.items():
        if int(r["start"]) <= neuron < int(r["stop"]):
            return name, neuron - int(r["start"])
    return "hidden", neuron


def _chunks(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def _float_hidden(model: Any, x: np.ndarray, spec: XyloSpec) -> tuple[np.ndarray, np.ndarray]:
    """(readout trace (B,T,K), hidden spikes (B,T,Nh) in the chip's neuron order) of a float SynNet.

    Layer ``hidden<i>`` goes to the neuron range the mapping gave it (``spec.provenance["mapping"]``);
    without that record the layers are concatenated in order. The model's train/eval mode is restored.
    """
    import torch

    if not callable(getattr(model, "record", None)):
        raise ConfigError(f"validation: the float stage needs a SynNet-like model with .record(), "
                          f"got {type(model).__name__}")  # fmt: skip
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            rec = model.record(torch.as_tensor(x, dtype=torch.float32))
    finally:
        model.train(was_training)
    layers = [h.spikes.numpy() for h in rec.hidden]
    pops = dict(spec.provenance.get("mapping", {}).get("populations", {}))
    ranges = [pops.get(f"hidden{i}") for i in range(len(layers))]
    fits = [
        r is not None and int(r["stop"]) - int(r["start"]) == a.shape[2] for r, a in zip(ranges, layers, strict=True)
    ]
    if all(fits):
        hidden = np.zeros((*layers[0].shape[:2], spec.n_hidden), dtype=layers[0].dtype)
        for r, a in zip(ranges, layers, strict=True):
            hidden[:, :, int(r["start"]) : int(r["stop"])] = a
    else:
        hidden = np.concatenate(layers, axis=2)
    return rec.output.numpy(), hidden


def _divergence(spec: XyloSpec, pair: str, rec_a: Recording, rec_b: Recording, offset: int) -> Divergence | None:
    agreement = compare_recordings(rec_a, rec_b, record=True)
    d = agreement.first_divergence
    if d is None:
        return None
    layer, idx = layer_of(spec, d.neuron, d.quantity)
    return Divergence(d.clip + offset, d.step, idx, d.quantity, d.a, d.b, pair, layer)


def _float_divergence(spec: XyloSpec, float_spikes: np.ndarray, chip_spikes: np.ndarray, offset: int) -> Divergence:
    bad = np.argwhere(np.rint(float_spikes) != chip_spikes)
    order = np.lexsort((bad[:, 2], bad[:, 1], bad[:, 0]))
    c, t, n = (int(v) for v in bad[order[0]])
    layer, idx = layer_of(spec, n, "spikes")
    return Divergence(c + offset, t, idx, "spikes", float(float_spikes[c, t, n]), float(chip_spikes[c, t, n]),
                      "float vs chip", layer)  # fmt: skip


def validate(
    spec: XyloSpec,
    x: Any,
    y: Any = None,
    *,
    model: Any = None,
    rule: ReadoutRule | None = None,
    backends: tuple[str, ...] = ("reference", "xylosim"),
    exact_torch: bool = True,
    max_clips: dict[str, int] | None = None,
    batch_size: int = 64,
    device_backends: dict[str, Any] | None = None,
) -> ValidationReport:
    """Run clips ``x`` (N, T, Nin) through every stage and compare them (module docstring).

    Args:
        spec: the deployed spec. y: (N,) labels (accuracy is reported when given).
        model: the float torch model (optional); its hidden spikes are compared with the chip's.
        rule: readout rule; default: the one the spec records (`ReadoutRule.from_spec`).
        backends: integer backends to run, compared with each other bit for bit (first = reference point).
        exact_torch: also run `XyloExactNet` (the fine-tuning arithmetic) and compare it bit for bit.
        max_clips: per-stage clip limits (e.g. ``{"xylosim": 32}``, xylosim is slow).
        device_backends: ready backend objects by name (e.g. a board), used instead of `get_backend`.
    """
    xb, _ = as_batch(x, spec.n_inputs, "validation clips")
    labels = None if y is None else np.asarray(y, dtype=np.int64)
    if labels is not None and len(labels) != len(xb):
        raise ConfigError(f"validation: {len(labels)} labels for {len(xb)} clips")
    rule = rule or ReadoutRule.from_spec(spec)
    stages = _stages(spec, model, rule, (["exact"] if exact_torch else []) + list(backends), device_backends)
    limits = {s.name: len(xb) for s in stages} | dict(max_clips or {})
    preds: dict[str, list[np.ndarray]] = {s.name: [] for s in stages}
    secs = {s.name: 0.0 for s in stages}
    firsts: dict[tuple[str, str], Divergence | None] = {}
    for sl in _chunks(len(xb), batch_size):
        recs: dict[str, Recording] = {}
        for st in stages:
            if sl.start >= limits[st.name]:
                continue
            t0 = time.perf_counter()
            recs[st.name] = st.backend.run(xb[sl][: max(0, limits[st.name] - sl.start)], record=True)
            preds[st.name].append(rule.predict(st.trace(recs[st.name])))
            secs[st.name] += time.perf_counter() - t0
        _compare_chunk(spec, stages, recs, firsts, sl.start)
    report = ValidationReport(saturation_steps=sum(getattr(s.backend, "saturation_steps", 0) for s in stages))
    for st in stages:
        p = np.concatenate(preds[st.name]) if preds[st.name] else np.zeros(0, np.int64)
        acc = None if labels is None or not len(p) else float(np.mean(p == labels[: len(p)]))
        report.stages[st.name] = StageResult(st.name, p, len(p), secs[st.name], acc)
    report.pairs = _pairs(report.stages, firsts, {s.name for s in stages if s.kind == "float"})
    return report


@dataclass(frozen=True)
class _Stage:
    """One stage: a loaded backend (or the float model behind the same `run`), its kind
    ('float', 'model' or 'chip') and where its readout trace is in its `Recording`."""

    name: str
    backend: Any
    kind: str
    trace: Callable[[Recording], np.ndarray]


class _FloatStage:
    """The float model as a stage: ``spikes_out`` holds its readout trace, ``spikes`` its hidden spikes."""

    def __init__(self, model: Any, spec: XyloSpec) -> None:
        self.model, self.spec = model, spec

    def run(self, x: np.ndarray, record: bool = True) -> Recording:
        trace, hidden = _float_hidden(self.model, x, self.spec)
        return Recording(spikes_out=trace, spikes=hidden)


def _stages(spec: XyloSpec, model: Any, rule: ReadoutRule, names: list[str], given: dict | None) -> list[_Stage]:
    """The float stage (if a model is given), then every named backend, loaded with ``spec``."""
    out = [] if model is None else [_Stage("float", _FloatStage(model, spec), "float", lambda r: r.spikes_out)]
    for n in names:
        backend = (given or {}).get(n) or get_backend(n)
        backend.load(spec)
        out.append(
            _Stage(n, backend, getattr(backend, "kind", "chip"), lambda r: rule.trace_of(r.spikes_out, r.vmem_out))
        )
    return out


def _compare_chunk(spec: XyloSpec, stages: list[_Stage], recs: dict[str, Recording],
                   firsts: dict[tuple[str, str], Divergence | None], offset: int) -> None:  # fmt: skip
    integer = [s.name for s in stages if s.kind != "float" and s.name in recs]
    chips = [s.name for s in stages if s.kind == "chip" and s.name in recs]
    chip = chips[0] if chips else (integer[0] if integer else None)
    pairs = [(a, b) for i, a in enumerate(integer) for b in integer[i + 1 :]]
    for a, b in pairs:
        if firsts.get((a, b)) is None:
            n = min(len(recs[a].spikes_out), len(recs[b].spikes_out))
            firsts[(a, b)] = _divergence(spec, f"{a} vs {b}", _head(recs[a], n), _head(recs[b], n), offset)
    for f in (s.name for s in stages if s.kind == "float" and s.name in recs):
        if chip is not None and firsts.get((f, chip)) is None:
            n = min(len(recs[f].spikes), len(recs[chip].spikes))
            fs, cs = recs[f].spikes[:n], recs[chip].spikes[:n]
            if fs.shape == cs.shape and np.any(np.rint(fs) != cs):
                firsts[(f, chip)] = _float_divergence(spec, fs, cs, offset)
            firsts.setdefault((f, chip), None)


def _head(rec: Recording, n: int) -> Recording:
    return Recording(**{k: v[:n] for k, v in rec.fields().items()})


def _pairs(stages: dict[str, StageResult], firsts: dict, floats: set[str]) -> list[PairResult]:
    out = []
    for (a, b), div in firsts.items():
        n = min(stages[a].n_clips, stages[b].n_clips)
        agree = float(np.mean(stages[a].predictions[:n] == stages[b].predictions[:n])) if n else 1.0
        out.append(PairResult(a, b, agree, None if a in floats else div is None, div))
    return out
