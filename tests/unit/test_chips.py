"""Chip registry and ChipSpec value types."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from xylodeploy.chips import ChipSpec, IntRange, Projection, available_chips, get_chip
from xylodeploy.errors import ConfigError

CHIPS = [get_chip(n) for n in available_chips()]

# Independent source: SynSense's Xylo overview documentation, as tabulated in docs/chip-facts.md.
SPEC_TABLE = {
    "SYNS61201": dict(max_inputs=16, max_hidden=1000, max_readout=8, max_synapses=2, max_fanout=64, ien=None),
    "SYNS63300": dict(max_inputs=16, max_hidden=496, max_readout=16, max_synapses=1, max_fanout=512, ien=128),
    "SYNS65302": dict(max_inputs=16, max_hidden=992, max_readout=32, max_synapses=2, max_fanout=1024, ien=128),
}


def test_three_chips_registered() -> None:
    assert available_chips() == ["xylo-audio2", "xylo-imu", "xylo-audio3"]


@pytest.mark.parametrize("chip", CHIPS, ids=lambda c: c.name)
def test_lookup_by_every_name(chip: ChipSpec) -> None:
    for name in (chip.name, chip.part_number, *chip.aliases):
        assert get_chip(name) is chip
        assert get_chip(name.upper()) is chip
        assert get_chip(f"  {name} ") is chip
    assert get_chip(chip) is chip


def test_names_are_unique_across_chips() -> None:
    names = [n.lower() for c in CHIPS for n in c.names()]
    assert len(names) == len(set(names))
    assert all(c.part_number.lower() in (n.lower() for n in c.names()) for c in CHIPS)


@pytest.mark.parametrize("bad", ["xylo-audio4", "", "samna", "SYNS00000"])
def test_unknown_chip_lists_names(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        get_chip(bad)
    msg = str(info.value)
    assert "\n" not in msg
    assert all(name in msg for name in available_chips())


@pytest.mark.parametrize("chip", CHIPS, ids=lambda c: c.name)
def test_chip_facts_match_spec_table(chip: ChipSpec) -> None:
    expect = SPEC_TABLE[chip.part_number]
    for key in ("max_inputs", "max_hidden", "max_readout", "max_synapses", "max_fanout"):
        assert getattr(chip, key) == expect[key], key
    assert chip.input_projection.count == expect["ien"]
    assert chip.output_projection.count == expect["ien"]
    assert chip.two_synapses == (expect["max_synapses"] == 2)
    assert chip.weight_range == IntRange(-128, 127)
    assert chip.dash_range == IntRange(0, 15)
    assert chip.threshold_range == IntRange(-32768, 32767)
    assert (chip.max_input_events, chip.max_hidden_spikes, chip.max_output_spikes) == (15, 31, 1)


def test_chipspec_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CHIPS[0].max_hidden = 5  # type: ignore[misc]


def test_intrange_bounds_and_membership() -> None:
    assert IntRange.signed(8) == IntRange(-128, 127)
    assert IntRange.unsigned(4) == IntRange(0, 15)
    r = IntRange(-2, 3)
    assert str(r) == "-2..3"
    assert all(v in r for v in (-2, 0, 3, np.int8(3), np.int64(-2), np.uint8(1)))
    assert not any(v in r for v in (-3, 4, np.int64(4), 1.0, "1", None, True, False))


@pytest.mark.parametrize(
    ("proj", "n", "expect"),
    [
        (Projection(None, "first"), 5, range(5)),
        (Projection(None, "last"), 5, range(5)),
        (Projection(3, "first"), 5, range(0, 3)),
        (Projection(3, "last"), 5, range(2, 5)),
        (Projection(3, "last"), 3, range(3)),
        (Projection(3, "first"), 2, range(2)),
        (Projection(3, "last"), 0, range(0)),
    ],
)
def test_projection_allowed(proj: Projection, n: int, expect: range) -> None:
    assert list(proj.allowed(n)) == list(expect)
