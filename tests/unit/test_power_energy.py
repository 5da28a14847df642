"""Activity-based energy estimate: reproduces its calibration anchors, intervals ordered, CLI output."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from xylodeploy.power.energy import ANCHOR_CLOCK_HZ, ANCHORS, CHECKS, STATIC_W, estimate_energy
from xylodeploy.power.estimate import estimate


def _estimate_with(chip: str, cycles_per_s: float, dt: float = 1e-3):
    from xylodeploy.power.estimate import LABEL, Estimate

    cyc = cycles_per_s * dt
    return Estimate(LABEL, chip, dt, 50e6, {}, 0.1, 0.1, cyc, cyc, 2 * cyc, 0.0, None, None, 1.0, None, 1.0)


@pytest.mark.parametrize("chip", list(ANCHORS))
def test_a_core_busy_at_the_anchor_clock_gives_the_anchor_power(chip):
    """Whatever the static power in its bound, the model reproduces the published figure it was fitted to."""
    e = estimate_energy(_estimate_with(chip, ANCHOR_CLOCK_HZ), n_steps=1000)
    assert e.power_w["low"] == pytest.approx(ANCHORS[chip].power_w) == pytest.approx(e.power_w["high"])
    assert e.energy_per_inference_j["mid"] == pytest.approx(ANCHORS[chip].power_w * 1.0)


def test_intervals_are_ordered_and_scale_with_activity():
    lo_act = estimate_energy(_estimate_with("xylo-audio2", 1e5), 500)
    hi_act = estimate_energy(_estimate_with("xylo-audio2", 2e6), 500)
    for e in (lo_act, hi_act):
        for key in ("power_w", "energy_per_inference_j", "energy_per_cycle_j", "dynamic_energy_per_inference_j"):
            v = getattr(e, key)
            assert v["low"] <= v["mid"] <= v["high"]
        assert e.label.startswith("ESTIMATE") and e.real_time is True
    # at low activity the static-power bound dominates the uncertainty
    assert lo_act.power_w["high"] - lo_act.power_w["low"] > 0.9 * (STATIC_W[1] - STATIC_W[0])
    assert hi_act.dynamic_energy_per_inference_j["mid"] == pytest.approx(
        20 * lo_act.dynamic_energy_per_inference_j["mid"]
    )


def test_the_keyword_spotting_check_numbers():
    """CHECKS quotes 177-277 uW at a fully busy 6.25 MHz core and 5-39 % below the 291 uW measurement."""
    busy = [ANCHORS["xylo-audio2"].power_w - s for s in STATIC_W[::-1]]
    assert [round(b * 1e6) for b in busy] == [177, 277]
    assert [round(100 * (1 - b / 291e-6)) for b in busy[::-1]] == [5, 39]
    assert "177-277 uW" in CHECKS[0] and "5-39 %" in CHECKS[0]


def test_power_cli_prints_joules_and_writes_them(tmp_path):
    from click.testing import CliRunner

    from xylodeploy.cli import main
    from xylodeploy.ir.xylospec import XyloSpec

    w_in = np.ones((2, 3, 1), int)
    z3, z2 = np.zeros(3, int), np.zeros(2, int)
    spec = XyloSpec("xylo-imu", w_in, np.zeros((3, 3, 1), int), np.ones((3, 2), int), z3 + 1, z3 + 1, z3, z2 + 1,
                    z2 + 1, z3 + 3, z2 + 3, z3, z2, dt=5e-3)  # fmt: skip
    spec.save(tmp_path / "s.xylo")
    np.savez(tmp_path / "d.npz", spikes=np.random.default_rng(0).integers(0, 2, (2, 40, 2)))
    res = CliRunner().invoke(main, ["power", str(tmp_path / "s.xylo"), "--data", str(tmp_path / "d.npz"),
                                    "--out", str(tmp_path / "o")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "µJ" in res.output and "estimated power" in res.output
    doc = json.loads((tmp_path / "o" / "estimate.json").read_text())
    e = doc["energy"]
    assert e["n_steps"] == 40 and e["chip"] == "xylo-imu" and e["energy_per_inference_j"]["mid"] > 0
    assert e["anchor"]["power_w"] == pytest.approx(200e-6)
    assert dataclasses.is_dataclass(estimate(spec))
