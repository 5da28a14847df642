"""Design rules: each fires just above its chip limit and not at it, for every chip.

Limits are always read from the ChipSpec; sizes and values below are derived from them.
"""

from __future__ import annotations

import numpy as np
import pytest

from xylodeploy.chips import ChipSpec, available_chips, get_chip
from xylodeploy.drc import RULES, Violation, assert_valid, check, resource_summary
from xylodeploy.errors import ConfigError, DesignRuleError
from xylodeploy.ir import XyloSpec, empty_spec

CHIPS = [get_chip(n) for n in available_chips()]
per_chip = pytest.mark.parametrize("chip", CHIPS, ids=lambda c: c.name)


def spec_for(chip: ChipSpec, n_in: int = 2, n_h: int = 4, n_out: int = 2, n_syn: int = 1, **f: object) -> XyloSpec:
    return empty_spec(chip.name, n_in, n_h, n_out, n_syn, **f)


def fired(spec: XyloSpec, chip: ChipSpec, rule: str) -> list[Violation]:
    return [v for v in check(spec, chip) if v.rule == rule]


def test_rule_names_are_unique_and_documented() -> None:
    names = [r.__name__ for r in RULES]
    assert len(names) == len(set(names))
    assert all(r.__doc__ for r in RULES)


@per_chip
def test_default_spec_is_clean(chip: ChipSpec) -> None:
    assert check(spec_for(chip, n_syn=chip.max_synapses)) == []
    assert_valid(spec_for(chip))


@per_chip
def test_sizes_at_and_above_limits(chip: ChipSpec) -> None:
    at = spec_for(chip, chip.max_inputs, chip.max_hidden, chip.max_readout)
    assert check(at) == []
    for rule, sizes, attr in (
        ("max_inputs", (chip.max_inputs + 1, 4, 2), "max_inputs"),
        ("max_hidden", (2, chip.max_hidden + 1, 2), "max_hidden"),
        ("max_readout", (2, 4, chip.max_readout + 1), "max_readout"),
    ):
        (v,) = fired(spec_for(chip, *sizes), chip, rule)
        assert (v.value, v.limit) == (getattr(chip, attr) + 1, getattr(chip, attr))
        assert str(v).startswith(f"{rule}: ") and f"> {chip.name} {rule} {getattr(chip, attr)}" in str(v)


def test_violation_one_line_format() -> None:
    chip = get_chip("xylo-audio3")
    (v,) = fired(spec_for(chip, n_h=chip.max_hidden + 48), chip, "max_hidden")
    n = chip.max_hidden + 48
    assert str(v) == f"max_hidden: hidden layer: {n} neurons > xylo-audio3 max_hidden {chip.max_hidden}"


@per_chip
def test_min_size(chip: ChipSpec) -> None:
    assert {v.where for v in fired(spec_for(chip, n_h=0, n_out=0), chip, "min_size")} == {"hidden layer", "readout"}
    assert fired(spec_for(chip, n_h=1, n_out=1), chip, "min_size") == []


@per_chip
def test_synapse2_on_one_synapse_chip(chip: ChipSpec) -> None:
    assert fired(spec_for(chip, n_syn=chip.max_synapses), chip, "max_synapses") == []
    if chip.max_synapses >= 2:
        return  # XyloSpec itself refuses more than 2 synapses
    w = np.zeros((2, 4, 2), np.int64)
    w[1, 2, 1] = 5
    (v,) = fired(spec_for(chip, n_syn=2, weights_in=w), chip, "max_synapses")
    assert (v.value, v.limit) == (2, chip.max_synapses)
    assert "1 nonzero synapse-2 weights" in v.message
    (v,) = fired(spec_for(chip, n_syn=2), chip, "max_synapses")  # Nsyn == 2 even with zero weights


def _projection_case(chip: ChipSpec, which: str) -> tuple[int, range, list[int]]:
    proj = chip.input_projection if which == "in" else chip.output_projection
    n_h = (proj.count or chip.max_hidden) + 1
    allowed = proj.allowed(n_h)
    outside = [h for h in range(n_h) if h not in allowed]
    return n_h, allowed, outside


