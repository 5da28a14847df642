"""`xylodeploy deploy` and `xylodeploy power` end to end (board = the samna stand-in)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tests.support.samna_specs import random_spec
from xylodeploy.backends import get_backend
from xylodeploy.backends.samna.backend import SamnaBackend
from xylodeploy.cli import main
from xylodeploy.errors import DeviceError
from xylodeploy.io.rasters import save_raster_npz


@pytest.fixture
def files(tmp_path):
    spec = random_spec("xylo-imu")
    spec.save(tmp_path / "net.xylo")
    raster = np.random.default_rng(3).integers(0, 3, (3, 20, 4))
    save_raster_npz(tmp_path / "data.npz", raster, np.array([0, 1, 2]))
    return spec, raster, tmp_path


@pytest.fixture
def board(monkeypatch, fake_samna):
    samna = fake_samna(["xylo-imu"])

    def open_board(chip):
        return SamnaBackend(samna=samna, chip=chip, min_timeout_s=0.5, timeout_per_neuron_step_s=0.0)

    monkeypatch.setattr("xylodeploy.cli.deploy_cmd.open_board", open_board)
    return samna


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _expected_counts(spec, raster):
    ref = get_backend("reference")
    ref.load(spec)
    return ref.run(raster).spikes_out.astype(int).sum(axis=1)


@pytest.mark.parametrize("device", ["reference", "board"])
def test_deploy_prints_predictions(files, board, device):
    spec, raster, d = files
    res = _run("deploy", d / "net.xylo", "--device", device, "--data", d / "data.npz")
    assert res.exit_code == 0, res.output
    counts = _expected_counts(spec, raster)
    for b in range(3):
        assert f"clip {b}: output spikes {counts[b].tolist()}" in res.output
    assert "accuracy:" in res.output
    if device == "board":
        assert "Xylo IMU board FAKE0000" in res.output and "50 MHz" in res.output and "accelerated" in res.output


def test_deploy_realtime_streams(files, board):
    spec, raster, d = files
    spec.replace(dt=0.03).save(d / "slow.xylo")
    save_raster_npz(d / "one.npz", raster[:1, :8])
    res = _run("deploy", d / "slow.xylo", "--device", "board", "--data", d / "one.npz", "--realtime")
    assert res.exit_code == 0, res.output
    assert "8 steps streamed" in res.output


def test_deploy_refuses_spec_that_does_not_fit(files, board):
    spec, _, d = files
    spec.replace(threshold=np.full(spec.n_hidden, 40000)).save(d / "bad.xylo")
    res = _run("deploy", d / "bad.xylo", "--device", "board")
    assert res.exit_code == 2 and "design-rule violation" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_deploy_no_board(files, monkeypatch):
    def no_board(chip):
        raise DeviceError("no Xylo IMU board found: connect the HDK")

    monkeypatch.setattr("xylodeploy.cli.deploy_cmd.open_board", no_board)
    res = _run("deploy", files[2] / "net.xylo", "--device", "board")
    assert res.exit_code == 2 and res.output.strip() == "error: no Xylo IMU board found: connect the HDK"


def test_power_estimate_without_board(files):
    _, _, d = files
    res = _run("power", d / "net.xylo", "--data", d / "data.npz", "--out", d / "out")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("ESTIMATE")
    est = json.loads((d / "out" / "estimate.json").read_text())
    assert est["label"].startswith("ESTIMATE") and est["cycles_peak_step"] <= est["cycles_worst"]


def test_power_on_board(files, board):
    _, _, d = files
    res = _run("power", d / "net.xylo", "--data", d / "data.npz", "--device", "board", "--out", d / "pw",
               "--idle-s", 0.2, "--active-s", 0.2)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "MEASURED" in res.output and "energy/inference" in res.output
    assert (d / "pw" / "power.json").exists() and (d / "pw" / "power.png").exists()
