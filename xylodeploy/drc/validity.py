"""Which values a `XyloSpec` may hold: one check, two profiles, one message format.

* ``"chip"``: what the chip accepts (its register widths, `ChipSpec` ranges): weights int8,
  weight shifts 0..7, thresholds int16, biases ``chip.bias_range`` (8 bit: the hardware width is
  unconfirmed, this is the safe assumption), dashes 0..15, at most ``chip.max_synapses`` synapses.
  The design-rule checker (`xylodeploy.drc`), the board driver and ``XyloExactNet(strict=True)``
  use it.
* ``"arith"``: what the integer arithmetic (docs/chip-arithmetic.md) is defined for, as xylosim
  runs it: int16 biases and thresholds, weight shifts 0..31 (the effective weight ``wrap16(w <<
  shift)`` wraps from 9 on and is 0 from 16 on); weights int8 and dashes 0..15 as on the chip.
  The simulators (reference, xylosim) and ``XyloExactNet(strict=False)`` use it.

Both profiles also require alias targets to be hidden neurons. Structural limits (sizes, fan-out,
projections) are design rules, not arithmetic: only the DRC checks them.

Every problem is a `Violation` whose one-line form names the location, field, limit and value::

    reference backend: bias_range: hidden neuron 3: bias = 300 outside xylo-audio2 bias_range -128..127
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from xylodeploy.chips import ChipSpec, IntRange, get_chip
from xylodeploy.drc import locate as loc
from xylodeploy.drc.violation import Violation
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec

Profile = Literal["chip", "arith"]
PROFILES: tuple[str, ...] = ("chip", "arith")
ARITH_SHIFT_RANGE = IntRange(0, 31)


@dataclass(frozen=True)
class Ranges:
    """The value ranges of one profile on one chip."""

    weight: IntRange
    weight_shift: IntRange
    threshold: IntRange
    bias: IntRange
    dash: IntRange


def ranges(chip: ChipSpec, profile: Profile) -> Ranges:
    """The ranges of ``profile`` ('chip' or 'arith') on ``chip`` (module docstring)."""
    if profile == "chip":
        return Ranges(
            chip.weight_range, chip.weight_shift_range, chip.threshold_range, chip.bias_range, chip.dash_range
        )
    if profile == "arith":
        return Ranges(chip.weight_range, ARITH_SHIFT_RANGE, chip.state_range, chip.state_range, chip.dash_range)
    raise ConfigError(f"spec validity profile '{profile}': expected one of {', '.join(PROFILES)}")


def _array(rule: str, field: str, arr: np.ndarray, rng: IntRange, spec: XyloSpec, chip: ChipSpec) -> list[Violation]:
    """One grouped violation for the entries of ``field`` outside ``rng``: the worst, the count and the first."""
    bad = (arr < rng.lo) | (arr > rng.hi)
    count = int(np.count_nonzero(bad))
    if count == 0:
        return []
    excess = np.maximum(rng.lo - arr, arr - rng.hi)
    worst = np.unravel_index(int(np.argmax(excess)), arr.shape)
    first = tuple(np.argwhere(bad)[0])
    value = int(arr[worst])
    more = f"; {count} values out of range, first: {loc.locate(field, first, spec.n_synapses)}" if count > 1 else ""
    msg = f"{field} = {value} outside {chip.name} {rule} {rng}{more}"
    return [Violation(rule, loc.locate(field, worst, spec.n_synapses), field, value, str(rng), msg, count)]


_FIELDS: dict[str, tuple[str, ...]] = {
    "weight": ("weights_in", "weights_rec", "weights_out"),
    "threshold": ("threshold", "threshold_out"),
    "bias": ("bias", "bias_out"),
    "dash": ("dash_mem", "dash_syn", "dash_syn_2", "dash_mem_out", "dash_syn_out"),
}
_SHIFT_WHERE = {"weight_shift_in": "input weights", "weight_shift_rec": "recurrent weights",
                "weight_shift_out": "readout weights"}  # fmt: skip


def range_problems(spec: XyloSpec, chip: ChipSpec, profile: Profile, kinds: tuple[str, ...] = ()) -> list[Violation]:
    """Values of ``spec`` outside ``profile``'s ranges; ``kinds`` limits the check to some of
    'weight', 'weight_shift', 'threshold', 'bias', 'dash' (all when empty)."""
    r = ranges(chip, profile)
    out: list[Violation] = []
    for kind, fields in _FIELDS.items():
        if kinds and kind not in kinds:
            continue
        for field in fields:
            if field == "dash_syn_2" and spec.n_synapses < 2:
                continue
            out += _array(f"{kind}_range", field, getattr(spec, field), getattr(r, kind), spec, chip)
    if not kinds or "weight_shift" in kinds:
        for field, where in _SHIFT_WHERE.items():
            value = getattr(spec, field)
            if value not in r.weight_shift:
                msg = f"{field} = {value} outside {chip.name} weight_shift_range {r.weight_shift}"
                out.append(Violation("weight_shift_range", where, field, value, str(r.weight_shift), msg))
    return out


def problems(spec: XyloSpec, profile: Profile) -> list[Violation]:
    """Everything that keeps ``profile`` from running ``spec`` (empty: valid)."""
    chip = get_chip(spec.chip)
    out = range_problems(spec, chip, profile)
    if profile == "chip" and spec.n_synapses > chip.max_synapses:
        msg = f"weights_in has {spec.n_synapses} synapses > {chip.name} max_synapses {chip.max_synapses}"
        out.append(Violation("max_synapses", "hidden layer", "weights_in", spec.n_synapses, chip.max_synapses, msg))
    n_h = spec.n_hidden
    for h, targets in enumerate(spec.aliases):
        for t in targets:
            if not 0 <= t < n_h:
                msg = f"aliases = {t} outside the hidden neurons 0..{n_h - 1}"
                out.append(Violation("alias_target", loc.hidden(h), "aliases", t, f"0..{n_h - 1}", msg))
    return out


def check(spec: object, profile: Profile, source: str = "spec") -> ChipSpec:
    """Return ``spec``'s `ChipSpec` if ``profile`` can run it; else raise `ConfigError` naming the first problem
    (``"<source>: <rule>: <where>: <field> = <value> outside <chip> <rule> <range>"``)."""
    if not isinstance(spec, XyloSpec):
        raise ConfigError(f"{source}: expected a XyloSpec, got {type(spec).__name__}")
    found = problems(spec, profile)
    if found:
        more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
        raise ConfigError(f"{source}: {found[0]}{more}")
    return get_chip(spec.chip)


__all__ = ["PROFILES", "Profile", "Ranges", "check", "problems", "range_problems", "ranges"]