@per_chip
def test_input_projection(chip: ChipSpec) -> None:
    n_h, allowed, outside = _projection_case(chip, "in")
    w = np.zeros((2, n_h, 1), np.int64)
    w[1, list(allowed), 0] = 1  # every allowed IEN used: fine
    assert fired(spec_for(chip, n_h=n_h, weights_in=w), chip, "input_projection") == []
    if chip.input_projection.count is None:
        assert outside == [] and len(allowed) == n_h
        return
    w[1, outside[0], 0] = -3
    (v,) = fired(spec_for(chip, n_h=n_h, weights_in=w), chip, "input_projection")
    assert v.where == f"input channel 1 -> hidden {outside[0]}" and v.field == "weights_in" and v.count == 1


@per_chip
def test_output_projection(chip: ChipSpec) -> None:
    n_h, allowed, outside = _projection_case(chip, "out")
    w = np.zeros((n_h, 2), np.int64)
    w[list(allowed), 1] = 1
    assert fired(spec_for(chip, n_h=n_h, weights_out=w), chip, "output_projection") == []
    if chip.output_projection.count is None:
        assert outside == []
        return
    w[outside, 0] = 2
    (v,) = fired(spec_for(chip, n_h=n_h, weights_out=w), chip, "output_projection")
    assert v.where == f"hidden {outside[0]} -> readout 0" and v.count == len(outside)


@per_chip
def test_max_fanout_counts_distinct_targets_over_banks(chip: ChipSpec) -> None:
    n_syn = chip.max_synapses
    n_h = chip.max_fanout + 1
    w = np.zeros((n_h, n_h, n_syn), np.int64)
    w[3, : chip.max_fanout, 0] = 1
    w[3, : chip.max_fanout, n_syn - 1] = -1  # same targets in the other bank: still distinct targets only
    assert fired(spec_for(chip, n_h=n_h, n_syn=n_syn, weights_rec=w), chip, "max_fanout") == []
    w[3, chip.max_fanout, n_syn - 1] = 1
    w[5, :, 0] = 1
    (v,) = fired(spec_for(chip, n_h=n_h, n_syn=n_syn, weights_rec=w), chip, "max_fanout")
    assert (v.value, v.limit, v.count, v.where) == (chip.max_fanout + 1, chip.max_fanout, 2, "hidden neuron 3")


@per_chip
def test_max_recurrent_slots_per_bank(chip: ChipSpec) -> None:
    n_syn = chip.max_synapses
    n_h = int(np.ceil(np.sqrt(chip.max_recurrent_slots + 1)))
    flat = np.zeros(n_h * n_h, np.int64)
    flat[: chip.max_recurrent_slots] = 1
    w = np.repeat(flat.reshape(n_h, n_h, 1), n_syn, axis=2)  # every bank exactly at its limit
    assert fired(spec_for(chip, n_h=n_h, n_syn=n_syn, weights_rec=w), chip, "max_recurrent_slots") == []
    w[-1, -1, 0] = 1  # one more slot in bank 1 only (n_h * n_h > max_recurrent_slots)
    (v,) = fired(spec_for(chip, n_h=n_h, n_syn=n_syn, weights_rec=w), chip, "max_recurrent_slots")
    assert (v.value, v.limit) == (chip.max_recurrent_slots + 1, chip.max_recurrent_slots)
    assert v.where == "recurrent synapse bank 1"


RANGE_FIELDS = [
    ("weight_range", "weights_in", "weight_range"),
    ("weight_range", "weights_rec", "weight_range"),
    ("weight_range", "weights_out", "weight_range"),
    ("threshold_range", "threshold", "threshold_range"),
    ("threshold_range", "threshold_out", "threshold_range"),
    ("bias_range", "bias", "bias_range"),
    ("bias_range", "bias_out", "bias_range"),
    ("dash_range", "dash_mem", "dash_range"),
    ("dash_range", "dash_syn", "dash_range"),
    ("dash_range", "dash_syn_2", "dash_range"),
    ("dash_range", "dash_mem_out", "dash_range"),
    ("dash_range", "dash_syn_out", "dash_range"),
]


