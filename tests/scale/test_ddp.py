"""Data-parallel training on 2 CPU processes (gloo) follows the 1-process loss curve with the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support.fixtures_small import tiny_raw
from xylodeploy.train.distributed import DistContext, launch_command


def _run(tmp_path, name: str, nproc: int, raw: dict) -> dict:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    out = tmp_path / name
    args = ["train", str(cfg), "--out", str(out), "--quiet"]
    cmd = [sys.executable, "-m", "xylodeploy", *args] if nproc == 1 else launch_command(nproc, args)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("done in") == 1, "only rank 0 reports"
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_two_processes_follow_the_one_process_loss_curve(tmp_path):
    raw = tiny_raw(train={"epochs": 3, "batch_size": 30})  # 96 clips: a last batch of 6 splits 3 + 3
    one = _run(tmp_path, "one", 1, raw)
    two = _run(tmp_path, "two", 2, raw)
    for key in ("train_loss", "val_loss", "val_acc", "train_acc"):
        a = np.array([r[key] for r in one["history"]])
        b = np.array([r[key] for r in two["history"]])
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=key)
    assert one["history"][0]["train_loss"] != one["history"][-1]["train_loss"], "training must move the loss"
    assert two["test_acc"] == pytest.approx(one["test_acc"])


def test_local_part_scales_the_mean_loss_to_the_global_mean():
    import torch

    x, y = torch.arange(5.0)[:, None], torch.arange(5)
    parts = [DistContext(rank=r, world=2).local_part(x, y) for r in range(2)]
    assert [p[1].tolist() for p in parts] == [[0, 2, 4], [1, 3]]
    # sum_r factor_r * mean_r / W == global mean for any per-clip values
    vals = torch.tensor([1.0, 2.0, 4.0, 8.0, 16.0])
    combined = sum(f * vals[p[1]].mean() for p in parts for f in [p[2]]) / 2
    assert float(combined) == pytest.approx(float(vals.mean()))


def test_rank_without_clips_joins_with_zero_weight():
    import torch

    x, y = torch.zeros(1, 3), torch.zeros(1, dtype=torch.long)
    xs, ys, factor = DistContext(rank=1, world=2).local_part(x, y)
    assert len(ys) == 1 and factor == 0.0


@pytest.mark.slow
def test_exact_finetuning_on_two_processes_matches_one(tmp_path):
    """The chip-arithmetic fine-tuning splits its batches the same way (same losses, same best spec)."""
    outs = {}
    for n in (1, 2):
        out = tmp_path / f"ft{n}.json"
        runner = [sys.executable] if n == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                  f"--nproc-per-node={n}"]  # fmt: skip
        res = subprocess.run([*runner, "-m", "tests.scale.finetune_worker", str(out)], capture_output=True,
                             text=True, timeout=300, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        outs[n] = json.loads(out.read_text())
    h1, h2 = outs[1]["history"], outs[2]["history"]
    assert len(h1) == len(h2) == 3
    for a, b in zip(h1[1:], h2[1:], strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-6)
        assert b["val_accuracy"] == a["val_accuracy"]
    assert outs[1]["w_in"] == outs[2]["w_in"] and outs[1]["w_out"] == outs[2]["w_out"]
