"""Board power measurement through the stand-in: per-rail statistics, energy, JSON and PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.samna_specs import random_spec
from xylodeploy.backends.samna.backend import SamnaBackend
from xylodeploy.power.measure import RailStats, measure_power, save_report


def test_rail_stats():
    s = RailStats.of([1.0, 2.0, 3.0, 4.0])
    assert (s.mean_w, s.n) == (2.5, 4)
    assert s.sem_w == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)
    assert RailStats.of([5.0]).sem_w is None


@pytest.mark.parametrize("chip", ["xylo-audio3", "xylo-audio2"])
def test_measure_on_stand_in(fake_samna, tmp_path, chip):
    samna = fake_samna([chip])
    board = SamnaBackend(samna=samna, min_timeout_s=0.5, timeout_per_neuron_step_s=0.0)
    board.load(random_spec(chip))
    raster = np.random.default_rng(0).integers(0, 3, (2, 20, 4))
    rep = measure_power(board, raster, idle_s=0.25, active_s=0.25, sample_hz=80)
    fake = samna.boards[0]
    assert set(rep.idle) == set(board.chip.power_rails.values())
    for samna_name, rail in board.chip.power_rails.items():
        assert rep.idle[rail].mean_w == pytest.approx(fake.idle_w[samna_name])  # idle is exactly the base level
        assert rep.idle[rail].n >= 10 and rep.active[rail].n >= 10
        assert rep.dynamic_w[rail] > 0
    total = sum(a.mean_w for a in rep.active.values())
    assert rep.energy_per_inference_j == pytest.approx(total * rep.latency_s)
    assert rep.mode == "accelerated" and rep.clock_hz == board.chip.default_clock_hz
    assert fake.power.rate is None  # measurement stopped afterwards
    json_path, png_path = save_report(rep, tmp_path)
    data = json.loads(json_path.read_text())
    assert data["label"].startswith("MEASURED") and data["n_inferences"] == rep.n_inferences
    assert png_path.read_bytes()[:4] == b"\x89PNG"


def test_realtime_measure_on_a2_uses_the_audio_front_end(fake_samna):
    samna = fake_samna(["xylo-audio2"])
    board = SamnaBackend(samna=samna, min_timeout_s=0.5, timeout_per_neuron_step_s=0.0)
    spec = random_spec("xylo-audio2").replace(dt=0.01)
    board.load(spec)
    raster = np.zeros((1, 8, spec.n_inputs), np.int64)
    rep = measure_power(board, raster, idle_s=0.2, active_s=0.1, sample_hz=40, realtime=True)
    assert rep.mode == "realtime" and rep.n_inferences >= 1
    assert rep.latency_s >= 8 * spec.dt * 0.9  # real time paces one step per dt
    assert not samna.boards[0].power.is_auto_power_measurement_active()
