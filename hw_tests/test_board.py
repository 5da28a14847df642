"""The stand-in checks, on a real board: conversion accepted by samna, bit-exact runs, power."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.samna_specs import random_spec
from xylodeploy.backends import get_backend
from xylodeploy.backends.compare import compare_devices
from xylodeploy.backends.samna.config import config_to_spec, spec_to_config

pytestmark = pytest.mark.hardware


def test_conversion_round_trip_with_real_samna(board):
    spec = random_spec(board.chip.name, n_h=60)
    config = spec_to_config(spec, board.samna, board.chip)
    ok, message = board.ns.validate_configuration(config)
    assert ok, message
    assert config_to_spec(config, board.chip, spec.n_inputs, spec.dt).equals(spec)


@pytest.mark.parametrize("record", [False, True])
def test_board_equals_reference(board, record):
    spec = random_spec(board.chip.name, n_h=60)
    raster = np.random.default_rng(0).integers(0, 4, (3, 50, spec.n_inputs))
    agreement = compare_devices(spec, raster, board, get_backend("reference"), record=record)
    assert agreement.equal, str(agreement.first_divergence)


def test_state_is_reset_between_clips(board):
    spec = random_spec(board.chip.name, n_h=60)
    board.load(spec)
    clip = np.random.default_rng(1).integers(0, 4, (1, 40, spec.n_inputs))
    assert np.array_equal(board.run(clip, record=True).vmem, board.run(clip, record=True).vmem)


def test_power_measurement(board, tmp_path):
    from xylodeploy.power.measure import measure_power, save_report

    spec = random_spec(board.chip.name, n_h=60)
    board.load(spec)
    raster = np.random.default_rng(2).integers(0, 4, (4, 100, spec.n_inputs))
    report = measure_power(board, raster, idle_s=2.0, active_s=3.0)
    for rail, stats in report.idle.items():
        assert stats.n > 0 and stats.mean_w > 0, rail
    assert report.energy_per_inference_j > 0
    save_report(report, tmp_path)
