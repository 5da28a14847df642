"""run_pipeline / `xylodeploy pipeline` end to end on a tiny synthetic task: spec, report.json, plots, CLI."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from tests.support.fixtures_small import PNG_SIGNATURE, tiny_config, tiny_raw, write_yaml
from xylodeploy.backends import get_backend
from xylodeploy.cli import main
from xylodeploy.drc import check
from xylodeploy.ir import XyloSpec
from xylodeploy.readout import ReadoutRule
from xylodeploy.train.data import load_dataset

PLOTS = ("weights.png", "time_constants.png", "resources.png", "readout_trace.png")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One pipeline run of the tiny config: (result, log lines, config)."""
    from xylodeploy.flow.pipeline import run_pipeline

    cfg = tiny_config(pipeline=True)
    lines: list[str] = []
    result = run_pipeline(cfg, tmp_path_factory.mktemp("pipe") / "run", log=lines.append)
    return result, lines, cfg


def test_outputs_spec_report_and_plots(run) -> None:
    result, lines, cfg = run
    out = result.out_dir
    assert [ln.split(" ")[0] for ln in lines if not ln.startswith(" ")] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert any(ln.strip().startswith("calibrated: ") and "winner" in ln for ln in lines)
    spec = XyloSpec.load(out / "model.xylo")
    assert spec.chip == "xylo-audio2" and check(spec) == []
    ckpt = out / "train" / "best.pt"
    sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert spec.provenance["source"] == {"checkpoint": str(ckpt), "sha256": sha}
    assert [s["name"] for s in spec.provenance["stages"]][-2:] == ["finetune_exact", "check"]
    doc = json.loads((out / "report.json").read_text())
    cal = doc["quantization"]["calibration"]  # the calibrated quantiser's candidates and its choice
    assert cal["winner"] in [c["name"] for c in cal["candidates"]] and cal["reason"]
    s = doc["summary"]
    assert s["bit_exact_reference_xylosim_exact"] is True and s["deployed_on"] == "reference"
    assert s["readout_rule"] == {"quantity": "vmem", "pooling": "mean"}  # the training loss ce_mean
    assert s["delta_pp"] == pytest.approx(100 * (s["deployed_test_accuracy"] - s["float_test_accuracy"]))
    assert (result.float_test_acc, result.deployed_test_acc) == (s["float_test_accuracy"], s["deployed_test_accuracy"])
    assert result.bit_exact and result.delta_pp == pytest.approx(s["delta_pp"])
    stages = doc["validation"]["stages"]
    assert {k: v["n_clips"] for k, v in stages.items()} == {"float": 48, "exact": 16, "reference": 48, "xylosim": 4}
    assert all(p["bit_exact"] in (True, None) for p in doc["validation"]["pairs"])
    assert doc["chip"] == "xylo-audio2" and doc["config"]["quantize"]["finetune_clips"] == 48
    assert doc["finetune"]["best_val_accuracy"] >= doc["finetune"]["initial_val_accuracy"]
    # independent cross-checks: the float accuracy is the trainer's test accuracy (same rule), and
    # the deployed accuracy is what the reference simulator gives for the written spec
    assert s["float_test_accuracy"] == pytest.approx(doc["train"]["test_acc"])
    test = load_dataset(cfg).test
    ref = get_backend("reference")
    ref.load(spec)
    pred = ReadoutRule.from_spec(spec).predict(ref.run(test.spikes, record=True).vmem_out)
    assert s["deployed_test_accuracy"] == pytest.approx(float(np.mean(pred == test.labels)))
    e = doc["energy"]  # labelled estimate per inference, ordered interval, same clip length as the data
    assert "ESTIMATE" in e["label"] and e["n_steps"] == test.spikes.shape[1]
    lo, mid, hi = (e["energy_per_inference_j"][k] for k in ("low", "mid", "high"))
    assert 0 < lo <= mid <= hi and any("µJ" in line for line in e["lines"])
    for name in PLOTS:
        data = (out / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 2000, name
        assert doc["files"][name[:-4]] == str(out / name)


def test_cli_reruns_into_the_same_folder_with_overrides(run, tmp_path) -> None:
    result, _, _ = run
    out = result.out_dir
    before = (out / "report.json").read_text()
    cfg = write_yaml(tmp_path / "tiny.yaml", tiny_raw(pipeline=True))
    res = CliRunner().invoke(main, ["pipeline", str(cfg), "--out", str(out), "--epochs", "1", "--chip", "xylo-imu",
                                    "--finetune-epochs", "0"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "xylodeploy pipeline: " in res.output and "bit-exact" in res.output and "NOT bit-exact" not in res.output
    assert "exact vs reference: same prediction on 100.0 % of clips  bit-exact" in res.output
    assert "deployed - float:" in res.output and f"spec: {out / 'model.xylo'}" in res.output
    doc = json.loads((out / "report.json").read_text())
    assert (out / "report.json").read_text() != before
    assert doc["chip"] == "xylo-imu" and doc["finetune"] is None and doc["train"]["epochs_run"] == 1
    assert doc["config"]["quantize"]["chip"] == "xylo-imu" and doc["config"]["train"]["epochs"] == 1
    spec = XyloSpec.load(out / "model.xylo")
    assert spec.chip == "xylo-imu" and check(spec) == [] and doc["summary"]["bit_exact_reference_xylosim_exact"]
    assert all((out / name).read_bytes()[:8] == PNG_SIGNATURE for name in PLOTS)


def _one_line_error(res, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    for needle in needles:
        assert needle in lines[0], res.output


@pytest.mark.parametrize(
    ("sections", "needles"),
    [
        ({"quantize": {"bogus_key": 1}}, ["quantize.bogus_key"]),
        ({"quantize": {"chip": "xylo-nope"}}, ["quantize.chip", "xylo-nope"]),
        ({"simulate": {"backends": ["samna"]}}, ["simulate.backends"]),
        ({"simulate": {"backends": [], "exact_clips": 0}}, ["simulate", "integer stage"]),
        ({"report": {"plots": "maybe"}}, ["report.plots"]),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path, sections, needles) -> None:
    cfg = write_yaml(tmp_path / "bad.yaml", tiny_raw(pipeline=True, **sections))
    res = CliRunner().invoke(main, ["pipeline", str(cfg), "--out", str(tmp_path / "o")])
    _one_line_error(res, str(cfg), *needles)
    assert not (tmp_path / "o").exists()


def test_missing_config_and_bad_override(tmp_path) -> None:
    res = CliRunner().invoke(main, ["pipeline", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "o")])
    _one_line_error(res, "config file not found")
    cfg = write_yaml(tmp_path / "ok.yaml", tiny_raw(pipeline=True))
    res = CliRunner().invoke(main, ["pipeline", str(cfg), "--out", str(tmp_path / "o"), "--chip", "xylo-nope"])
    _one_line_error(res, "quantize.chip", "xylo-nope", "command-line overrides")
    assert not (tmp_path / "o").exists()


def test_no_integer_stage_left_is_one_line_error_before_training(tmp_path, monkeypatch) -> None:
    """Only xylosim configured, exact stage off, xylosim missing: a ConfigError, not a KeyError after training."""
    from xylodeploy.errors import ConfigError
    from xylodeploy.flow.pipeline import SimulateSection, run_pipeline

    monkeypatch.setattr("xylodeploy._optional.is_available", lambda module: module != "xylosim")
    cfg = tiny_config(pipeline=True)
    cfg = cfg.model_copy(update={"simulate": SimulateSection(backends=["xylosim"], exact_clips=0)})
    with pytest.raises(ConfigError, match="no integer stage"):
        run_pipeline(cfg, tmp_path / "run", log=lambda s: None)
    assert not (tmp_path / "run" / "train").exists()
