"""drc.validity: one check, two profiles, one message format, used by the DRC, the simulators, the board
driver and the exact model (they used to disagree on the bias range)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.samna_specs import random_spec
from xylodeploy.backends import get_backend
from xylodeploy.backends.samna.backend import SamnaBackend
from xylodeploy.drc import check as drc_check
from xylodeploy.drc import validity
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import empty_spec
from xylodeploy.models.exact import XyloExactNet

SPEC = empty_spec("xylo-audio2", 2, 3, 1)


@pytest.mark.parametrize(
    ("change", "chip_ok", "arith_ok"),
    [
        ({}, True, True),
        ({"bias": [0, 300, 0]}, False, True),  # beyond the assumed 8-bit register, inside int16
        ({"bias": [0, 40000, 0]}, False, False),
        ({"weight_shift_in": 9}, False, True),  # wraps, but the arithmetic is defined
        ({"weight_shift_in": 32}, False, False),
        ({"dash_mem": [16, 0, 0]}, False, False),
        ({"weights_rec": np.full((3, 3, 1), 128)}, False, False),
        ({"threshold_out": [-32769]}, False, False),
    ],
)
def test_profiles(change: dict, chip_ok: bool, arith_ok: bool) -> None:
    spec = SPEC.replace(**change)
    assert (validity.problems(spec, "chip") == []) is chip_ok
    assert (validity.problems(spec, "arith") == []) is arith_ok
    ranges = {v.rule for v in drc_check(spec)}
    assert any(r.endswith("_range") for r in ranges) is not chip_ok  # the DRC's range rules are the chip profile
    for run in (lambda s: get_backend("reference").load(s), lambda s: XyloExactNet(s, strict=False)):
        if arith_ok:
            run(spec)
        else:
            with pytest.raises(ConfigError):
                run(spec)
    if chip_ok:
        XyloExactNet(spec, strict=True)
    else:
        with pytest.raises(ConfigError):
            XyloExactNet(spec, strict=True)


def test_one_message_format_names_location_field_limit_and_value() -> None:
    spec = SPEC.replace(bias=[0, 40000, 0])
    expect = "bias_range: hidden neuron 1: bias = 40000 outside xylo-audio2 bias_range -32768..32767"
    with pytest.raises(ConfigError) as ref:
        get_backend("reference").load(spec)
    with pytest.raises(ConfigError) as exact:
        XyloExactNet(spec, strict=False)
    assert str(ref.value) == f"reference backend: {expect}" and str(exact.value) == f"exact model: {expect}"
    chip = [str(v) for v in drc_check(spec) if v.rule == "bias_range"]
    assert chip == ["bias_range: hidden neuron 1: bias = 40000 outside xylo-audio2 bias_range -128..127"]


def test_board_driver_refuses_what_the_chip_cannot_hold(fake_samna) -> None:
    board = SamnaBackend(samna=fake_samna(["xylo-imu"]), min_timeout_s=0.3, timeout_per_neuron_step_s=0.0)
    spec = random_spec("xylo-imu")
    with pytest.raises(ConfigError, match=r"samna backend: bias_range: hidden neuron 2: bias = 300"):
        board.load(spec.replace(bias=np.where(np.arange(spec.n_hidden) == 2, 300, spec.bias)))
    board.load(spec)


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="profile 'board'"):
        validity.problems(SPEC, "board")  # type: ignore[arg-type]
