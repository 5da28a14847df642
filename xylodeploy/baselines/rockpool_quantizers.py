"""Baseline: rockpool's post-training quantisers, reproduced as a rockpool user gets them (issue 4).

Used by ``scripts/bench_quant.py`` and the tests to compare our quantiser with what rockpool puts on the chip.
This module never imports rockpool itself: `rockpool_quantize` gets rockpool's quantisers from
`xylodeploy.interop.rockpool` (the only module that imports rockpool, AGPL); nothing here is copied from it.
"""

from __future__ import annotations

from typing import Any

# Flow of a rockpool user (docs/chip-facts.md, rockpool): ``spec = mapper(graph, weight_dtype='float', ...)``,
# ``spec.update(channel_quantize(**spec))`` (or ``global_quantize``), ``config_from_specification(**spec)``.
# `rockpool_float_spec` builds the mapper's float dict from OUR `NetworkGraph`, `rockpool_quantize` calls
# rockpool's own quantiser on it, and `rockpool_deployed_spec` turns the result into the `XyloSpec` that
# ``config_from_specification`` would write to the chip, defects included.

ROCKPOOL_QUANTIZERS: tuple[str, ...] = ("channel", "global")


def _rockpool_id_order(graph: Any) -> list[Any]:
    """Hidden populations in rockpool's id order: input-fed first, then the rest, readout-feeding last."""
    hidden = list(graph.hidden_populations())
    first = [p for p in hidden if p.name in {q.name for q in graph.input_populations()}]
    last = [p for p in hidden if p.name in {q.name for q in graph.readout_sources()} and p not in first]
    return first + [p for p in hidden if p not in first and p not in last] + last


def _restricted_layout(chip: Any) -> bool:
    """IMU / A3 mappers size ``weights_in`` to the input-fed and ``weights_out`` to the readout-feeding neurons."""
    return chip.input_projection.count is not None or chip.output_projection.count is not None


def rockpool_float_spec(graph: Any, chip: Any = "xylo-audio2") -> dict[str, Any]:
    """The float spec dict rockpool's ``mapper(..., weight_dtype='float', threshold_dtype='float',
    dash_dtype='float')`` builds for ``graph`` (a `NetworkGraph`) on ``chip`` (docs/chip-facts.md, rockpool).

    Hidden ids: input-fed populations first, readout-feeding last (rockpool's order for a chain of layers).
    ``weights_rec (Nh, Nh[, 2])`` holds every hidden->hidden weight; Xylo Audio 2 uses ``weights_in
    (Nin, Nh[, 2])``, ``weights_out (Nh, Nout)`` (2-D weights when every population has one synapse),
    IMU / Audio 3 ``weights_in (Nin, N_fed, Nsyn)`` and ``weights_out (N_feeding, Nout)``. Time constants
    become ``dash = log2(tau / dt)``, unrounded (rockpool's quantisers round it; this is not our
    nearest-decay rule). Thresholds and biases are copied; ``dash_syn_2`` is 0 for one-synapse neurons.
    Like rockpool's mapper, a ``tau <= dt`` is refused (`ConfigError`).
    """
    import numpy as np

    from xylodeploy.chips import get_chip
    from xylodeploy.errors import ConfigError

    spec_chip, dt = get_chip(chip), float(graph.dt)
    order = _rockpool_id_order(graph)
    start, ids = 0, {}
    for p in order:
        ids[p.name], start = range(start, start + p.size), start + p.size
    n_h, n_syn, n_out = start, graph.max_synapses, graph.n_outputs
    for p in [*order, graph.readout_population]:
        if np.any(p.tau_mem <= dt) or np.any(p.tau_syn <= dt):
            raise ConfigError(f"population '{p.name}': a time constant <= dt ({dt} s) has no rockpool dash")
    w_in, w_rec = np.zeros((graph.n_inputs, n_h, n_syn)), np.zeros((n_h, n_h, n_syn))
    w_out = np.zeros((n_h, n_out))
    hid = {f: np.zeros(n_h) for f in ("dash_mem", "dash_syn", "dash_syn_2", "threshold", "bias")}
    for p in order:
        r = slice(ids[p.name].start, ids[p.name].stop)
        hid["dash_mem"][r] = np.log2(p.tau_mem / dt)
        hid["dash_syn"][r] = np.log2(p.tau_syn[:, 0] / dt)
        if p.n_synapses == 2:
            hid["dash_syn_2"][r] = np.log2(p.tau_syn[:, 1] / dt)
        hid["threshold"][r], hid["bias"][r] = p.threshold, p.bias
    for c in graph.connections:
        k = c.weight.shape[2]
        if c.target == graph.readout:
            w_out[ids[c.source].start : ids[c.source].stop] = c.weight[:, :, 0]
        elif c.source == "input":
            w_in[:, ids[c.target].start : ids[c.target].stop, :k] = c.weight
        else:
            src, tgt = ids[c.source], ids[c.target]
            w_rec[src.start : src.stop, tgt.start : tgt.stop, :k] = c.weight
    if _restricted_layout(spec_chip):
        n_fed = sum(p.size for p in graph.input_populations() if p.name != graph.readout)
        n_feeding = sum(p.size for p in graph.readout_sources())
        w_in, w_out = w_in[:, :n_fed], w_out[n_h - n_feeding :]
    elif n_syn == 1:
        w_in, w_rec = w_in[:, :, 0], w_rec[:, :, 0]
    ro = graph.readout_population
    return {
        "weights_in": w_in, "weights_rec": w_rec, "weights_out": w_out, **hid,
        "dash_mem_out": np.log2(ro.tau_mem / dt), "dash_syn_out": np.log2(ro.tau_syn[:, 0] / dt),
        "threshold_out": np.array(ro.threshold), "bias_out": np.array(ro.bias),
        "weight_shift_in": 0, "weight_shift_rec": 0, "weight_shift_out": 0,
        "aliases": [[] for _ in range(n_h)], "dt": dt, "chip": spec_chip.name,
    }  # fmt: skip


