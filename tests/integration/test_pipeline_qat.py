"""Quantization-aware training is on by default in the pipeline: exact epochs on the whole training set."""

from __future__ import annotations

import copy
import json

import pytest

from tests.support.fixtures_small import TINY
from xylodeploy.flow.pipeline import PipelineConfig, run_pipeline
from xylodeploy.train.config import config_from_dict

FAST_SIM = {"simulate": {"backends": ["reference"], "exact_clips": 0}, "report": {"plots": False}}


def _cfg(quantize: dict | None = None) -> PipelineConfig:
    raw = {**copy.deepcopy(TINY), **copy.deepcopy(FAST_SIM)}
    raw["data"].update(n_train=32, n_val=16, n_test=16, duration_ms=100)
    if quantize is not None:
        raw["quantize"] = quantize
    return config_from_dict(raw, "<qat>", PipelineConfig)


def test_defaults_run_exact_training_on_the_whole_training_set_with_budgets(tmp_path) -> None:
    cfg = _cfg()
    assert cfg.quantize.finetune_epochs > 0 and cfg.quantize.finetune_clips is None
    assert cfg.train.max_minutes and cfg.quantize.finetune_max_minutes  # the time budgets are the safety net
    lines: list[str] = []
    res = run_pipeline(cfg, tmp_path / "run", log=lines.append)
    doc = json.loads(res.report_path.read_text())
    stages = {s["name"]: s["settings"] for s in res.deployment.spec.provenance["stages"]}
    assert stages["finetune_exact"]["epochs"] == cfg.quantize.finetune_epochs
    assert stages["finetune_exact"]["max_minutes"] == cfg.quantize.finetune_max_minutes
    ft = doc["finetune"]
    assert len(ft["history"]) == cfg.quantize.finetune_epochs + 1  # epoch 0 = the quantized spec, then each epoch
    accs = [h["val_accuracy"] for h in ft["history"]]
    assert ft["best_val_accuracy"] == max(accs) and ft["best_epoch"] == accs.index(max(accs))
    assert "exact training" in lines[1] and "min" in lines[1]


def test_exact_training_all_keeps_one_float_epoch(tmp_path) -> None:
    cfg = _cfg({"finetune_epochs": 1, "exact_training": "all"})
    res = run_pipeline(cfg, tmp_path / "run", log=lambda s: None)
    doc = json.loads(res.report_path.read_text())
    assert doc["train"]["epochs_run"] == 1
    assert len(doc["finetune"]["history"]) == cfg.train.epochs - 1 + 1 + 1


def test_bad_budget_is_a_config_error() -> None:
    from xylodeploy.errors import ConfigError

    with pytest.raises(ConfigError, match="quantize.finetune_max_minutes: must be > 0"):
        _cfg({"finetune_max_minutes": 0})
    with pytest.raises(ConfigError, match="quantize.exact_training: must be one of"):
        _cfg({"exact_training": "sometimes"})


def test_cli_budgets_stop_training_and_exact_training(tmp_path) -> None:
    from click.testing import CliRunner

    from tests.support.fixtures_small import write_yaml
    from xylodeploy.cli import main

    raw = _cfg({"finetune_epochs": 3}).model_dump(mode="json")
    path = write_yaml(tmp_path / "b.yaml", raw)
    args = ["pipeline", str(path), "--out", str(tmp_path / "o"), "--epochs", "5", "--max-minutes", "1e-9",
            "--finetune-max-minutes", "1e-9"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    assert doc["train"]["epochs_run"] == 1 and doc["train"]["out_of_time"]
    assert doc["config"]["train"]["max_minutes"] == 1e-9
    assert len(doc["finetune"]["history"]) == 2 and doc["finetune"]["history"][-1]["out_of_time"]