@per_chip
@pytest.mark.parametrize(("rule", "field", "attr"), RANGE_FIELDS, ids=[f[1] for f in RANGE_FIELDS])
def test_value_ranges_at_and_beyond(chip: ChipSpec, rule: str, field: str, attr: str) -> None:
    rng = getattr(chip, attr)
    base = spec_for(chip, n_syn=2)
    arr = np.array(getattr(base, field))
    idx = tuple(1 for _ in arr.shape)  # an inner element: checks the located index
    for ok in (rng.lo, rng.hi):
        arr[idx] = ok
        assert fired(base.replace(**{field: arr}), chip, rule) == []
    for bad in (rng.lo - 1, rng.hi + 1):
        arr[idx] = bad
        (v,) = fired(base.replace(**{field: arr}), chip, rule)
        assert (v.field, v.value, v.limit, v.count) == (field, bad, str(rng), 1)
        assert f"{field} = {bad} outside {chip.name} {rule} {rng}" in str(v)
        assert ("hidden 1" in v.where) or ("neuron 1" in v.where)


@per_chip
def test_dash_syn_2_ignored_on_one_synapse_spec(chip: ChipSpec) -> None:
    s = spec_for(chip, n_syn=1, dash_syn_2=np.full(4, chip.dash_range.hi + 1))
    assert fired(s, chip, "dash_range") == []


@per_chip
def test_range_violations_grouped_worst_and_first(chip: ChipSpec) -> None:
    hi = chip.weight_range.hi
    w = np.zeros((chip.max_inputs, 6, 1), np.int64)
    w[0, 5, 0] = hi + 1  # first in C order
    w[3, 2, 0] = hi + 50  # worst
    w[4, :, 0] = chip.weight_range.lo - 2
    (v,) = fired(spec_for(chip, n_in=chip.max_inputs, n_h=6, weights_in=w), chip, "weight_range")
    assert v.count == 8 and v.value == hi + 50 and v.where == "input channel 3 -> hidden 2"
    assert "8 values out of range, first: input channel 0 -> hidden 5" in v.message


@per_chip
@pytest.mark.parametrize("field", ["weight_shift_in", "weight_shift_rec", "weight_shift_out"])
def test_weight_shift_range(chip: ChipSpec, field: str) -> None:
    rng = chip.weight_shift_range
    for ok in (rng.lo, rng.hi):
        assert fired(spec_for(chip, **{field: ok}), chip, "weight_shift_range") == []
    for bad in (rng.lo - 1, rng.hi + 1):
        (v,) = fired(spec_for(chip, **{field: bad}), chip, "weight_shift_range")
        assert (v.field, v.value) == (field, bad)


@per_chip
def test_max_alias_targets(chip: ChipSpec) -> None:
    n_h = chip.max_alias_targets + 3
    at = [tuple(range(1, 1 + chip.max_alias_targets))] + [()] * (n_h - 1)
    assert check(spec_for(chip, n_h=n_h, aliases=at)) == []
    above = [tuple(range(1, 2 + chip.max_alias_targets))] + [()] * (n_h - 1)
    (v,) = fired(spec_for(chip, n_h=n_h, aliases=above), chip, "max_alias_targets")
    assert (v.value, v.limit, v.where) == (chip.max_alias_targets + 1, chip.max_alias_targets, "hidden neuron 0")


@per_chip
def test_alias_targets_in_range_and_not_self(chip: ChipSpec) -> None:
    assert fired(spec_for(chip, aliases=[(3,), (0,), (), ()]), chip, "alias_target") == []
    vs = fired(spec_for(chip, aliases=[(4,), (-1,), (2,), ()]), chip, "alias_target")
    assert len(vs) == 2 and {v.where for v in vs} == {"hidden neuron 0", "hidden neuron 2"}
    out = next(v for v in vs if v.where == "hidden neuron 0")
    assert out.count == 2 and out.value == 4


@per_chip
@pytest.mark.parametrize(("dt", "bad"), [(1e-3, False), (1e-9, False), (0.0, True), (-1e-3, True)])
def test_dt_positive(chip: ChipSpec, dt: float, bad: bool) -> None:
    assert bool(fired(spec_for(chip, dt=dt), chip, "dt_positive")) == bad