def rockpool_quantize(
    graph_or_float_spec: Any, method: str, *, chip: Any = None, vmem_readout: bool = False
) -> dict[str, Any]:
    """Integer arrays from rockpool's ``channel_quantize`` / ``global_quantize`` (defaults: 8-bit weights,
    16-bit thresholds, no fuzzy scaling), run on a copy of the float spec (the quantisers write into
    ``bias``/``bias_out`` in place).

    Args:
        graph_or_float_spec: a `NetworkGraph` (passed through `rockpool_float_spec` for ``chip``, default
            Xylo Audio 2) or a dict from `rockpool_float_spec`.
        method: ``"channel"`` or ``"global"``.
        vmem_readout: the network is read out through its readout membrane (rockpool's "Vmem" output mode).
            Its readout threshold (rockpool's SynNet uses ``2**15-1`` float units) only has to stay out of
            reach, so it is passed to the quantiser as 0 (otherwise rockpool's threshold-overflow rescaling
            crushes ``weights_out``, and with ``global`` also ``weights_rec``) and set to the chip's largest
            threshold afterwards. ``False``: the threshold is quantised as rockpool does it.

    Returns:
        rockpool's dict: ``weights_in``/``weights_rec`` (3-D), ``weights_out``, ``threshold(_out)``,
        ``dash_*`` and ``bias``/``bias_out``, all integer arrays (not clipped to the chip ranges).
    """
    import copy

    from xylodeploy.chips import get_chip
    from xylodeploy.errors import ConfigError

    if method not in ROCKPOOL_QUANTIZERS:
        raise ConfigError(f"rockpool quantiser '{method}': expected one of {', '.join(ROCKPOOL_QUANTIZERS)}")
    spec = graph_or_float_spec
    if not isinstance(spec, dict):
        spec = rockpool_float_spec(spec, chip or "xylo-audio2")
    spec = copy.deepcopy({k: v for k, v in spec.items() if k != "mapped_graph"})
    if vmem_readout:
        spec["threshold_out"] = spec["threshold_out"] * 0.0
    from xylodeploy.interop.rockpool import rockpool_quantize_methods  # rockpool is imported only there

    quantize = getattr(rockpool_quantize_methods(), f"{method}_quantize")
    out = dict(quantize(**spec))
    if vmem_readout:
        th_max = get_chip(chip or spec.get("chip", "xylo-audio2")).threshold_range.hi
        out["threshold_out"] = out["threshold_out"] * 0 + th_max
    return out


