"""Run-config validation: one-line messages naming the file, key, limit and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from xylodeploy.errors import ConfigError
from xylodeploy.train.config import RunConfig, config_from_dict, load_config, save_config

REPO = Path(__file__).resolve().parents[2]


def _err(raw, source="configs/x.yaml") -> str:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(raw, source)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_messages_name_key_limit_and_value():
    assert _err({"train": {"lr": -1}}) == "configs/x.yaml: train.lr: must be > 0 (got -1)"
    assert _err({"data": {"kind": "synthetic", "n_train": 0}}) == "configs/x.yaml: data.n_train: must be >= 1 (got 0)"
    assert "model.output: must be one of 'vmem' or 'spikes' (got 'rate')" in _err({"model": {"output": "rate"}})
    assert "train.loss: must be one of 'ce_max', 'ce_mean' or 'ce_count' (got 'mse')" in _err(
        {"train": {"loss": "mse"}}
    )


def test_unknown_keys_list_the_allowed_ones():
    msg = _err({"train": {"lr": 0.1, "learning_rate": 0.1}})
    assert msg.startswith("configs/x.yaml: train.learning_rate: unknown key (allowed: epochs, batch_size, lr,")
    assert "bogus: unknown key (allowed: data, model, train, augment, seed)" in _err({"bogus": 1})
    assert "data.n_trian: unknown key (allowed: kind, n_train" in _err({"data": {"kind": "synthetic", "n_trian": 5}})


def test_data_kind_and_required_keys():
    assert _err({"data": {"kind": "wav"}}).endswith(
        "data.kind: must be one of 'synthetic', 'npz', 'shd', 'audio', 'imu', 'dense' (got 'wav')"
    )
    assert _err({"data": {"kind": "npz"}}) == "configs/x.yaml: data.train: required key missing"
    assert "data: gap_ms must be [min, max] with 0 <= min <= max (got [150.0, 50.0])" in _err(
        {"data": {"kind": "synthetic", "gap_ms": [150, 50]}}
    )
    assert "data.gap_ms: must be a list of 2 numbers" in _err({"data": {"kind": "synthetic", "gap_ms": [5]}})
    assert "size_hidden_layers (2 layers) and time_constants_per_layer (1)" in _err(
        {"model": {"size_hidden_layers": [8, 8]}}
    )


def test_yaml_booleans_in_string_lists(tmp_path):
    (tmp_path / "a.yaml").write_text("data: {kind: audio, root: x, classes: [up, no]}\n")
    with pytest.raises(ConfigError, match=r"data.classes.1: must be a string \(got False: YAML reads unquoted"):
        load_config(tmp_path / "a.yaml")


def test_yaml_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("train:\n  lr: [1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: invalid YAML at line \d"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="list.yaml: expected a mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "npz.yaml").write_text("data:\n  kind: npz\n  train: data/train.npz\n")
    cfg = load_config(tmp_path / "npz.yaml")
    assert cfg.data.train == tmp_path / "data" / "train.npz"  # relative to the config file
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_save_load_round_trip(tmp_path):
    cfg = config_from_dict({"model": {"size_hidden_layers": [8, 4], "time_constants_per_layer": [3, 2]}, "seed": 7})
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("quickstart", "synthetic"),
        ("speech_commands", "audio"),
        ("shd", "shd"),
        ("imu_quickstart", "imu"),
        ("speech_commands_audio3", "audio"),
    ],
)
def test_shipped_configs_are_valid(name, kind):
    from xylodeploy.flow.pipeline import load_pipeline_config  # shipped configs may carry pipeline sections

    cfg = load_pipeline_config(REPO / "configs" / f"{name}.yaml")
    assert cfg.data.kind == kind and cfg.model.name == "SynNet"


def test_later_stages_extend_by_subclassing(tmp_path):
    class QuantizeSection(BaseModel):
        model_config = ConfigDict(extra="forbid")
        chip: str = "xylo-audio2"

    class PipelineConfig(RunConfig):
        quantize: QuantizeSection = QuantizeSection()

    (tmp_path / "p.yaml").write_text("quantize:\n  chip: xylo-imu\n")
    assert load_config(tmp_path / "p.yaml", PipelineConfig).quantize.chip == "xylo-imu"
    (tmp_path / "q.yaml").write_text("quantize:\n  chipp: x\n")
    with pytest.raises(ConfigError, match=r"quantize.chipp: unknown key \(allowed: chip\)"):
        load_config(tmp_path / "q.yaml", PipelineConfig)


def test_all_errors_reported_on_one_line():
    msg = _err({"train": {"lr": 0, "epochs": 0}})
    assert "train.epochs: must be >= 1 (got 0); train.lr: must be > 0 (got 0)" in msg
