"""`map_to_spec`: QuantizedGraph -> XyloSpec for one chip, and `unmap`, its inverse.

Layout (docs/chip-facts.md, rockpool, without its mapper's defects):

* hidden ids per population from `allocate` (input-fed first, readout-feeding last);
* ``weights_in (Nin, Nh, Nsyn)``: input connections; ``weights_rec (Nh, Nh, Nsyn)`` [source,
  target, synapse]: EVERY hidden->hidden connection, feed-forward and recurrent (so each hidden
  hop costs one time step on the chip); ``weights_out (Nh, Nout)``: readout connections;
* ``Nsyn = 2`` iff some hidden population uses two synapses; a one-synapse connection fills
  synapse 0; ``dash_syn_2`` of one-synapse neurons repeats ``dash_syn`` (it has no weights);
* dashes, thresholds, hidden AND readout biases, weight shifts and dt copied as they are;
  no aliases; ``provenance["mapping"]`` records population -> id range and the connections,
  which is what `unmap` reads back.

Then the design rules run (`xylodeploy.drc.check`) and every violation, the mapper's own
(named by population) and the spec's, is raised at once as `DesignRuleError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.drc import DesignRuleWarning, Violation, advisories, check
from xylodeploy.errors import ConfigError, DesignRuleError
from xylodeploy.ir.xylospec import XyloSpec
from xylodeploy.mapping.allocate import allocate, allocation_violations
from xylodeploy.quantize.qgraph import QuantizedConnection, QuantizedGraph, QuantizedPopulation

PROVENANCE_KEY = "mapping"


def _hidden_arrays(qgraph: QuantizedGraph, ids: dict[str, range], n_h: int) -> dict[str, np.ndarray]:
    arr = {f: np.zeros(n_h, np.int64) for f in ("dash_mem", "dash_syn", "dash_syn_2", "threshold", "bias")}
    for name, r in ids.items():
        p = qgraph.population(name)
        sl = slice(r.start, r.stop)
        arr["dash_mem"][sl] = p.dash_mem
        arr["dash_syn"][sl] = p.dash_syn[:, 0]
        arr["dash_syn_2"][sl] = p.dash_syn[:, -1]
        arr["threshold"][sl] = p.threshold
        arr["bias"][sl] = p.bias
    return arr


def _weights(qgraph: QuantizedGraph, ids: dict[str, range], n_h: int, n_syn: int) -> dict[str, np.ndarray]:
    n_out = qgraph.population(qgraph.readout).size
    w_in = np.zeros((qgraph.n_inputs, n_h, n_syn), np.int64)
    w_rec = np.zeros((n_h, n_h, n_syn), np.int64)
    w_out = np.zeros((n_h, n_out), np.int64)
    for c in qgraph.connections:
        k = c.weight.shape[2]
        if c.group == "in":
            w_in[:, ids[c.target].start : ids[c.target].stop, :k] = c.weight
        elif c.group == "rec":
            src, tgt = ids[c.source], ids[c.target]
            w_rec[src.start : src.stop, tgt.start : tgt.stop, :k] = c.weight
        else:
            w_out[ids[c.source].start : ids[c.source].stop, :] = c.weight[:, :, 0]
    return {"weights_in": w_in, "weights_rec": w_rec, "weights_out": w_out}


def _provenance(qgraph: QuantizedGraph, ids: dict[str, range]) -> dict[str, Any]:
    pops = {
        n: {"start": r.start, "stop": r.stop, "n_synapses": qgraph.population(n).n_synapses} for n, r in ids.items()
    }
    conns = [[c.source, c.target, c.group, int(c.weight.shape[2])] for c in qgraph.connections]
    return {
        PROVENANCE_KEY: {
            "populations": pops,
            "readout": qgraph.readout,
            "connections": conns,
            "quantization": qgraph.method,
        }
    }


def _merge(own: list[Violation], drc: list[Violation]) -> list[Violation]:
    """Own (population-named) violations replace the spec-level ones of the same rule."""
    covered = {v.rule for v in own}
    return own + [v for v in drc if v.rule not in covered]


def map_to_spec(qgraph: QuantizedGraph, chip: str | ChipSpec | None = None, *, check_rules: bool = True) -> XyloSpec:
    """Lay a quantized graph out on ``chip`` (module docstring) and check the design rules.

    Args:
        qgraph: output of `xylodeploy.quantize.quantize_weights` (never modified).
        chip: defaults to ``qgraph.chip``; must be the chip it was quantized for.
        check_rules: run the design rules (raise `DesignRuleError` listing all violations).
    """
    spec_chip = get_chip(qgraph.chip if chip is None else chip)
    if spec_chip.name != qgraph.chip:
        raise ConfigError(f"graph was quantized for '{qgraph.chip}', cannot map it to '{spec_chip.name}'")
    ids = allocate(qgraph)
    n_h = sum(len(r) for r in ids.values())
    n_syn = max((p.n_synapses for p in qgraph.hidden_populations()), default=1)
    ro = qgraph.population(qgraph.readout)
    spec = XyloSpec(
        chip=spec_chip.name,
        **_weights(qgraph, ids, n_h, n_syn),
        **_hidden_arrays(qgraph, ids, n_h),
        dash_mem_out=ro.dash_mem,
        dash_syn_out=ro.dash_syn[:, 0],
        threshold_out=ro.threshold,
        bias_out=ro.bias,
        weight_shift_in=qgraph.weight_shift_in,
        weight_shift_rec=qgraph.weight_shift_rec,
        weight_shift_out=qgraph.weight_shift_out,
        aliases=(),
        dt=qgraph.dt,
        provenance=_provenance(qgraph, ids),
    )
    if check_rules:
        violations = _merge(allocation_violations(qgraph, ids, spec_chip), check(spec, spec_chip))
        if violations:
            raise DesignRuleError(violations)
    for v in advisories(spec, spec_chip):
        warnings.warn(str(v), DesignRuleWarning, stacklevel=2)
    return spec


def _mapping_provenance(spec: XyloSpec) -> Mapping[str, Any]:
    info = spec.provenance.get(PROVENANCE_KEY)
    if not isinstance(info, Mapping) or not {"populations", "readout", "connections"} <= set(info):
        raise ConfigError("spec has no mapping provenance (it was not produced by map_to_spec)")
    return info


def _unmap_hidden(spec: XyloSpec, name: str, entry: Mapping[str, Any]) -> QuantizedPopulation:
    sl = slice(int(entry["start"]), int(entry["stop"]))
    k = int(entry["n_synapses"])
    syn = np.stack([spec.dash_syn[sl], spec.dash_syn_2[sl]], axis=1)[:, :k]
    return QuantizedPopulation(name, "hidden", k, spec.dash_mem[sl], syn, spec.threshold[sl], spec.bias[sl])


def _unmap_connection(spec: XyloSpec, entry: list, ids: dict[str, slice]) -> QuantizedConnection:
    src, tgt, group, k = entry[0], entry[1], entry[2], int(entry[3])
    if group == "in":
        w = spec.weights_in[:, ids[tgt], :k]
    elif group == "rec":
        w = spec.weights_rec[ids[src], ids[tgt], :k]
    else:
        w = spec.weights_out[ids[src], :, None]
    return QuantizedConnection(src, tgt, group, w)


def unmap(spec: XyloSpec) -> QuantizedGraph:
    """Recover the per-population integer parameters of a spec made by `map_to_spec`.

    Scales and the quantisation report are not stored in a spec (``scale`` is None,
    ``report`` None). Raises `ConfigError` if the spec carries no mapping provenance.
    """
    info = _mapping_provenance(spec)
    readout = str(info["readout"])
    entries = dict(info["populations"])
    hidden = [_unmap_hidden(spec, n, e) for n, e in sorted(entries.items(), key=lambda kv: int(kv[1]["start"]))]
    ro = QuantizedPopulation(
        readout, "readout", 1, spec.dash_mem_out, spec.dash_syn_out[:, None], spec.threshold_out, spec.bias_out
    )
    ids = {n: slice(int(e["start"]), int(e["stop"])) for n, e in entries.items()}
    conns = tuple(_unmap_connection(spec, list(e), ids) for e in info["connections"])
    return QuantizedGraph(
        chip=spec.chip,
        n_inputs=spec.n_inputs,
        populations=(*hidden, ro),
        connections=conns,
        readout=readout,
        dt=spec.dt,
        weight_shift_in=spec.weight_shift_in,
        weight_shift_rec=spec.weight_shift_rec,
        weight_shift_out=spec.weight_shift_out,
        method=str(info.get("quantization", "")),
    )


__all__ = ["PROVENANCE_KEY", "map_to_spec", "unmap"]
