"""Checkpoints: round trip, plain-type metadata, and one-line errors for damaged or foreign files."""

from __future__ import annotations

import io

import pytest
import torch

from xylodeploy.errors import ConfigError
from xylodeploy.models import SynNet
from xylodeploy.train.checkpoint import SCHEMA, build_model, load_checkpoint, load_model, save_checkpoint

KW = {"size_hidden_layers": [6], "time_constants_per_layer": [3], "output": "vmem"}


class Evil:
    """Any class: a checkpoint holding one must not be unpickled."""


def _save(path, model, **extra):
    fields = {"dataset": {"n_channels": 4, "n_classes": 3, "classes": ["a", "b", "c"], "dt": 1e-3},
              "config": {"seed": 0}, "metrics": {"val_acc": 0.5}, "epoch": 2, "history": [], **extra}  # fmt: skip
    return save_checkpoint(path, model, **fields)


def test_round_trip_rebuilds_the_same_model(tmp_path):
    torch.manual_seed(0)
    model = SynNet(3, 4, **KW)
    with torch.no_grad():
        model.weights[0].mul_(20)  # make the hidden layer spike
    _save(tmp_path / "m.pt", model)
    back, ckpt = load_model(tmp_path / "m.pt")
    x = torch.poisson(torch.full((2, 30, 4), 1.0))
    torch.testing.assert_close(back(x), model.eval()(x), rtol=0, atol=0)
    assert ckpt.model_class == "SynNet" and ckpt.init_kwargs == model.init_kwargs
    assert ckpt.dataset["classes"] == ["a", "b", "c"] and ckpt.epoch == 2
    raw = torch.load(tmp_path / "m.pt", weights_only=True)  # plain types only
    assert raw["schema"] == SCHEMA and raw["schema_version"] == 1 and raw["xylodeploy_version"]


def test_damaged_and_foreign_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ConfigError, match="junk.pt: not a readable xylodeploy checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="other.pt: not a xylodeploy checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    _save(tmp_path / "ok.pt", SynNet(3, 4, **KW))
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="cut.pt: not a readable"):
        load_checkpoint(tmp_path / "cut.pt")

    buf = io.BytesIO()
    torch.save({"schema": SCHEMA, "x": Evil()}, buf)
    (tmp_path / "evil.pt").write_bytes(buf.getvalue())
    with pytest.raises(ConfigError, match="evil.pt: not a readable"):  # weights_only refuses arbitrary classes
        load_checkpoint(tmp_path / "evil.pt")


def test_schema_and_field_checks(tmp_path):
    _save(tmp_path / "m.pt", SynNet(3, 4, **KW))
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    for change, match in [({"schema_version": 99}, "schema version 99"), ({"history": "x"}, "'history'")]:
        torch.save({**raw, **change}, tmp_path / "bad.pt")
        with pytest.raises(ConfigError, match=match):
            load_checkpoint(tmp_path / "bad.pt")
    torch.save({**raw, "model": {"class": "os:system", "init_kwargs": {}}}, tmp_path / "cls.pt")
    with pytest.raises(ConfigError, match="unknown model class 'os:system'"):
        load_model(tmp_path / "cls.pt")


def test_weights_that_do_not_fit(tmp_path):
    _save(tmp_path / "m.pt", SynNet(3, 4, **KW))
    ckpt = load_checkpoint(tmp_path / "m.pt")
    ckpt.init_kwargs = {**ckpt.init_kwargs, "size_hidden_layers": [7]}
    with pytest.raises(ConfigError, match=r"tensor 'weights.0' has shape \(4, 6\), model expects \(4, 7\)"):
        build_model(ckpt)
    ckpt.init_kwargs = {**ckpt.init_kwargs, "size_hidden_layers": [6, 6], "time_constants_per_layer": [3, 3]}
    with pytest.raises(ConfigError, match="checkpoint does not fit SynNet: missing"):
        build_model(ckpt)


def test_failed_save_keeps_the_previous_file(tmp_path):
    _save(tmp_path / "m.pt", SynNet(3, 4, **KW))
    before = (tmp_path / "m.pt").read_bytes()
    with pytest.raises(ConfigError, match="no init_kwargs"):
        _save(tmp_path / "m.pt", torch.nn.Linear(2, 2))
    with pytest.raises((TypeError, AttributeError)):  # unpicklable metadata: fails before anything is written
        _save(tmp_path / "m.pt", SynNet(3, 4, **KW), metrics={"f": lambda: 0})
    assert (tmp_path / "m.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
