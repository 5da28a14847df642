"""The guarantees behind the table, tested directly: earlier results survive a failed run, a diverging
run stops naming its epoch, trusted inputs still work (--trust-pickle, --no-check, a user's config)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tests.fuzz import _mutate as m
from tests.fuzz._harness import snapshot
from xylodeploy.cli import main
from xylodeploy.errors import ConfigError


def _cli(*argv: str):  # noqa: ANN202
    return CliRunner().invoke(main, list(argv), catch_exceptions=False)


def test_failed_pipeline_after_training_keeps_the_earlier_run(good_files, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A pipeline that fails after training (here: in quantisation) leaves an earlier run's files as they were."""
    import xylodeploy.flow.pipeline as pipeline

    out = tmp_path / "run"
    (out / "train").mkdir(parents=True)
    shutil.copy(good_files.ckpt, out / "train" / "best.pt")
    shutil.copy(good_files.spec, out / "model.xylo")
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)

    def broken_compile(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise ConfigError("quantisation failed on purpose")

    monkeypatch.setattr(pipeline, "compile", broken_compile)
    res = CliRunner().invoke(main, ["pipeline", str(good_files.pconfig), "--out", str(out)])
    assert res.exit_code == 2 and "quantisation failed on purpose" in res.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["model.xylo", "notes.txt", "train"]


def test_divergence_stops_with_the_epoch_and_no_nan_checkpoint(good_files, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import xylodeploy.train.loop as loop

    real = loop.readout_loss
    calls = {"n": 0}

    def nan_in_epoch_2(out, y, kind):  # noqa: ANN001, ANN202
        calls["n"] += 1
        loss = real(out, y, kind)
        return loss * float("nan") if calls["n"] > 2 else loss  # 2 batches per epoch: epoch 2 diverges

    monkeypatch.setattr(loop, "readout_loss", nan_in_epoch_2)
    cfg = tmp_path / "c.yaml"
    shutil.copy(good_files.config, cfg)
    m.yaml_set(cfg, "train.epochs", 3)
    res = CliRunner().invoke(main, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 2, res.output
    assert res.stderr.strip().startswith("error: training diverged in epoch 2")
    sd = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())


def test_train_never_rewrites_the_users_config_in_the_out_folder(good_files, tmp_path: Path) -> None:  # noqa: ANN001
    run = tmp_path / "run"
    run.mkdir()
    user = run / "config.yaml"
    user.write_text(good_files.config.read_text() + "# my notes\n")
    before = user.read_bytes()
    for _ in range(2):  # the second run is --force over the first
        res = _cli("train", str(user), "--out", str(run), "--force")
        assert res.exit_code == 0, res.output
    assert user.read_bytes() == before
    assert (run / "run_config.yaml").read_text().startswith("# xylodeploy train")


def test_trust_pickle_loads_a_trusted_full_pickle(good_files, tmp_path: Path) -> None:  # noqa: ANN001
    """Refused by default, with the reason; loaded with --trust-pickle."""
    pytest.importorskip("snntorch")
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.Linear(8, 4))
    torch.save(net, tmp_path / "net.pt")
    argv = ["import", str(tmp_path / "net.pt"), "--from", "snntorch", "-o", str(tmp_path / "g.npz")]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2 and "--trust-pickle" in res.stderr and "arbitrary code" in res.stderr
    res = CliRunner().invoke(main, [*argv, "--trust-pickle"])
    assert "full pickled model" not in res.stderr  # got past the loader (the model itself may not import)


def test_no_check_simulates_a_spec_the_chip_cannot_run(good_files, tmp_path: Path) -> None:  # noqa: ANN001
    spec = tmp_path / "big.xylo"
    shutil.copy(good_files.spec, spec)
    m.edit_meta(spec, lambda meta: meta.__setitem__("dt", 1e-8))  # below the dt range: a design-rule violation
    argv = ["simulate", str(spec), "-i", str(good_files.raster)]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2 and "dt_range" in res.stderr and "--no-check" in res.stderr
    res = CliRunner().invoke(main, [*argv, "--no-check"])
    assert res.exit_code == 0, res.output


def test_memory_estimate_is_stated_and_the_limit_can_be_raised(good_files, tmp_path: Path) -> None:  # noqa: ANN001
    from xylodeploy.train.config import config_from_dict

    raw = {"data": {"kind": "synthetic", "duration_ms": 450}, "model": {"dt": 1e-5, "size_hidden_layers": [1000],
           "time_constants_per_layer": [4]}, "train": {"batch_size": 512}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"estimated training memory [\d.]+ GB .* train.memory_limit_gb = 8"):
        config_from_dict(raw)
    raw["train"]["memory_limit_gb"] = 1e6
    assert config_from_dict(raw).train.memory_limit_gb == 1e6


@pytest.mark.parametrize("text", ["epochs: true", "epochs: 2.0", "lr: .inf", "lr: .nan", "batch_size: '4'"])
def test_config_types_are_strict(text: str, tmp_path: Path) -> None:
    from xylodeploy.train.config import load_config

    p = tmp_path / "c.yaml"
    p.write_text("train:\n  " + text + "\n")
    with pytest.raises(ConfigError, match="train"):
        load_config(p)


def test_output_equal_to_input_is_refused_and_input_kept(good_files, tmp_path: Path) -> None:  # noqa: ANN001
    raster = tmp_path / "d.npz"
    shutil.copy(good_files.raster, raster)
    before = raster.read_bytes()
    res = CliRunner().invoke(main, ["simulate", str(good_files.spec), "-i", str(raster), "-o", str(raster)])
    assert res.exit_code == 2 and "also an input" in res.stderr
    assert raster.read_bytes() == before
    assert np.array_equal(m.get_array(raster, "spikes"), m.get_array(good_files.raster, "spikes"))


def test_keep_earlier_restores_after_a_killed_run(tmp_path: Path) -> None:
    """A run killed inside keep_earlier (simulated: a backup of a dead pid) is undone by the next run."""
    import os
    import subprocess
    import sys

    from xylodeploy.io.files import keep_earlier

    (tmp_path / "best.pt").write_text("good")
    code = (
        "import os, sys; from xylodeploy.io.files import keep_earlier\n"
        f"with keep_earlier({str(tmp_path)!r}, ('best.pt',)):\n"
        f"    open({str(tmp_path / 'best.pt')!r}, 'w').write('partial'); os._exit(9)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 9  # killed midway: no cleanup ran
    assert (tmp_path / "best.pt").read_text() == "partial"
    with pytest.raises(RuntimeError), keep_earlier(tmp_path, ("best.pt",)):
        assert (tmp_path / "best.pt").exists() is False  # the restored file was moved aside again
        raise RuntimeError("this run fails too")
    assert (tmp_path / "best.pt").read_text() == "good"
    assert not list(tmp_path.glob(".previous-*"))


@pytest.mark.parametrize(
    "sizes,channels,classes,chip,rule",
    [
        ([60], 16, 10, "xylo-audio2", "max_readout"),  # 8 readouts
        ([60], 17, 6, "xylo-audio2", "max_inputs"),  # 16 channels
        ([600, 600], 16, 6, "xylo-audio2", "1000"),  # 1000 hidden neurons
        ([100, 100], 16, 6, "xylo-audio2", "max_fanout"),  # 100 targets per neuron > 64
        ([60], 16, 20, "xylo-imu", "max_readout"),  # 16 readouts
    ],
)
def test_chip_fit_is_checked_before_training(sizes, channels, classes, chip, rule) -> None:  # noqa: ANN001
    from xylodeploy.flow.preflight import check_fits_chip

    with pytest.raises(ConfigError, match=rule):
        check_fits_chip(sizes, channels, classes, chip, 1e-3)
    check_fits_chip([60], 16, min(classes, 8), chip, 1e-3)  # the quick-start shape fits every chip
