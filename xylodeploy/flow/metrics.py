"""NeuroBench-style metrics of a deployed spec, from reference-simulator recordings (docs/metrics.md).

Per inference (one clip of ``T`` steps), averaged over the clips given:

* ``dense_synops``: synapses evaluated if every weight were used every step,
  ``T * (Nin*Nh*S + Nh*Nh*S + Nh*Nout)`` (``S`` synapses per neuron);
* ``effective_synops``: accumulate operations actually caused by events,
  ``sum_t sum_src count[t, src] * nonzero_fanout(src)`` over input, recurrent and readout weights
  (an event of count ``k`` costs ``k`` passes, as on the chip, input counts capped at its 15 per step;
  every Xylo synaptic op is an accumulate, so these are NeuroBench's effective ACs, with no MACs);
* ``membrane_updates``: ``T * (Nh + Nout)`` (the chip updates every neuron every step);
* ``activation_sparsity``: fraction of (step, neuron) bins without a spike, hidden and readout;
* ``firing_rate_hz``: events per neuron per second of each population (input, hidden, readout);
* ``parameters``, ``nonzero_weights``, ``connection_sparsity``, ``footprint_bytes``: weights take
  1 byte, per-neuron thresholds / biases / dashes the bytes of the chip's register widths.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from xylodeploy.chips import get_chip
from xylodeploy.chips.spec import IntRange
from xylodeploy.ir.xylospec import XyloSpec


def _bytes(r: IntRange) -> int:
    return math.ceil(math.log2(r.hi - r.lo + 1) / 8)


@dataclass(frozen=True)
class NetworkMetrics:
    """Per-inference metrics (see module docstring); ``n_clips`` clips of ``n_steps`` steps."""

    n_clips: int
    n_steps: int
    dense_synops: float
    effective_synops: float
    membrane_updates: float
    activation_sparsity: float
    firing_rate_hz: dict
    parameters: int
    nonzero_weights: int
    connection_sparsity: float
    footprint_bytes: int

    def to_dict(self) -> dict:
        return asdict(self)

    def neurobench(self, accuracy: float | None = None) -> dict:
        """The result layout of NeuroBench's ``Benchmark.run()`` (metric name -> value)."""
        out = {
            "Footprint": self.footprint_bytes,
            "ConnectionSparsity": self.connection_sparsity,
            "ActivationSparsity": self.activation_sparsity,
            "SynapticOperations": {"Effective_MACs": 0.0, "Effective_ACs": self.effective_synops,
                                   "Dense": self.dense_synops},
            "MembraneUpdates": self.membrane_updates,
        }  # fmt: skip
        if accuracy is not None:
            out["ClassificationAccuracy"] = accuracy
        return out


def parameter_counts(spec: XyloSpec) -> tuple[int, int, float, int]:
    """(parameters, non-zero weights, connection sparsity, footprint bytes) of ``spec``."""
    chip = get_chip(spec.chip)
    weights = (spec.weights_in, spec.weights_rec, spec.weights_out)
    n_w = sum(w.size for w in weights)
    nnz = sum(int(np.count_nonzero(w)) for w in weights)
    per_neuron = [spec.threshold, spec.bias, spec.dash_mem, spec.dash_syn, spec.threshold_out, spec.bias_out,
                  spec.dash_mem_out, spec.dash_syn_out] + ([spec.dash_syn_2] if spec.uses_synapse2 else [])  # fmt: skip
    widths = [chip.threshold_range, chip.bias_range, chip.dash_range, chip.dash_range] * 2 + [chip.dash_range]
    n_p = sum(a.size for a in per_neuron)
    foot = n_w * _bytes(chip.weight_range) + sum(a.size * _bytes(r) for a, r in zip(per_neuron, widths, strict=False))
    return n_w + n_p, nnz, (1.0 - nnz / n_w) if n_w else 0.0, foot


def compute_metrics(spec: XyloSpec, raster: np.ndarray, hidden: np.ndarray, readout: np.ndarray) -> NetworkMetrics:
    """Metrics from input ``raster`` (B, T, Nin), hidden (B, T, Nh) and readout (B, T, Nout) event counts."""
    x, h, o = (np.asarray(a, dtype=np.int64) for a in (raster, hidden, readout))
    x = np.minimum(x, get_chip(spec.chip).max_input_events)  # the chip delivers at most this many per step
    n_clips, n_steps = x.shape[0], x.shape[1]
    fan_in = np.count_nonzero(spec.weights_in, axis=(1, 2))
    fan_rec = np.count_nonzero(spec.weights_rec, axis=(1, 2))
    fan_out = np.count_nonzero(spec.weights_out, axis=1)
    per_clip = (x.sum(1) @ fan_in) + (h.sum(1) @ fan_rec) + (h.sum(1) @ fan_out)
    n_in, n_h, n_syn = spec.weights_in.shape
    n_out = spec.weights_out.shape[1]
    dense = n_steps * (n_in * n_h * n_syn + n_h * n_h * n_syn + n_h * n_out)
    bins = n_clips * n_steps * (n_h + n_out)
    active = np.count_nonzero(h) + np.count_nonzero(o)
    secs = n_clips * n_steps * spec.dt

    def rate(a: np.ndarray, n: int) -> float:
        return float(a.sum() / (n * secs)) if n and secs else 0.0

    params, nnz, sparsity, foot = parameter_counts(spec)
    return NetworkMetrics(
        n_clips, n_steps, float(dense), float(per_clip.mean()) if n_clips else 0.0, float(n_steps * (n_h + n_out)),
        1.0 - active / bins if bins else 1.0,
        {"input": rate(x, n_in), "hidden": rate(h, n_h), "readout": rate(o, n_out)},
        params, nnz, sparsity, foot,
    )  # fmt: skip


def metrics_from_reference(spec: XyloSpec, raster: np.ndarray) -> NetworkMetrics:
    """Run ``raster`` on the reference simulator (recording hidden spikes) and compute the metrics."""
    from xylodeploy.backends import get_backend

    sim = get_backend("reference")
    sim.load(spec)
    rec = sim.run(np.asarray(raster), record=True)
    return compute_metrics(spec, raster, rec.spikes, rec.spikes_out)
