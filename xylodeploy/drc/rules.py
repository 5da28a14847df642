"""The design rules: small named functions ``(spec, chip) -> list[Violation]``.

Every limit is read from the `ChipSpec`; nothing here hard-codes a chip number. Entries that
break the same rule in the same field are grouped into one `Violation` (worst value, count and
first offender), so a badly quantized network gives a handful of lines, not thousands.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xylodeploy.chips import ChipSpec
from xylodeploy.drc import locate as loc
from xylodeploy.drc import validity
from xylodeploy.drc.violation import Violation
from xylodeploy.ir.xylospec import XyloSpec

Rule = Callable[[XyloSpec, ChipSpec], list[Violation]]


def _hidden_span(r: range) -> str:
    return f"hidden {r.start}..{r.stop - 1}" if len(r) else "no hidden neuron"


def _too_many(rule: str, where: str, field: str, used: int, limit: int, what: str, chip: ChipSpec) -> Violation:
    return Violation(rule, where, field, used, limit, f"{used} {what} > {chip.name} {rule} {limit}")


def max_inputs(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Input channels <= chip.max_inputs."""
    if spec.n_inputs <= chip.max_inputs:
        return []
    return [_too_many("max_inputs", "input layer", "weights_in", spec.n_inputs, chip.max_inputs, "channels", chip)]


