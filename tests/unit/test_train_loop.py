"""The training loop: learns the synthetic task, early stopping, reproducible resume, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xylodeploy.data.dataset import RasterDataset, Splits
from xylodeploy.errors import ConfigError
from xylodeploy.train.config import config_from_dict
from xylodeploy.train.data import load_dataset
from xylodeploy.train.loop import train

TINY_TASK = {
    "kind": "synthetic", "n_train": 48, "n_val": 24, "n_test": 24, "duration_ms": 120,
    "onset_ms": [0, 5], "burst_ms": [8, 12], "gap_ms": [10, 30],
}  # fmt: skip
TINY_MODEL = {"size_hidden_layers": [12], "time_constants_per_layer": [6]}


def small_cfg(**train):
    t = {"epochs": 2, "lr": 0.01, "batch_size": 16, "progress": False, **train}
    return config_from_dict({"data": TINY_TASK, "model": TINY_MODEL, "train": t, "seed": 1})


@pytest.fixture(scope="module")
def small_data():
    return load_dataset(small_cfg())


def test_learns_the_burst_order_task(tmp_path):
    """The default task (6 classes, 450 ms clips) with a quarter of the quick-start data and 3 epochs."""
    data = {"kind": "synthetic", "n_train": 256, "n_val": 96, "n_test": 96}
    train_cfg = {"epochs": 3, "lr": 0.01, "batch_size": 16, "lr_schedule": "none", "loss": "ce_mean", "progress": False}
    cfg = config_from_dict(
        {"data": data, "train": train_cfg, "augment": {"enabled": False}}
    )  # 3 epochs: no augmentation
    res = train(cfg, tmp_path)
    assert res.test_acc > 0.4 and res.best_val_acc > 0.4  # chance is 1/6; 0.4 is 6 sd above it
    assert res.checkpoint.is_file() and res.last_checkpoint.is_file()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_acc"] == res.test_acc and len(metrics["history"]) == 3
    assert (tmp_path / "config.yaml").is_file()


def test_resume_reproduces_an_uninterrupted_run(tmp_path, small_data):
    full = train(small_cfg(epochs=2), tmp_path / "a", data=small_data)
    train(small_cfg(epochs=1), tmp_path / "b", data=small_data)
    resumed = train(small_cfg(epochs=2), tmp_path / "b", data=small_data, resume=True)
    assert [h["epoch"] for h in resumed.history] == [0, 1]
    a = torch.load(full.last_checkpoint, weights_only=True)["state_dict"]
    b = torch.load(resumed.last_checkpoint, weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.test_acc == full.test_acc


def test_early_stopping(tmp_path, small_data):
    res = train(small_cfg(epochs=5, lr=1e-12, patience=2), tmp_path, data=small_data)
    assert res.stopped_early and res.epochs_run == 3 and res.best_epoch == 0


def test_resume_errors(tmp_path, small_data):
    with pytest.raises(ConfigError, match="no checkpoint to resume"):
        train(small_cfg(), tmp_path / "none", data=small_data, resume=True)
    train(small_cfg(epochs=1), tmp_path / "r", data=small_data)
    other = small_cfg(epochs=2)
    other.model.size_hidden_layers = [10]
    before = (tmp_path / "r" / "last.pt").read_bytes()
    with pytest.raises(ConfigError, match=r"last.pt: checkpoint is from another model \(model.size_hidden_layers"):
        train(other, tmp_path / "r", data=small_data, resume=True)
    assert (tmp_path / "r" / "last.pt").read_bytes() == before


def test_data_that_does_not_fit_the_model(tmp_path, small_data):
    from xylodeploy.models import SynNet

    model = SynNet(6, 8, size_hidden_layers=[4], time_constants_per_layer=[2], output="vmem")
    with pytest.raises(ConfigError, match="synthetic:train: raster has 16 channels but the model expects 8"):
        train(small_cfg(), tmp_path, data=small_data, model=model)
    empty = RasterDataset(np.zeros((0, 120, 16)), np.zeros(0), small_data.train.classes, source="val.npz")
    with pytest.raises(ConfigError, match="val.npz: the val split is empty"):
        train(small_cfg(), tmp_path, data=Splits(small_data.train, empty, small_data.test))
    assert not (tmp_path / "last.pt").exists()
