"""Weight, threshold and bias quantisation with weight bit shifts.

Isyn, Vmem, thresholds and biases are linear in one state unit, so multiplying all of a
neuron's incoming weights, its threshold and its bias by the same factor ``s`` leaves its
spikes unchanged. On the chip an event adds ``w << ws`` (``w`` int8, ``ws`` the shift of the
weight's group: ``in`` = input->hidden, ``rec`` = every hidden->hidden weight, ``out`` =
hidden->readout). With ``s`` [chip LSB per float unit] the integers are::

    w_int = clip(round(s_j * W[i, j] / 2**ws_g), weight_range)     # round half to even
    th_int = clip(round(s_j * threshold_j), 1 .. threshold_range.hi)
    b_int = clip(round(s_j * bias_j), bias_range)                  # SAME s_j as the state

``method="channel"``: one ``s_j`` per neuron; ``"global"``: one ``s`` for all hidden neurons
and one for the readout. The readout always has its own scale (its own state).

Choice of ``s`` and the shifts (weights first): a neuron's weights should use the full int8
range, ``s_j = 127 * 2**ws_g / max|W_g[:, j]|``. Then ``threshold_int = s_j * threshold_j``
grows with ``ws``: a larger shift makes the state unit finer (thresholds and biases are
represented more exactly, and the floor-based decay, which is off by up to 1 LSB per step,
is relatively more exact) but pushes states towards the int16 limits. So each group gets the
LARGEST ``ws`` in ``chip.weight_shift_range`` for which every threshold still fits below
``min(threshold_range.hi, state_range.hi >> headroom_bits)`` and every bias fits
``bias_range``. ``headroom_bits`` (default 2) keeps Vmem room for ``2**headroom_bits``
thresholds, i.e. multi-spike steps and strong inputs before int16 saturation changes the
dynamics (Vmem saturating at 32767 caps the spikes of one step at ``32767 // threshold``).
Where a neuron's threshold or bias does not fit even with ``ws = 0`` its ``s_j`` is lowered
(its weights then use less than the full int8 range). Finally each shift is lowered as far
as the scales allow, so no group loses weight range. ``clip_percentile < 100`` takes the
weight scale from that percentile of the nonzero ``|W|`` instead of the maximum: outliers
are then clipped (never wrapped) and counted in the report.

``state_ranges`` (population -> per-neuron float ``|state|`` that must stay representable, e.g. measured
on calibration clips times a margin, see `xylodeploy.flow.calibrate`) caps each hidden neuron's
scale (and a spiking readout's) further, ``s_j <= state_range.hi / range_j``;
``readout_clip_percentile`` sets the readout's own weight clipping percentile (default:
``clip_percentile``); ``shift_offsets`` adds bits to a group's chosen shift (finer state unit, coarser
weights where a cap binds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.errors import QuantizationError
from xylodeploy.ir.graph import INPUT, NetworkGraph
from xylodeploy.quantize.qgraph import QuantizedConnection, QuantizedGraph, QuantizedPopulation
from xylodeploy.quantize.report import LayerReport, QuantizationReport, smape, snr_db
from xylodeploy.quantize.timeconst import TimeQuantizedGraph, quantize_time_constants

Method = Literal["global", "channel"]
METHODS: tuple[str, ...] = ("global", "channel")


@dataclass(frozen=True)
class _Side:
    """One scaling domain: the hidden neurons (groups in/rec) or the readout (group out)."""

    names: tuple[str, ...]  # populations, in order
    groups: tuple[str, ...]
    wmax: dict[str, np.ndarray]  # group -> (n,) weight magnitude that should map to 127
    cap: np.ndarray  # (n,) largest scale allowed by thresholds and biases
    offsets: Mapping[str, int]  # group -> bits added to the chosen shift


def _group(graph: NetworkGraph, source: str, target: str) -> str:
    if source == graph.readout:
        raise QuantizationError(f"connection '{source}'->'{target}': Xylo readout neurons cannot drive other neurons")
    if target == graph.readout:
        if source == INPUT:
            raise QuantizationError(
                f"connection 'input'->'{target}': Xylo has no direct input-to-readout weights; add a hidden layer"
            )
        return "out"
    return "in" if source == INPUT else "rec"


def _magnitude(columns: list[np.ndarray], percentile: float) -> np.ndarray:
    """Per target neuron: max (or percentile of nonzero) |W| over rows/synapses of every block."""
    cols = np.concatenate([np.abs(c).transpose(1, 0, 2).reshape(c.shape[1], -1) for c in columns], axis=1)
    if percentile >= 100:
        return cols.max(axis=1)
    return np.array([np.percentile(r[r > 0], percentile) if np.any(r > 0) else 0.0 for r in cols])


def _caps(thresholds: np.ndarray, biases: np.ndarray, chip: ChipSpec, headroom_bits: int) -> np.ndarray:
    """Largest scale per neuron such that threshold and bias fit the chip ranges."""
    t_max = min(chip.threshold_range.hi, chip.state_range.hi >> headroom_bits)
    cap = t_max / thresholds
    with np.errstate(divide="ignore"):
        b_cap = np.where(
            biases > 0, chip.bias_range.hi / biases, np.where(biases < 0, chip.bias_range.lo / biases, np.inf)
        )
    return np.minimum(cap, b_cap)


def _choose(
    side: _Side, chip: ChipSpec, per_neuron: bool, offsets: Mapping[str, int]
) -> tuple[dict[str, int], np.ndarray]:
    """Shifts per group and scale per neuron (module docstring; ``offsets`` added to the chosen shifts)."""
    wr, sr = min(chip.weight_range.hi, -chip.weight_range.lo), chip.weight_shift_range
    wmax = side.wmax if per_neuron else {g: np.array([m.max(initial=0.0)]) for g, m in side.wmax.items()}
    cap = side.cap if per_neuron else np.array([side.cap.min()])
    shifts: dict[str, int] = {}
    for g in side.groups:
        used = wmax[g] > 0
        best = np.floor(np.log2(np.min(cap[used] * wmax[g][used] / wr))) if np.any(used) else sr.lo
        shifts[g] = int(np.clip(np.clip(best, sr.lo, sr.hi) + offsets.get(g, 0), sr.lo, sr.hi))
    scale = cap.copy()
    for g in side.groups:
        with np.errstate(divide="ignore"):
            scale = np.minimum(scale, np.where(wmax[g] > 0, wr * 2.0 ** shifts[g] / wmax[g], np.inf))
    for g in side.groups:  # lower each shift while every weight still fits
        if offsets.get(g):
            continue
        need = np.max(scale * wmax[g], initial=0.0) / wr
        while shifts[g] > sr.lo and need <= 2.0 ** (shifts[g] - 1) * (1 + 1e-12):
            shifts[g] -= 1
    return shifts, np.broadcast_to(scale, side.cap.shape).copy()


def _clip_round(x: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, int]:
    r = np.round(x)
    out = np.clip(r, lo, hi).astype(np.int64)
    return out, int(np.sum(out != r))


def _drive(
    conns: list[QuantizedConnection], graph: NetworkGraph, chip: ChipSpec, shifts: dict[str, int], worst: bool
) -> np.ndarray:
    """Per-step |input| per target neuron / state limit, all synapses together.

    ``worst``: every source sends its maximum event count (input: chip.max_input_events,
    hidden: min(max_spikes, chip.max_hidden_spikes)); otherwise one event per source.
    """
    pos = neg = 0.0
    for c in conns:
        events = 1
        if worst and c.source == INPUT:
            events = chip.max_input_events
        elif worst:
            events = min(graph.population(c.source).max_spikes, chip.max_hidden_spikes)
        w = c.weight.astype(np.float64) * 2.0 ** shifts[c.group] * events
        pos = pos + np.clip(w, 0, None).sum(axis=(0, 2))
        neg = neg + np.clip(w, None, 0).sum(axis=(0, 2))
    return np.maximum(np.asarray(pos) / chip.state_range.hi, np.asarray(neg) / chip.state_range.lo)


def _quantize_side(
    graph: NetworkGraph, tq: TimeQuantizedGraph, chip: ChipSpec, side: _Side, method: str, max_threshold: bool = False
) -> tuple[list[QuantizedPopulation], list[QuantizedConnection], list[LayerReport], dict[str, int]]:
    shifts, scale = _choose(side, chip, method == "channel", side.offsets)
    pops, conns, reports, start = [], [], [], 0
    role = "readout" if side.groups == ("out",) else "hidden"
    for name in side.names:
        p = graph.population(name)
        s = scale[start : start + p.size]
        start += p.size
        th, th_clip = _clip_round(s * p.threshold, max(1, chip.threshold_range.lo), chip.threshold_range.hi)
        if max_threshold:  # vmem readout: the threshold is a "never fire" marker, not a scaled value
            th, th_clip = np.full(p.size, chip.threshold_range.hi, np.int64), 0
        b, b_clip = _clip_round(s * p.bias, chip.bias_range.lo, chip.bias_range.hi)
        d = tq.dashes[name]
        pops.append(QuantizedPopulation(name, role, p.n_synapses, d.dash_mem, d.dash_syn, th, b, s))
        mine, ref, deq, w_clip, zeroed = [], [], [], 0, 0
        for c in graph.incoming(name):
            g = _group(graph, c.source, c.target)
            factor = (s / 2.0 ** shifts[g])[None, :, None]
            w, n = _clip_round(c.weight * factor, chip.weight_range.lo, chip.weight_range.hi)
            mine.append(QuantizedConnection(c.source, c.target, g, w))
            ref.append(c.weight.ravel())
            deq.append((w / factor).ravel())
            w_clip += n
            zeroed += int(np.sum((w == 0) & (c.weight != 0)))
        conns.extend(mine)
        r, q = (np.concatenate(ref), np.concatenate(deq)) if ref else (np.zeros(0), np.zeros(0))
        drive = _drive(mine, graph, chip, shifts, worst=True)
        unit = _drive(mine, graph, chip, shifts, worst=False)
        reports.append(
            LayerReport(
                population=name, role=role, method=method,
                scale_min=float(s.min()), scale_max=float(s.max()),
                shifts={g: shifts[g] for g in sorted({c.group for c in mine})},
                n_weights=int(r.size), clipped_weights=w_clip, zeroed_weights=zeroed,
                clipped_thresholds=th_clip, clipped_biases=b_clip,
                weight_smape=smape(r, q), weight_snr_db=snr_db(r, q),
                threshold_range=(int(th.min()), int(th.max())), bias_range=(int(b.min()), int(b.max())),
                threshold_max_rel_error=0.0 if max_threshold else _max_rel_error(th / s, p.threshold),
                bias_max_abs_error=float(np.max(np.abs(b / s - p.bias))),
                worst_drive_ratio=float(np.max(drive, initial=0.0)), neurons_at_risk=int(np.sum(drive > 1)),
                unit_drive_ratio=float(np.max(unit, initial=0.0)),
                spikes_before_saturation=int(np.min(chip.state_range.hi // th)),
            )
        )  # fmt: skip
    return pops, conns, reports, shifts


def _max_rel_error(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.abs(approx - exact) / exact))


def _side(graph: NetworkGraph, names: tuple[str, ...], groups: tuple[str, ...], chip: ChipSpec, opts: dict) -> _Side:
    pops = [graph.population(n) for n in names]
    wmax: dict[str, np.ndarray] = {}
    for g in groups:
        parts = []
        for p in pops:
            blocks = [c.weight for c in graph.incoming(p.name) if _group(graph, c.source, c.target) == g]
            pct = opts["pct_out"] if g == "out" else opts["pct"]
            parts.append(_magnitude(blocks, pct) if blocks else np.zeros(p.size))
        wmax[g] = np.concatenate(parts)
    th = np.concatenate([p.threshold for p in pops])
    if groups == ("out",) and opts.get("vmem_range") is not None:
        th = np.full_like(th, opts["vmem_range"])  # the range vmem must represent bounds the scale instead
    b = np.concatenate([p.bias for p in pops])
    cap = _caps(th, b, chip, opts["headroom"])
    ranges = opts.get("state_ranges") or {}
    if (groups != ("out",) or opts.get("vmem_range") is None) and any(n in ranges for n in names):
        r = np.concatenate([np.broadcast_to(np.asarray(ranges.get(p.name, 0.0), float), (p.size,)) for p in pops])
        with np.errstate(divide="ignore"):
            cap = np.minimum(cap, np.where(r > 0, chip.state_range.hi / np.where(r > 0, r, 1.0), np.inf))
    return _Side(names, groups, wmax, cap, {g: int(v) for g, v in (opts.get("shift_offsets") or {}).items()})


def quantize_weights(
    graph: TimeQuantizedGraph | NetworkGraph,
    chip: str | ChipSpec | None = None,
    method: Method = "channel",
    *,
    headroom_bits: int = 2,
    clip_percentile: float = 100.0,
    readout_vmem_range: float | None = None,
    state_ranges: Mapping[str, np.ndarray] | None = None,
    readout_clip_percentile: float | None = None,
    shift_offsets: Mapping[str, int] | None = None,
) -> QuantizedGraph:
    """Quantize weights, thresholds and biases of a graph for ``chip`` (module docstring).

    Args:
        graph: output of `quantize_time_constants` (or a `NetworkGraph`, which is passed
            through it first; ``chip`` is then required). Never modified.
        chip: chip name or spec; defaults to the chip of ``graph``.
        method: ``"channel"`` (one scale per neuron) or ``"global"`` (one per hidden/readout).
        headroom_bits: thresholds are kept below ``state_range.hi >> headroom_bits``.
        clip_percentile: percentile of nonzero ``|W|`` mapped to the int8 limit (100: max).
        readout_vmem_range: for a network read out through its readout *membrane* (``output='vmem'``):
            the largest float ``|vmem|`` to represent (e.g. measured on calibration data). The readout
            then gets one shared scale (so the argmax over readout neurons is kept), its scale is
            capped so that this range fits ``state_range.hi >> headroom_bits``, and its thresholds
            are set to ``threshold_range.hi`` (never reached in normal operation).
        state_ranges: hidden population -> (n,) float ``|state|`` to keep inside the int16 state range.
        readout_clip_percentile: clipping percentile of the readout weights (None: ``clip_percentile``).
        shift_offsets: group (``in``/``rec``/``out``) -> bits added to the shift the rule picks: a finer
            state unit (scales up to 2x larger, up to the caps) for coarser weights where a cap binds.

    Returns:
        A `QuantizedGraph` with its `QuantizationReport` in ``.report``.
    """
    pct_out = _check_options(method, clip_percentile, readout_clip_percentile)
    graph, spec = _time_quantized(graph, chip)
    g = graph.graph
    _check_graph(g, spec, headroom_bits, readout_vmem_range)
    opts = {"pct": float(clip_percentile), "pct_out": float(pct_out), "headroom": int(headroom_bits),
            "vmem_range": readout_vmem_range, "state_ranges": state_ranges, "shift_offsets": shift_offsets}  # fmt: skip
    hidden = tuple(p.name for p in g.hidden_populations())
    hidden_q = _quantize_side(g, graph, spec, _side(g, hidden, ("in", "rec"), spec, opts), method)
    vmem_readout = readout_vmem_range is not None
    readout_side = _side(g, (g.readout,), ("out",), spec, opts)
    readout_q = _quantize_side(
        g, graph, spec, readout_side, "global" if vmem_readout else method, max_threshold=vmem_readout
    )
    return _assemble(graph, spec, method, hidden_q, readout_q)


def _check_options(method: str, clip_percentile: float, readout_clip_percentile: float | None) -> float:
    """Refuse an unknown method or a clipping percentile outside (0, 100]; the readout's percentile."""
    if method not in METHODS:
        raise QuantizationError(f"unknown quantisation method '{method}': expected one of {', '.join(METHODS)}")
    pct_out = clip_percentile if readout_clip_percentile is None else readout_clip_percentile
    for name, pct in (("clip_percentile", clip_percentile), ("readout_clip_percentile", pct_out)):
        if not (0 < pct <= 100):
            raise QuantizationError(f"{name} must be in (0, 100], got {pct}")
    return pct_out