def max_hidden(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Hidden neurons <= chip.max_hidden."""
    if spec.n_hidden <= chip.max_hidden:
        return []
    return [_too_many("max_hidden", "hidden layer", "weights_rec", spec.n_hidden, chip.max_hidden, "neurons", chip)]


def max_readout(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Readout neurons <= chip.max_readout."""
    if spec.n_outputs <= chip.max_readout:
        return []
    return [_too_many("max_readout", "readout", "weights_out", spec.n_outputs, chip.max_readout, "neurons", chip)]


def min_size(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """At least one hidden and one readout neuron (a network needs both layers)."""
    out = []
    for where, field, n in (("hidden layer", "weights_rec", spec.n_hidden), ("readout", "weights_out", spec.n_outputs)):
        if n < 1:
            out.append(Violation("min_size", where, field, n, 1, f"{n} neurons: at least 1 needed"))
    return out


def max_synapses(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """A second synaptic state (Nsyn == 2) only on chips that have one."""
    if spec.n_synapses <= chip.max_synapses:
        return []
    used = int(np.count_nonzero(spec.weights_in[:, :, 1:]) + np.count_nonzero(spec.weights_rec[:, :, 1:]))
    msg = (
        f"{spec.n_synapses} synaptic states per neuron ({used} nonzero synapse-2 weights) "
        f"> {chip.name} max_synapses {chip.max_synapses}"
    )
    return [Violation("max_synapses", "hidden layer", "weights_in", spec.n_synapses, chip.max_synapses, msg)]


def _projection(
    rule: str, field: str, nonzero_rows: np.ndarray, n_hidden: int, allowed: range, name: Callable, chip: ChipSpec
) -> list[Violation]:
    """Shared body of the IEN/OEN rules: ``nonzero_rows`` = argwhere(weights != 0) of ``field``."""
    if nonzero_rows.size == 0:
        return []
    hcol = 1 if field == "weights_in" else 0  # column holding the hidden index
    what = "input" if field == "weights_in" else "readout"
    ok = np.zeros(n_hidden, bool)
    ok[allowed.start : allowed.stop] = True
    bad = nonzero_rows[~ok[nonzero_rows[:, hcol]]]
    if bad.size == 0:
        return []
    neurons = np.unique(bad[:, hcol])
    first = bad[0]
    span = _hidden_span(allowed)
    more = f"; {len(neurons)} hidden neurons in all" if len(neurons) > 1 else ""
    msg = f"nonzero {what} weights on hidden {first[hcol]}, outside the {chip.name} {rule} ({span}){more}"
    return [Violation(rule, name(*first), field, int(first[hcol]), span, msg, count=len(neurons))]


def input_projection(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Nonzero input weights only into input expansion neurons (chip.input_projection)."""
    nz = np.argwhere(spec.weights_in != 0)
    allowed = chip.input_projection.allowed(spec.n_hidden)
    name = lambda c, h, s: loc.input_weight(c, h, s, spec.n_synapses)  # noqa: E731
    return _projection("input_projection", "weights_in", nz, spec.n_hidden, allowed, name, chip)


def output_projection(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Nonzero readout weights only from output expansion neurons (chip.output_projection)."""
    nz = np.argwhere(spec.weights_out != 0)
    allowed = chip.output_projection.allowed(spec.n_hidden)
    return _projection("output_projection", "weights_out", nz, spec.n_hidden, allowed, loc.out_weight, chip)


def fanout(spec: XyloSpec) -> np.ndarray:
    """Distinct recurrent targets of each hidden source neuron (nonzero weight in any synapse bank)."""
    return np.count_nonzero(np.any(spec.weights_rec != 0, axis=2), axis=1)


def _per_neuron_limit(
    rule: str, field: str, counts: np.ndarray, limit: int, describe: str, chip: ChipSpec
) -> list[Violation]:
    """One violation for hidden neurons whose ``counts`` exceed ``limit``: the worst, the count, the first."""
    bad = np.flatnonzero(counts > limit)
    if bad.size == 0:
        return []
    worst = int(np.argmax(counts))
    more = f"; {bad.size} neurons over, first: hidden neuron {bad[0]}" if bad.size > 1 else ""
    msg = f"{describe.format(counts[worst])} > {chip.name} {rule} {limit}{more}"
    return [Violation(rule, loc.hidden(worst), field, int(counts[worst]), limit, msg, bad.size)]


def max_fanout(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Recurrent fan-out per source neuron <= chip.max_fanout."""
    return _per_neuron_limit("max_fanout", "weights_rec", fanout(spec), chip.max_fanout,
                             "fan-out {} recurrent targets", chip)  # fmt: skip


def max_recurrent_slots(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Nonzero recurrent weights per synapse bank <= chip.max_recurrent_slots."""
    out = []
    for s in range(spec.n_synapses):
        used = int(np.count_nonzero(spec.weights_rec[:, :, s]))
        if used > chip.max_recurrent_slots:
            where = f"recurrent synapse bank {s + 1}"
            msg = f"{used} nonzero recurrent weights > {chip.name} max_recurrent_slots {chip.max_recurrent_slots}"
            out.append(Violation("max_recurrent_slots", where, "weights_rec", used, chip.max_recurrent_slots, msg))
    return out


def _ranges(kind: str, spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """The chip profile of the one spec-validity check (`xylodeploy.drc.validity`) for one kind of value."""
    return validity.range_problems(spec, chip, "chip", (kind,))


def weight_range(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Input, recurrent and readout weights within chip.weight_range."""
    return _ranges("weight", spec, chip)


def threshold_range(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Hidden and readout thresholds within chip.threshold_range."""
    return _ranges("threshold", spec, chip)


def bias_range(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Hidden and readout biases within chip.bias_range."""
    return _ranges("bias", spec, chip)


def dash_range(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """All bit-shift decays within chip.dash_range (dash_syn_2 only for two-synapse specs)."""
    return _ranges("dash", spec, chip)


def weight_shift_range(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Weight bit shifts within chip.weight_shift_range."""
    return _ranges("weight_shift", spec, chip)


def max_alias_targets(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """At most chip.max_alias_targets alias targets per hidden neuron."""
    lens = np.array([len(a) for a in spec.aliases], dtype=np.int64)
    return _per_neuron_limit("max_alias_targets", "aliases", lens, chip.max_alias_targets, "{} alias targets", chip)


def alias_target(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """Alias targets are existing hidden neurons other than the source itself."""
    n = spec.n_hidden
    outside = [(h, t) for h, ts in enumerate(spec.aliases) for t in ts if not 0 <= t < n]
    selfs = [h for h, ts in enumerate(spec.aliases) if h in ts]
    out = []
    if outside:
        h, t = outside[0]
        more = f"; {len(outside)} such targets" if len(outside) > 1 else ""
        msg = f"alias target {t} is not a hidden neuron (0..{n - 1}){more}"
        out.append(Violation("alias_target", loc.hidden(h), "aliases", t, f"0..{n - 1}", msg, len(outside)))
    if selfs:
        more = f"; {len(selfs)} neurons alias themselves" if len(selfs) > 1 else ""
        msg = f"neuron is its own alias target{more}"
        out.append(Violation("alias_target", loc.hidden(selfs[0]), "aliases", selfs[0], "not self", msg, len(selfs)))
    return out


def dt_positive(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """The time step dt is a positive number of seconds."""
    if spec.dt > 0:
        return []
    return [Violation("dt_positive", "network", "dt", spec.dt, "> 0", f"dt = {spec.dt} s, expected > 0")]


def dt_range(spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """A positive dt lies in `DT_RANGE_S` (a denormal or huge dt is a damaged file, not a design)."""
    from xylodeploy.chips._common import DT_RANGE_S

    lo, hi = DT_RANGE_S
    if not spec.dt > 0 or lo <= spec.dt <= hi:
        return []
    msg = f"dt = {spec.dt} s, expected {lo:g}..{hi:g} s"
    return [Violation("dt_range", "network", "dt", spec.dt, f"[{lo:g}, {hi:g}]", msg)]


RULES: list[Rule] = [
    min_size,
    max_inputs,
    max_hidden,
    max_readout,
    max_synapses,
    input_projection,
    output_projection,
    max_fanout,
    max_recurrent_slots,
    weight_range,
    weight_shift_range,
    threshold_range,
    bias_range,
    dash_range,
    max_alias_targets,
    alias_target,
    dt_positive,
    dt_range,
]
