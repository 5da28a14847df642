"""Differential validation: float model vs exact torch mode vs reference vs xylosim (or a board).

``validate(spec, x, y, model=...)`` runs the same clips through every stage, reports each stage's
accuracy, how often each pair of stages predicts the same class, whether the integer stages agree
bit for bit, and for any disagreement the first divergence: stage pair, quantity, layer (population),
clip, time step and neuron. The float model is compared with the chip through its hidden spike trains
(it is not expected to be bit-exact: quantisation changes them); integer stages must agree exactly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xylodeploy.backends import get_backend
from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.backends.compare import compare_recordings
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec
from xylodeploy.readout import ReadoutRule


@dataclass(frozen=True)
class Divergence:
    """The first place where two stages differ."""

    stages: str  # e.g. "exact vs reference"
    quantity: str  # spikes, vmem, isyn, isyn2, spikes_out, ...
    layer: str  # population name (from the spec's mapping provenance) or "readout"
    clip: int
    step: int
    neuron: int  # index within the layer
    a: float
    b: float

    def __str__(self) -> str:
        return (f"{self.stages}: first divergence in layer '{self.layer}' {self.quantity}, clip {self.clip}, "
                f"step {self.step}, neuron {self.neuron} ({self.a:g} vs {self.b:g})")  # fmt: skip


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


def _exact_net(spec: XyloSpec) -> Any:
    from xylodeploy.models.exact import XyloExactNet

    return XyloExactNet(spec, trainable=())


def _exact(net: Any, x: np.ndarray) -> tuple[Recording, int]:
    import warnings

    import torch

    from xylodeploy.models.exact import ExactSaturationWarning

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", ExactSaturationWarning)
        out = net(torch.as_tensor(x), record=True)
    flagged = int(out.saturation.sum()) if out.saturation is not None else 0
    return out.to_recording(), flagged


def _divergence(spec: XyloSpec, pair: str, rec_a: Recording, rec_b: Recording, offset: int) -> Divergence | None:
    agreement = compare_recordings(rec_a, rec_b, record=True)
    d = agreement.first_divergence
    if d is None:
        return None
    layer, idx = layer_of(spec, d.neuron, d.quantity)
    return Divergence(pair, d.quantity, layer, d.clip + offset, d.step, idx, d.device, d.reference)


def _float_divergence(spec: XyloSpec, float_spikes: np.ndarray, chip_spikes: np.ndarray, offset: int) -> Divergence:
    bad = np.argwhere(np.rint(float_spikes) != chip_spikes)
    order = np.lexsort((bad[:, 2], bad[:, 1], bad[:, 0]))
    c, t, n = (int(v) for v in bad[order[0]])
    layer, idx = layer_of(spec, n, "spikes")
    return Divergence("float vs chip", "spikes", layer, c + offset, t, idx, float(float_spikes[c, t, n]),
                      float(chip_spikes[c, t, n]))  # fmt: skip


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
    names = (["float"] if model is not None else []) + (["exact"] if exact_torch else []) + list(backends)
    limits = {n: len(xb) for n in names} | dict(max_clips or {})
    loaded = {n: (device_backends or {}).get(n) or get_backend(n) for n in backends}
    for b in loaded.values():
        b.load(spec)
    exact_net = _exact_net(spec) if exact_torch and limits["exact"] > 0 else None  # once, not per chunk
    preds: dict[str, list[np.ndarray]] = {n: [] for n in names}
    secs = dict.fromkeys(names, 0.0)
    firsts: dict[tuple[str, str], Divergence | None] = {}
    report = ValidationReport()
    for sl in _chunks(len(xb), batch_size):
        recs: dict[str, Recording] = {}
        chunk = xb[sl]
        for n in names:
            if sl.start >= limits[n]:
                continue
            part = chunk[: max(0, limits[n] - sl.start)]
            t0 = time.perf_counter()
            if n == "float":
                trace, hidden = _float_hidden(model, part, spec)
                recs[n] = Recording(spikes_out=trace, spikes=hidden)
                preds[n].append(rule.predict(trace))
            else:
                if n == "exact":
                    recs[n], flagged = _exact(exact_net, part)
                    report.saturation_steps += flagged
                else:
                    recs[n] = loaded[n].run(part, record=True)
                preds[n].append(rule.predict(rule.trace_of(recs[n].spikes_out, recs[n].vmem_out)))
            secs[n] += time.perf_counter() - t0
        _compare_chunk(spec, names, recs, firsts, sl.start)
    for n in names:
        p = np.concatenate(preds[n]) if preds[n] else np.zeros(0, np.int64)
        acc = None if labels is None or not len(p) else float(np.mean(p == labels[: len(p)]))
        report.stages[n] = StageResult(n, p, len(p), secs[n], acc)
    report.pairs = _pairs(report.stages, firsts)
    return report


def _compare_chunk(spec: XyloSpec, names: list[str], recs: dict[str, Recording],
                   firsts: dict[tuple[str, str], Divergence | None], offset: int) -> None:  # fmt: skip
    integer = [n for n in names if n != "float" and n in recs]
    chip = next((n for n in integer if n != "exact"), integer[0] if integer else None)
    pairs = [(a, b) for i, a in enumerate(integer) for b in integer[i + 1 :]]
    for a, b in pairs:
        if firsts.get((a, b)) is None:
            n = min(len(recs[a].spikes_out), len(recs[b].spikes_out))
            firsts[(a, b)] = _divergence(spec, f"{a} vs {b}", _head(recs[a], n), _head(recs[b], n), offset)
    if "float" in recs and chip is not None and firsts.get(("float", chip)) is None:
        n = min(len(recs["float"].spikes), len(recs[chip].spikes))
        fs, cs = recs["float"].spikes[:n], recs[chip].spikes[:n]
        if fs.shape == cs.shape and np.any(np.rint(fs) != cs):
            firsts[("float", chip)] = _float_divergence(spec, fs, cs, offset)
        firsts.setdefault(("float", chip), None)


def _head(rec: Recording, n: int) -> Recording:
    return Recording(**{k: v[:n] for k, v in rec.fields().items()})


def _pairs(stages: dict[str, StageResult], firsts: dict) -> list[PairResult]:
    out = []
    for (a, b), div in firsts.items():
        n = min(stages[a].n_clips, stages[b].n_clips)
        agree = float(np.mean(stages[a].predictions[:n] == stages[b].predictions[:n])) if n else 1.0
        out.append(PairResult(a, b, agree, None if a == "float" else div is None, div))
    return out
