"""Hidden-neuron allocation: which chip ids each hidden population gets.

Populations are laid out contiguously, layer by layer: first those fed by the input (they
must sit in the chip's input expansion neurons, ``chip.input_projection``), then the other
hidden populations in topological order, then those that drive the readout (output expansion
neurons, ``chip.output_projection``; position "last" means the highest ids). A population that
is both fed by the input and drives the readout stays with the first group. On chips whose
projections are unrestricted (Xylo Audio 2) the same order is used, so ids are predictable.
"""

from __future__ import annotations

from xylodeploy.chips import ChipSpec, Projection
from xylodeploy.drc import Violation
from xylodeploy.quantize.qgraph import QuantizedGraph


def allocation_order(qgraph: QuantizedGraph) -> tuple[str, ...]:
    """Hidden population names in id order (module docstring)."""
    hidden = [p.name for p in qgraph.hidden_populations()]
    first = list(qgraph.input_targets())
    last = [n for n in qgraph.readout_sources() if n not in first]
    middle = [n for n in hidden if n not in first and n not in last]
    return tuple(first + middle + last)


def allocate(qgraph: QuantizedGraph) -> dict[str, range]:
    """Population name -> range of hidden ids, in `allocation_order`."""
    out: dict[str, range] = {}
    start = 0
    for name in allocation_order(qgraph):
        size = qgraph.population(name).size
        out[name] = range(start, start + size)
        start += size
    return out


def _projection_violations(
    names: tuple[str, ...], ids: dict[str, range], proj: Projection, n_hidden: int, chip: ChipSpec, kind: str
) -> list[Violation]:
    allowed = proj.allowed(n_hidden)
    field, rule = ("weights_in", "input_projection") if kind == "input" else ("weights_out", "output_projection")
    what = "receive input" if kind == "input" else "drive the readout"
    out = []
    for name in names:
        r = ids[name]
        if r.start < allowed.start or r.stop > allowed.stop:
            out.append(
                Violation(
                    rule=rule,
                    where=f"population '{name}'",
                    field=field,
                    value=f"hidden ids {r.start}..{r.stop - 1}",
                    limit=f"ids {allowed.start}..{allowed.stop - 1}",
                    message=(
                        f"population '{name}' needs hidden ids {r.start}..{r.stop - 1} to {what}, but on {chip.name} "
                        f"only {proj.count} neurons ({proj.position}: ids {allowed.start}..{allowed.stop - 1}) can"
                    ),
                )
            )
    return out


def allocation_violations(qgraph: QuantizedGraph, ids: dict[str, range], chip: ChipSpec) -> list[Violation]:
    """Problems of the graph's structure on ``chip``, each naming the population."""
    n_hidden = sum(len(r) for r in ids.values())
    out = _projection_violations(qgraph.input_targets(), ids, chip.input_projection, n_hidden, chip, "input")
    out += _projection_violations(qgraph.readout_sources(), ids, chip.output_projection, n_hidden, chip, "output")
    for p in qgraph.hidden_populations():
        if p.n_synapses > chip.max_synapses:
            out.append(
                Violation(
                    rule="max_synapses",
                    where=f"population '{p.name}'",
                    field="weights_in",
                    value=p.n_synapses,
                    limit=chip.max_synapses,
                    message=(
                        f"population '{p.name}' uses {p.n_synapses} synapses per neuron, "
                        f"{chip.name} has {chip.max_synapses}"
                    ),
                )
            )
    ro = qgraph.population(qgraph.readout)
    if ro.n_synapses != 1:
        out.append(
            Violation(
                rule="readout_synapses",
                where=f"population '{ro.name}'",
                field="dash_syn_out",
                value=ro.n_synapses,
                limit=1,
                message=f"readout population '{ro.name}' uses {ro.n_synapses} synapses; Xylo readout neurons have 1",
            )
        )
    return out
