"""Calibrated quantisation: measured state ranges set the scales, the reference simulator picks the spec.

1. Ranges. The float model runs the calibration clips (``model.record``). For population ``p`` and
   neuron ``j``, with ``P_q`` the ``percentile`` over clips x steps (synapses pooled)::

       R_j = max(P_q |isyn_j|, P_q |u_j|, threshold_j),      u = v + n * threshold  (Vmem before reset)

2. Candidates. A calibrated candidate with margins ``(m_h, m_o)`` gives every hidden neuron its own
   scale with ``m_h * R_j`` inside int16 (``s_j <= 32767 / (m_h R_j)``; thresholds are limited only by
   the chip's threshold range, no fixed headroom bits), and the readout ONE scale (the argmax over
   readout neurons must survive) with ``m_o * max_j R_j`` inside int16, optionally clipping readout
   weights at a percentile (a spiking readout: per-neuron scales from ``m_o R_j``). The readout's
   resolution is thus set by its measured Vmem/Isyn range rather than by ``2**headroom_bits`` of slack.
   Shifts are the largest that fit (`quantize_weights`), or one more (``shift_offsets``: where a cap
   binds, a finer state unit for coarser weights). The ``channel`` specs with 2 and 3 headroom bits are
   candidates too. Coordinate search: hidden margin (``HIDDEN_MARGINS``, ``m_o = 1.25``), hidden shift
   offsets, readout margin (``READOUT_MARGINS``), readout shift offset, readout clipping
   (``READOUT_CLIP``) -- each step keeps the best so far (13 candidates at most).

3. Selection. Each candidate's spec runs the calibration clips on the bit-exact reference simulator.
   ``agreement`` = fraction of clips whose chip prediction equals the float model's prediction (no labels
   are used). Highest agreement wins, where one clip less counts as a tie (that difference is below the
   resolution of the measurement); a tie goes to the lower score error
   ``RMS(chip_score / s_out - float_score) / std(float_score)``, then to the earlier candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from xylodeploy.chips import ChipSpec
from xylodeploy.errors import ConfigError
from xylodeploy.quantize.qgraph import QuantizedGraph
from xylodeploy.quantize.report import CalibrationReport, CandidateResult
from xylodeploy.quantize.timeconst import TimeQuantizedGraph
from xylodeploy.quantize.weights import quantize_weights
from xylodeploy.readout import ReadoutRule

HIDDEN_MARGINS = (0.125, 0.25, 0.5, 1.0)
READOUT_MARGINS = (1.0, 1.5)
READOUT_CLIP = 99.5
BATCH = 128


@dataclass(frozen=True)
class Candidate:
    """Settings of one candidate spec (``hidden_margin`` None: headroom bits, as method ``channel``)."""

    name: str
    hidden_margin: float | None
    readout_margin: float | None
    readout_clip: float = 100.0
    headroom_bits: int = 0
    shift_offsets: tuple[tuple[str, int], ...] = ()

    def settings(self) -> dict[str, Any]:
        return {"hidden_margin": self.hidden_margin, "readout_margin": self.readout_margin,
                "readout_clip_percentile": self.readout_clip, "headroom_bits": self.headroom_bits,
                "shift_offsets": dict(self.shift_offsets)}  # fmt: skip

    def but(self, **changes: Any) -> Candidate:
        """A copy with ``changes``, named after its settings."""
        c = replace(self, **changes)
        name = f"h{c.hidden_margin:g}-o{c.readout_margin:g}"
        name += "".join(f"-{g}+{k}" for g, k in c.shift_offsets) + (
            f"-clip{c.readout_clip:g}" if c.readout_clip < 100 else ""
        )
        return replace(c, name=name)


def _batches(x: np.ndarray, size: int = BATCH):
    for i in range(0, len(x), size):
        yield x[i : i + size]


def measure_ranges(model: Any, graph: Any, x: np.ndarray, percentile: float) -> dict[str, np.ndarray] | None:
    """Per population: (n,) float ``R_j`` (module docstring); None if the model cannot record its states."""
    import torch

    names = [p.name for p in graph.hidden_populations()] + [graph.readout]
    if not callable(getattr(model, "record", None)):
        return None
    samples: dict[str, list[np.ndarray]] = {n: [] for n in names}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for xb in _batches(x):
                rec = model.record(torch.as_tensor(xb, dtype=torch.float32))
                states = [*rec.hidden, rec.readout]
                if len(states) != len(names):
                    return None
                for name, st in zip(names, states, strict=True):
                    th = torch.tensor(graph.population(name).threshold, dtype=torch.float32)
                    u = (st.vmem + st.spikes * th if name != graph.readout else st.vmem).abs()
                    isyn = st.isyn.abs().amax(dim=-1)
                    samples[name].append(torch.maximum(u, isyn).reshape(-1, u.shape[-1]).numpy())
    finally:
        model.train(was_training)
    out = {}
    for name in names:
        p = graph.population(name)
        q = np.percentile(np.concatenate(samples[name]), percentile, axis=0)
        out[name] = q if name == graph.readout else np.maximum(q, p.threshold)
    return out


def float_scores(model: Any, x: np.ndarray, rule: ReadoutRule) -> np.ndarray:
    """(B, K) class scores of the float model on ``x`` with ``rule``."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return np.concatenate([rule.scores(model(torch.as_tensor(xb, dtype=torch.float32)).numpy())
                                   for xb in _batches(x)])  # fmt: skip
    finally:
        model.train(was_training)


