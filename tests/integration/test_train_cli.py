"""`xylodeploy train` end to end on a tiny synthetic task."""

from __future__ import annotations

import textwrap

import torch
from click.testing import CliRunner

from xylodeploy.cli import main

CONFIG = """\
seed: 3
data: {kind: synthetic, n_train: 32, n_val: 16, n_test: 16, duration_ms: 100,
       onset_ms: [0, 5], burst_ms: [8, 12], gap_ms: [10, 20]}
model: {size_hidden_layers: [8], time_constants_per_layer: [5]}
train: {epochs: 3, batch_size: 16, lr: 0.01}
"""


def test_train_then_resume(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(main, ["train", str(cfg), "--out", str(out), "--epochs", "1"])
    assert res.exit_code == 0, res.output
    assert "test acc" in res.output and f"checkpoint: {out / 'best.pt'}" in res.output
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 0
    res = runner.invoke(main, ["train", str(cfg), "--out", str(out), "--resume", "-q"])
    assert res.exit_code == 0, res.output
    assert "(resuming)" in res.output and "3 epochs" in res.output
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 2
    before = (out / "best.pt").read_bytes()
    res = runner.invoke(main, ["train", str(cfg), "--out", str(out), "-q"])
    assert res.exit_code == 2 and "already holds a training run" in res.output
    assert (out / "best.pt").read_bytes() == before


def test_bad_config_is_one_line_exit_2(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(textwrap.dedent(CONFIG).replace("lr: 0.01", "lr: -1"))
    res = CliRunner().invoke(main, ["train", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert f"error: {cfg}: train.lr: must be > 0 (got -1)" in res.output
    assert not (tmp_path / "o").exists()
    res = CliRunner().invoke(main, ["train", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "config file not found" in res.output