def _int8_wrap(values: Any) -> tuple[Any, int]:
    """``np.round(v).astype('int8')`` as ``config_from_specification`` does it, and how many values wrapped."""
    import numpy as np

    r = np.round(np.asarray(values, dtype=np.float64)).astype(np.int64)
    wrapped = ((r + 128) % 256) - 128
    return wrapped, int(np.sum(wrapped != r))


def rockpool_deployed_spec(quantized: dict[str, Any], float_spec: dict[str, Any], chip: Any) -> tuple[Any, dict]:
    """The `XyloSpec` that ``config_from_specification(**spec)`` puts on ``chip`` after
    ``spec.update(quantized)`` (docs/chip-facts.md, rockpool and board interface), and the defects that applied.

    Reproduced faithfully: weights, dashes and shifts are rounded and cast with ``astype("int8")``
    (out-of-range values wrap); thresholds and ``bias_out`` are rounded; hidden biases are DROPPED (the
    mapper's key ``bias`` is not the ``bias_hidden`` parameter); restricted IMU / A3 ``weights_in`` /
    ``weights_out`` are placed at the first / last hidden ids. Nothing is clipped: out-of-range values
    surface as design-rule violations of the returned spec (``xylodeploy.drc.check``).

    Returns:
        ``(spec, defects)``; ``defects`` counts ``int8_wrapped`` values, ``hidden_biases_dropped`` (nonzero
        quantised hidden biases lost), ``nonzero_bias_out`` and ``dashes_out_of_range``.
    """
    import numpy as np

    from xylodeploy.chips import get_chip
    from xylodeploy.ir.xylospec import XyloSpec

    spec_chip = get_chip(chip)
    full = {**float_spec, **quantized}
    w_rec = np.asarray(full["weights_rec"])
    w_rec = w_rec[:, :, None] if w_rec.ndim == 2 else w_rec
    n_h, n_syn = w_rec.shape[0], w_rec.shape[2]
    w_in3 = np.asarray(full["weights_in"])
    w_in3 = w_in3[:, :, None] if w_in3.ndim == 2 else w_in3
    w_in = np.zeros((w_in3.shape[0], n_h, n_syn))
    w_in[:, : w_in3.shape[1], : w_in3.shape[2]] = w_in3
    w_out_q = np.asarray(full["weights_out"])
    w_out = np.zeros((n_h, w_out_q.shape[1]))
    w_out[n_h - w_out_q.shape[0] :] = w_out_q
    wrapped, fields = 0, {}
    for name, value in (("weights_in", w_in), ("weights_rec", w_rec), ("weights_out", w_out)):
        fields[name], n = _int8_wrap(value)
        wrapped += n
    for name in ("dash_mem", "dash_syn", "dash_syn_2", "dash_mem_out", "dash_syn_out"):
        fields[name], n = _int8_wrap(full[name])
        wrapped += n
    shifts = {}
    for name in ("weight_shift_in", "weight_shift_rec", "weight_shift_out"):
        value, n = _int8_wrap(full.get(name, 0))
        shifts[name], wrapped = int(value), wrapped + n
    bias_q = np.round(np.asarray(full.get("bias", np.zeros(n_h)), dtype=np.float64))
    bias_out = np.round(np.asarray(full["bias_out"], dtype=np.float64)).astype(np.int64)
    dash_names = ("dash_mem", "dash_syn", "dash_mem_out", "dash_syn_out") + (("dash_syn_2",) if n_syn == 2 else ())
    lo, hi = spec_chip.dash_range.lo, spec_chip.dash_range.hi
    spec = XyloSpec(
        chip=spec_chip.name, **fields, **shifts,
        threshold=np.round(np.asarray(full["threshold"], dtype=np.float64)).astype(np.int64),
        threshold_out=np.round(np.asarray(full["threshold_out"], dtype=np.float64)).astype(np.int64),
        bias=np.zeros(n_h, np.int64), bias_out=bias_out, aliases=(), dt=float(full.get("dt") or 1e-3),
        provenance={"source": "rockpool quantize_methods + config_from_specification (reproduced)"},
    )  # fmt: skip
    defects = {
        "int8_wrapped": wrapped,
        "hidden_biases_dropped": int(np.sum(bias_q != 0)),
        "nonzero_bias_out": int(np.sum(bias_out != 0)),
        "dashes_out_of_range": int(sum(np.sum((fields[n] < lo) | (fields[n] > hi)) for n in dash_names)),
    }
    return spec, defects