def chip_scores(spec: Any, x: np.ndarray, rule: ReadoutRule) -> tuple[np.ndarray, float]:
    """(B, K) class scores of ``spec`` on the reference simulator, and the readout's int16-limit fraction."""
    from xylodeploy.backends import get_backend

    backend = get_backend("reference")
    backend.load(spec)
    scores, at_limit, total = [], 0, 0
    for xb in _batches(x):
        rec = backend.run(xb, record=rule.needs_state)
        scores.append(rule.scores(rule.trace_of(rec.spikes_out, rec.vmem_out)))
        for arr in (rec.vmem_out, rec.isyn_out) if rule.needs_state else ():
            at_limit += int(np.sum((arr >= 32767) | (arr <= -32768)))
            total += arr.size
    return np.concatenate(scores), at_limit / max(total, 1)


def _quantize(tq: TimeQuantizedGraph, chip: ChipSpec, cand: Candidate, ranges: Mapping[str, np.ndarray] | None,
              vmem_range: float | None) -> QuantizedGraph:  # fmt: skip
    readout = tq.graph.readout
    state = None
    if cand.hidden_margin is not None and ranges is not None:
        state = {n: cand.hidden_margin * r for n, r in ranges.items() if n != readout}
        if vmem_range is None and cand.readout_margin is not None:  # spiking readout: ranges as hidden neurons
            state[readout] = cand.readout_margin * ranges[readout]
    vr = vmem_range
    if vr is not None and cand.readout_margin is not None and ranges is not None:
        measured = cand.readout_margin * float(np.max(ranges[readout]))
        vr = measured if np.isfinite(measured) and measured > 0 else vr  # a silent readout keeps the fallback range
    return quantize_weights(tq, chip, "channel", headroom_bits=cand.headroom_bits, readout_vmem_range=vr,
                            state_ranges=state, readout_clip_percentile=cand.readout_clip,
                            shift_offsets=dict(cand.shift_offsets))  # fmt: skip


def _evaluate(cand: Candidate, qg: QuantizedGraph, x: np.ndarray, ref: np.ndarray, rule: ReadoutRule) -> Any:
    from xylodeploy.mapping import map_to_spec

    spec = map_to_spec(qg)
    scores, sat = chip_scores(spec, x, rule)
    scale = float(np.mean(qg.population(qg.readout).scale)) if rule.needs_state else 1.0
    err = float(np.sqrt(np.mean((scores / scale - ref) ** 2)) / max(float(np.std(ref)), 1e-12))
    rep = qg.report
    hidden = [r.weight_smape for r in rep.layers if r.role == "hidden"]
    return CandidateResult(
        name=cand.name, settings=cand.settings(), agreement=float(np.mean(scores.argmax(1) == ref.argmax(1))),
        score_error=err, readout_saturated_frac=sat,
        weight_shifts=(qg.weight_shift_in, qg.weight_shift_rec, qg.weight_shift_out),
        readout_smape=rep.layer(qg.readout).weight_smape, hidden_smape=max(hidden, default=0.0),
    )  # fmt: skip