def test_assert_valid_raises_with_all_violations() -> None:
    chip = get_chip("xylo-imu")
    s = spec_for(chip, n_in=chip.max_inputs + 1, dt=0.0, threshold=np.full(4, chip.threshold_range.hi + 1))
    with pytest.raises(DesignRuleError) as info:
        assert_valid(s)
    assert {v.rule for v in info.value.violations} == {"max_inputs", "dt_positive", "threshold_range"}
    assert "3 design-rule violation(s)" in str(info.value) and "\n" not in str(info.value)


def test_check_chip_argument() -> None:
    a2, imu = get_chip("xylo-audio2"), get_chip("xylo-imu")
    s = spec_for(a2, n_h=imu.max_hidden + 1)
    assert check(s) == [] and check(s, "xylo-audio2") == []
    assert [v.rule for v in check(s, imu)] == ["max_hidden"] == [v.rule for v in check(s, "imu")]
    with pytest.raises(ConfigError, match="unknown chip"):
        check(empty_spec("xylo-9000", 1, 1, 1))


def test_bad_quantization_gives_few_lines() -> None:
    chip = get_chip("xylo-audio2")
    rng = np.random.default_rng(0)
    s = spec_for(chip, n_in=16, n_h=200, n_out=8, n_syn=2,
                 weights_in=rng.integers(-1000, 1000, (16, 200, 2)),
                 weights_rec=rng.integers(-1000, 1000, (200, 200, 2)),
                 threshold=rng.integers(-10**6, 10**6, 200))  # fmt: skip
    vs = check(s)
    assert len(vs) <= 6 and all("\n" not in str(v) for v in vs)
    assert {(v.rule, v.field) for v in vs} >= {("weight_range", "weights_in"), ("max_fanout", "weights_rec")}


# --- resource summary, cross-checked against naive loops ----------------------------------------


def _naive(spec: XyloSpec) -> dict[str, int]:
    n_h, n_syn = spec.n_hidden, spec.n_synapses
    fan = 0
    for src in range(n_h):
        targets = set()
        for tgt in range(n_h):
            for s in range(n_syn):
                if spec.weights_rec[src, tgt, s] != 0:
                    targets.add(tgt)
        fan = max(fan, len(targets))
    iens = sum(
        1 for h in range(n_h) if any(spec.weights_in[c, h, s] for c in range(spec.n_inputs) for s in range(n_syn))
    )
    oens = sum(1 for h in range(n_h) if any(spec.weights_out[h, o] for o in range(spec.n_outputs)))
    slots1 = sum(1 for a in range(n_h) for b in range(n_h) if spec.weights_rec[a, b, 0])
    return {"fan": fan, "iens": iens, "oens": oens, "slots1": slots1}


@per_chip
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resource_summary_matches_naive_count(chip: ChipSpec, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_h, n_syn = 30, 2
    mask = lambda shape, p: rng.integers(-3, 4, shape) * (rng.random(shape) < p)  # noqa: E731
    s = spec_for(chip, n_in=5, n_h=n_h, n_out=4, n_syn=n_syn,
                 weights_in=mask((5, n_h, n_syn), 0.1), weights_rec=mask((n_h, n_h, n_syn), 0.2),
                 weights_out=mask((n_h, 4), 0.1), aliases=[(1,)] + [()] * (n_h - 1))  # fmt: skip
    rows = {r.resource: r for r in resource_summary(s, chip)}
    naive = _naive(s)
    assert rows["max recurrent fan-out"].used == naive["fan"]
    assert rows["input expansion neurons (IENs)"].used == naive["iens"]
    assert rows["output expansion neurons (OENs)"].used == naive["oens"]
    assert rows["recurrent slots (synapse 1)"].used == naive["slots1"]
    assert rows["hidden neurons"].used == n_h and rows["hidden neurons"].available == chip.max_hidden
    assert rows["alias targets (max per neuron)"].used == 1
    assert rows["nonzero recurrent weights"].used == int(np.count_nonzero(s.weights_rec))
    bank2 = rows["recurrent slots (synapse 2)"]
    assert bank2.available == (chip.max_recurrent_slots if chip.max_synapses > 1 else 0)
    assert (
        bank2.percent is None
        if chip.max_synapses == 1
        else bank2.percent == pytest.approx(100 * bank2.used / bank2.available)
    )
    for r in rows.values():
        assert r.over == (r.used > r.available)
        if r.available:
            assert r.percent == pytest.approx(100.0 * r.used / r.available)