def _time_quantized(
    graph: TimeQuantizedGraph | NetworkGraph, chip: str | ChipSpec | None
) -> tuple[TimeQuantizedGraph, ChipSpec]:
    """The time-quantized graph (a `NetworkGraph` goes through `quantize_time_constants`) and its chip."""
    if isinstance(graph, NetworkGraph):
        if chip is None:
            raise QuantizationError("quantize_weights(NetworkGraph) needs a chip")
        graph = quantize_time_constants(graph, chip)
    spec = get_chip(graph.chip if chip is None else chip)
    if spec.name != graph.chip:
        raise QuantizationError(f"time constants were quantized for '{graph.chip}', not '{spec.name}'")
    return graph, spec


def _check_graph(g: NetworkGraph, spec: ChipSpec, headroom_bits: int, readout_vmem_range: float | None) -> None:
    """Refuse a headroom the state range cannot give, a connection the chip cannot have, a bad Vmem range."""
    if not 0 <= headroom_bits < spec.state_range.hi.bit_length():
        raise QuantizationError(f"headroom_bits must be in 0..{spec.state_range.hi.bit_length() - 1}")
    for c in g.connections:
        _group(g, c.source, c.target)  # raises on connections the chip cannot have
    if readout_vmem_range is not None and not (np.isfinite(readout_vmem_range) and readout_vmem_range > 0):
        raise QuantizationError(f"readout_vmem_range must be a finite number > 0, got {readout_vmem_range}")


_SideResult = tuple[list[QuantizedPopulation], list[QuantizedConnection], list[LayerReport], dict[str, int]]


def _assemble(
    graph: TimeQuantizedGraph, spec: ChipSpec, method: str, hidden: _SideResult, readout: _SideResult
) -> QuantizedGraph:
    """The `QuantizedGraph` (with its report) from the quantized hidden and readout sides."""
    g = graph.graph
    hp, hc, hr, hs = hidden
    rp, rc, rr, rs = readout
    report = QuantizationReport(
        chip=spec.name, method=method,
        weight_shift_in=hs["in"], weight_shift_rec=hs["rec"], weight_shift_out=rs["out"],
        layers=tuple(hr + rr), time_constants=graph.report,
    )  # fmt: skip
    return QuantizedGraph(
        chip=spec.name, n_inputs=g.n_inputs, populations=tuple(hp + rp), connections=tuple(hc + rc),
        readout=g.readout, dt=g.dt, weight_shift_in=hs["in"], weight_shift_rec=hs["rec"],
        weight_shift_out=rs["out"], method=method, report=report,
    )  # fmt: skip