def _pick(results: list[CandidateResult], n_clips: int) -> CandidateResult:
    """Best agreement, where one clip less counts as a tie (below the measurement's resolution); then the
    lowest score error; then the earliest candidate."""
    top = max(r.agreement for r in results)
    pool = [r for r in results if r.agreement >= top - 1.0 / n_clips - 1e-9]
    return min(pool, key=lambda r: r.score_error)


def _reason(results: list[CandidateResult], best: CandidateResult, n_clips: int) -> str:
    others = [r for r in results if r is not best]
    if not others:
        return "only candidate"
    runner = _pick(others, n_clips)
    if runner.agreement < best.agreement - 1.0 / n_clips - 1e-9:
        return (f"highest agreement with the float model: {best.agreement:.2%} "
                f"(next: {runner.name} {runner.agreement:.2%})")  # fmt: skip
    return (f"agreement {best.agreement:.2%}, within one clip of the best ({max(r.agreement for r in results):.2%}), "
            f"and the lowest score error {best.score_error:.3f} (next: {runner.name} {runner.agreement:.2%}, "
            f"{runner.score_error:.3f})")  # fmt: skip


def _search(attempt: Any, tried: list, n_clips: int) -> None:
    """Coordinate search over hidden margin, hidden shift offsets, then readout settings (module docstring)."""

    def best() -> Candidate:
        r = _pick([r for r, _ in tried if r.settings["hidden_margin"] is not None], n_clips)
        st = r.settings
        return Candidate(r.name, st["hidden_margin"], st["readout_margin"], st["readout_clip_percentile"],
                         shift_offsets=tuple(st["shift_offsets"].items()))  # fmt: skip

    base = Candidate("", 1.0, 1.25)
    for m in HIDDEN_MARGINS:
        attempt(base.but(hidden_margin=m))
    b = best()
    for offs in ((("in", 1),), (("rec", 1),), (("in", 1), ("rec", 1))):
        attempt(b.but(shift_offsets=offs))
    b = best()
    hidden_offs = tuple(o for o in b.shift_offsets if o[0] != "out")
    for m in READOUT_MARGINS:
        attempt(b.but(readout_margin=m))
    b = best()
    attempt(b.but(shift_offsets=(*hidden_offs, ("out", 1))))
    attempt(best().but(readout_clip=READOUT_CLIP))


def calibrated_quantize(model: Any, tq: TimeQuantizedGraph, chip: ChipSpec, calibration: Any, rule: ReadoutRule,
                        *, percentile: float = 99.99, vmem_range: float | None = None) -> QuantizedGraph:  # fmt: skip
    """Quantise ``tq`` by calibration (module docstring); the returned graph's report holds the candidates.

    Args:
        model: the float model ``tq`` was extracted from (its predictions are the target; never modified).
        tq: time-quantised graph. chip: target chip.
        calibration: (N, T, C) clips (never modified). rule: how a class is read from the readout.
        percentile: of calibration states, for the ranges ``R_j``.
        vmem_range: legacy readout Vmem range (``output='vmem'`` models; None for spiking readouts).
    """
    x = np.asarray(calibration)
    if x.ndim != 3 or len(x) == 0:
        raise ConfigError(f"calibration data: expected (N, T, C) clips, got shape {x.shape}")
    ranges = measure_ranges(model, tq.graph, x, percentile)
    ref = float_scores(model, x, rule)
    tried: list[tuple[CandidateResult, QuantizedGraph]] = []

    def attempt(cand: Candidate) -> None:
        if all(r.name != cand.name for r, _ in tried):
            qg = _quantize(tq, chip, cand, ranges, vmem_range)
            tried.append((_evaluate(cand, qg, x, ref, rule), qg))

    for bits in (2, 3):
        attempt(Candidate(f"channel-headroom{bits}", None, None, headroom_bits=bits))
    if ranges is not None:
        _search(attempt, tried, len(x))
    results = [r for r, _ in tried]
    win_result = _pick(results, len(x))
    win_graph = next(g for r, g in tried if r is win_result)
    summary = {n: float(np.max(r)) for n, r in ranges.items()} if ranges is not None else {}
    cal = CalibrationReport(n_clips=len(x), percentile=percentile, state_ranges=summary, candidates=tuple(results),
                            winner=win_result.name, reason=_reason(results, win_result, len(x)))  # fmt: skip
    report = replace(win_graph.report, method="calibrated", calibration=cal)
    return replace(win_graph, method="calibrated", report=report)
