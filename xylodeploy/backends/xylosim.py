"""`XylosimBackend`: SynSense's C++ cycle-accurate simulator ``xylosim.v2`` as an independent oracle.

xylosim validates neither sizes nor ids and segfaults on inconsistent ones, so every value is
checked (`check_spec` plus xylosim's own id widths) before a ``XyloLayer`` is built. The layer
keeps raw pointers to the Python ``XyloSynapse`` objects: this backend keeps them alive.
Clips run one after the other, with ``reset_all()`` before each. Returned arrays have the same
shapes and dtypes as the reference backend's (spikes int8, states int16).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xylodeploy._optional import require
from xylodeploy.backends._ref_params import check_spec
from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec

_MAX_NEURON_ID = 65535  # xylosim neuron ids are uint16


def _v2() -> Any:
    return require("xylosim.v2", "xylosim", "the xylosim simulation backend")


def _synapse_lists(v2: Any, weights: np.ndarray) -> list[list[Any]]:
    """Per-source lists of XyloSynapse(target, syn, w) for non-zero weights, targets then synapses ascending."""
    w3 = weights if weights.ndim == 3 else weights[:, :, None]
    lists: list[list[Any]] = []
    for row in w3:
        tgt, syn = np.nonzero(row)
        lists.append([v2.XyloSynapse(int(t), int(s), int(row[t, s])) for t, s in zip(tgt, syn, strict=True)])
    return lists


class XylosimBackend:
    """Runs a `XyloSpec` on ``xylosim.v2.XyloLayer`` (see module docstring)."""

    name = "xylosim"

    def __init__(self) -> None:
        self._v2 = _v2()
        self._spec: XyloSpec | None = None
        self._layer: Any = None
        self._keep: tuple[Any, ...] = ()  # XyloSynapse lists referenced by raw pointer from the layer
        self._max_in = 0

    def load(self, spec: XyloSpec) -> None:
        """Validate ``spec`` and build the xylosim layer."""
        chip = check_spec(spec, "xylosim backend")
        for what, n in (("inputs", spec.n_inputs), ("hidden neurons", spec.n_hidden), ("outputs", spec.n_outputs)):
            if not 1 <= n <= _MAX_NEURON_ID:
                raise ConfigError(f"xylosim backend: {n} {what}, xylosim needs 1..{_MAX_NEURON_ID}")
        v2 = self._v2
        syn_in = _synapse_lists(v2, spec.weights_in)
        syn_rec = _synapse_lists(v2, spec.weights_rec)
        syn_out = _synapse_lists(v2, spec.weights_out)
        dash_syns = np.stack([spec.dash_syn, spec.dash_syn_2][: spec.n_synapses], axis=1)
        layer = v2.XyloLayer(
            synapses_in=syn_in,
            synapses_rec=syn_rec,
            synapses_out=syn_out,
            aliases=[list(a) for a in spec.aliases],
            threshold=spec.threshold.tolist(),
            threshold_out=spec.threshold_out.tolist(),
            has_bias=spec.has_bias,
            bias=spec.bias.tolist(),
            bias_out=spec.bias_out.tolist(),
            weight_shift_inp=spec.weight_shift_in,
            weight_shift_rec=spec.weight_shift_rec,
            weight_shift_out=spec.weight_shift_out,
            dash_mem=spec.dash_mem.tolist(),
            dash_mem_out=spec.dash_mem_out.tolist(),
            dash_syns=dash_syns.tolist(),
            dash_syns_out=[[int(d)] for d in spec.dash_syn_out],
            name="xylodeploy",
        )
        self._keep = (syn_in, syn_rec, syn_out)
        self._layer, self._spec, self._max_in = layer, spec, chip.max_input_events

    def reset(self) -> None:
        """Clear xylosim's neuron state (also done before every clip)."""
        if self._layer is not None:
            self._layer.reset_all()

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        """Run each clip of a (B, T, Nin) or (T, Nin) raster from reset; 2-D input gives B = 1."""
        if self._spec is None:
            raise ConfigError("xylosim backend: run() called before load(spec)")
        spec = self._spec
        arr, _ = as_batch(raster, spec.n_inputs, "xylosim backend input raster")
        arr = np.minimum(arr, self._max_in)
        clips = [self._run_clip(clip, record) for clip in arr]
        fields = clips[0].keys() if clips else ("spikes_out",)
        out: dict[str, np.ndarray | None] = {}
        for name in fields:
            n = spec.n_outputs if name in ("spikes_out", "isyn_out", "vmem_out") else spec.n_hidden
            dtype = np.int8 if name.startswith("spikes") else np.int16
            stack = [c[name] for c in clips]
            out[name] = np.stack(stack).astype(dtype) if stack else np.zeros((0, arr.shape[1], n), dtype)
        if record and spec.n_synapses == 1:
            out["isyn2"] = None
        return Recording(**out)

    def _run_clip(self, clip: np.ndarray, record: bool) -> dict[str, np.ndarray]:
        layer = self._layer
        layer.reset_all()
        n_t = clip.shape[0]
        spikes_out = np.asarray(layer.evolve(clip.tolist()), np.int64).reshape(n_t, self._spec.n_outputs)
        res = {"spikes_out": spikes_out}
        if record:
            n_h = self._spec.n_hidden
            res["spikes"] = np.asarray(layer.rec_recurrent_spikes, np.int64).reshape(n_t, n_h)
            res["isyn"] = np.asarray(layer.rec_i_syn, np.int64).reshape(n_h, n_t).T
            if self._spec.n_synapses > 1:
                res["isyn2"] = np.asarray(layer.rec_i_syn2, np.int64).reshape(n_h, n_t).T
            res["vmem"] = np.asarray(layer.rec_v_mem, np.int64).reshape(n_h, n_t).T
            res["isyn_out"] = np.asarray(layer.rec_i_syn_out, np.int64).reshape(-1, n_t).T
            res["vmem_out"] = np.asarray(layer.rec_v_mem_out, np.int64).reshape(-1, n_t).T
        return res
