"""Wall-time budgets: float training and exact fine-tuning stop at batch granularity and keep the best epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xylodeploy.models.exact import XyloExactNet
from xylodeploy.train.config import config_from_dict
from xylodeploy.train.data import load_dataset
from xylodeploy.train.finetune import evaluate_exact, finetune_exact
from xylodeploy.train.loop import Budget, train

TASK = {"kind": "synthetic", "n_train": 64, "n_val": 24, "n_test": 24, "duration_ms": 100,
        "onset_ms": [0, 5], "burst_ms": [8, 12], "gap_ms": [10, 20]}  # fmt: skip
MODEL = {"size_hidden_layers": [8], "time_constants_per_layer": [4], "output": "vmem"}


def cfg(**train_kw):
    t = {"epochs": 50, "batch_size": 8, "lr": 0.01, "progress": False, "threads": 1, **train_kw}
    return config_from_dict({"data": TASK, "model": MODEL, "train": t, "seed": 2})


@pytest.fixture(scope="module")
def data():
    return load_dataset(cfg())


def test_budget_counts_wall_time():
    assert not Budget(None).exhausted() and Budget(None).postfix() == {}
    b = Budget(1e-9)
    assert b.exhausted() and b.postfix()["budget"].endswith("/0.0s")
    assert not Budget(10.0).exhausted()


def test_time_budget_stops_a_float_run_mid_epoch_and_keeps_the_best(tmp_path, data):
    res = train(cfg(max_minutes=1e-9), tmp_path, data=data)  # used up after the first batch
    assert res.out_of_time and res.epochs_run == 1 and res.best_epoch == 0
    assert res.history[0]["out_of_time"] and res.checkpoint.is_file()
    # exactly one batch of 8 trained: the train accuracy is a multiple of 1/8, over those 8 clips
    assert res.history[0]["train_acc"] * 8 == pytest.approx(round(res.history[0]["train_acc"] * 8))
    full = train(cfg(epochs=2), tmp_path / "full", data=data)
    assert not full.out_of_time and full.epochs_run == 2


def test_best_validation_epoch_is_the_one_kept(tmp_path, data):
    res = train(cfg(epochs=4, lr=0.05), tmp_path, data=data)
    accs = [h["val_acc"] for h in res.history]
    assert res.best_epoch == int(np.argmax(accs)) and res.best_val_acc == max(accs)
    ckpt = torch.load(res.checkpoint, weights_only=True)
    assert ckpt["epoch"] == res.best_epoch


@pytest.fixture(scope="module")
def spec(data, tmp_path_factory):
    from xylodeploy.flow.compile import CompileOptions, compile
    from xylodeploy.train.checkpoint import load_model

    res = train(cfg(epochs=1), tmp_path_factory.mktemp("ft"), data=data)
    model, _ = load_model(res.checkpoint)
    return compile(model.eval(), "xylo-audio2", CompileOptions(), calibration=data.train.spikes).spec


def test_finetune_budget_stops_after_one_batch_and_returns_the_best(spec, data):
    train_xy, val_xy = (data.train.spikes, data.train.labels), (data.val.spikes, data.val.labels)
    best, rep = finetune_exact(spec, train_xy, val_xy, epochs=20, lr=0.5, batch_size=8, max_minutes=1e-9,
                               progress=False)  # fmt: skip
    assert len(rep.history) == 2 and rep.history[-1]["out_of_time"]
    accs = [h["val_accuracy"] for h in rep.history]
    assert rep.best_epoch == int(np.argmax(accs)) and rep.best_val_accuracy == max(accs)
    # the returned spec really has the best accuracy (evaluated afresh in exact arithmetic)
    assert evaluate_exact(XyloExactNet(best), val_xy, "ce_max")[0] == pytest.approx(rep.best_val_accuracy)


def test_schedule_is_replanned_to_end_with_the_budget():
    from xylodeploy.train.loop import planned_epochs

    class Clock(Budget):
        def __init__(self, minutes, elapsed):
            super().__init__(minutes)
            self._e = elapsed

        def elapsed(self):
            return self._e

    assert planned_epochs(60, 5, 5, Budget(None)) == 60  # no budget: the configured schedule
    assert planned_epochs(60, 0, 0, Clock(1.0, 0.0)) == 60  # nothing measured yet
    # 10 epochs took 100 s of a 300 s budget: 20 more fit, the schedule spans 30 epochs
    assert planned_epochs(60, 10, 10, Clock(5.0, 100.0)) == 30
    assert planned_epochs(25, 10, 10, Clock(5.0, 100.0)) == 25  # the budget does not bind
    assert planned_epochs(60, 10, 10, Clock(5.0, 400.0)) == 11  # over budget: at least this epoch
    # resumed after 4 epochs, 2 run in this session in 50 s of a 100 s budget: 2 more fit
    assert planned_epochs(60, 6, 2, Clock(100 / 60, 50.0)) == 8


def test_budget_reserves_time_for_the_last_validation():
    b = Budget(1.0, reserve=60.0)
    assert b.exhausted()  # 60 s budget, all of it kept back for the validation after the stop
    assert not Budget(1.0, reserve=1.0).exhausted()


def test_finetune_keeps_an_epoch_only_for_more_than_one_clip_of_validation_gain(monkeypatch):
    """300 validation clips: +1 clip (epoch 1) is noise and is not taken; +2 clips (epoch 2) is."""
    import numpy as np

    from tests.support.strategies import build_random_spec
    from xylodeploy.chips import get_chip
    from xylodeploy.train import finetune as ft

    knobs = {"density": 0.3, "extreme": False, "rec_scale": 0.3, "th_scale": 300, "bias": False, "alias_p": 0.0}
    spec = build_random_spec(get_chip("xylo-audio2"), (16, 8, 4, 1), knobs, seed=2)
    accs = iter([270 / 300, 271 / 300, 272 / 300, 273 / 300])
    monkeypatch.setattr(ft, "evaluate_exact", lambda *a, **k: (next(accs), 0))
    monkeypatch.setattr(ft, "_train_epoch", lambda *a, **k: (0.0, 0.0))
    x, y = np.zeros((4, 5, 16), np.int64), np.zeros(4, np.int64)
    _, report = ft.finetune_exact(spec, (x, y), (np.zeros((300, 5, 16), np.int64), np.zeros(300, np.int64)),
                                  epochs=3, progress=False)  # fmt: skip
    assert report.best_epoch == 2 and report.best_val_accuracy == 272 / 300
