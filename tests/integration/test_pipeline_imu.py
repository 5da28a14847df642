"""`xylodeploy pipeline` for xylo-imu on raw IMU samples (the embedded gesture task), end to end on a tiny run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tests.support.fixtures_small import write_yaml
from xylodeploy.cli import main
from xylodeploy.frontends.imu_config import read_interface
from xylodeploy.ir import XyloSpec

pytestmark = pytest.mark.slow


def test_imu_pipeline_runs_and_writes_the_interface_registers(tmp_path):
    raw = {
        "seed": 1,
        "data": {"kind": "imu", "n_train": 24, "n_val": 12, "n_test": 12, "duration": 1.0,
                 "interface": {"encoder": "iaf", "iaf_threshold": 2000}},
        "model": {"size_hidden_layers": [8], "time_constants_per_layer": [2], "tau_syn_base": 0.01,
                  "tau_mem": 0.01, "tau_syn_out": 0.01, "dt": 0.005},
        "train": {"epochs": 1, "batch_size": 12, "progress": False, "threads": 1},
        "quantize": {"chip": "xylo-imu", "finetune_epochs": 0},
        "simulate": {"backends": ["reference"], "exact_clips": 0},
        "report": {"plots": False},
    }  # fmt: skip
    cfg = write_yaml(tmp_path / "imu.yaml", raw)
    res = CliRunner().invoke(main, ["pipeline", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    out = tmp_path / "run"
    spec = XyloSpec.load(out / "model.xylo")
    assert spec.chip == "xylo-imu" and np.asarray(spec.weights_in).shape[0] == 15
    iface = read_interface(out / "imu_interface.json")
    assert iface.encoder == "iaf" and iface.thresholds().tolist() == [2000] * 15
    doc = json.loads((out / "report.json").read_text())
    assert doc["chip"] == "xylo-imu" and doc["validation"]["stages"]["reference"]["n_clips"] == 12
    assert doc["metrics"]["membrane_updates"] == 200 * (8 + 6)  # 1 s at 5 ms, 8 hidden + 6 readout neurons
    assert json.loads((out / "neurobench.json").read_text())["MembraneUpdates"] == 200 * 14
    assert "Xylo IMU" in (out / "report.html").read_text()
