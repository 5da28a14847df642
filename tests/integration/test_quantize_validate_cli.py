"""`xylodeploy quantize` and `xylodeploy validate` end to end on a tiny trained checkpoint."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from tests.support.fixtures_small import train_tiny
from xylodeploy.backends import get_backend
from xylodeploy.backends.base import Recording
from xylodeploy.cli import main
from xylodeploy.drc import check
from xylodeploy.flow.compile import CompileOptions, compile
from xylodeploy.io.rasters import save_raster_npz
from xylodeploy.ir import XyloSpec

INT_FIELDS = ("weights_in", "weights_rec", "weights_out", "threshold", "threshold_out", "dash_mem", "dash_syn")


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="xylodeploy")


def assert_one_line_error(res: Result, *needles: str) -> None:
    assert res.exit_code not in (0, None), res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    for needle in needles:
        assert needle in lines[0], res.output


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, object]:
    """A tiny trained checkpoint, its splits, clip files and a compiled spec (xylo-imu)."""
    d = tmp_path_factory.mktemp("qv")
    model, result, splits = train_tiny(d / "run")
    test = splits.test
    save_raster_npz(d / "clips.npz", test.spikes[:20], test.labels[:20])
    save_raster_npz(d / "unlabelled.npz", test.spikes[:20])
    save_raster_npz(d / "narrow.npz", test.spikes[:20, :, :5], test.labels[:20])
    (d / "corrupt.pt").write_bytes(b"PK\x03\x04 this is not a torch checkpoint")
    (d / "a_dir").mkdir()
    spec = d / "imu.xylo"
    res = cli("quantize", result.checkpoint, "--chip", "xylo-imu", "-o", spec)
    assert res.exit_code == 0, res.output
    return {"dir": d, "ckpt": result.checkpoint, "model": model, "splits": splits, "spec": spec, "quantize": res}


def test_quantize_writes_the_spec_compile_would(files) -> None:
    res, spec_path = files["quantize"], files["spec"]
    assert "chip xylo-imu, method calibrated" in res.output and "tau_syn" in res.output
    assert "channel-headroom2" in res.output and "winner: " in res.output  # the candidates tried
    assert f"wrote {spec_path} (Xylo IMU: 16 hidden, 6 readout)" in res.output
    spec = XyloSpec.load(spec_path)
    assert spec.chip == "xylo-imu" and check(spec) == []
    assert spec.provenance["source"]["checkpoint"] == str(files["ckpt"])
    assert len(spec.provenance["source"]["sha256"]) == 64
    assert spec.provenance["readout_rule"] == {"quantity": "vmem", "pooling": "mean"}  # trained with ce_mean
    # the same spec as the library call on the checkpoint's own training split
    opts = CompileOptions(finetune_loss="ce_mean", readout_pooling="mean")
    lib = compile(files["model"], "xylo-imu", opts, calibration=files["splits"].train.spikes[:256]).spec
    for name in INT_FIELDS:
        assert np.array_equal(getattr(spec, name), getattr(lib, name)), name


def test_quantize_with_data_and_finetuning(files) -> None:
    out = files["dir"] / "ft.xylo"
    res = cli("quantize", files["ckpt"], "--chip", "xylo-audio3", "--data", files["dir"] / "clips.npz",
              "--finetune-epochs", "1", "--method", "global", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "exact fine-tuning: validation accuracy" in res.output and "method global" in res.output
    spec = XyloSpec.load(out)
    assert spec.chip == "xylo-audio3" and check(spec) == []
    assert [s["name"] for s in spec.provenance["stages"]][-2:] == ["finetune_exact", "check"]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["{dir}/missing.pt"], ["missing.pt", "not found"]),
        (["{dir}/corrupt.pt"], ["corrupt.pt", "checkpoint"]),
        (["{ckpt}", "--chip", "xylo-nope"], ["unknown chip 'xylo-nope'"]),
        (["{ckpt}", "--data", "{dir}/narrow.npz"], ["narrow.npz", "5 channels", "16"]),
        (["{ckpt}", "--data", "{dir}/unlabelled.npz", "--finetune-epochs", "1"], ["--finetune-epochs", "labels"]),
        (["{ckpt}", "--data", "{dir}/missing.npz"], ["missing.npz"]),
    ],
)
def test_quantize_bad_inputs(files, args: list[str], needles: list[str]) -> None:
    out = files["dir"] / "never.xylo"
    fmt = {"dir": files["dir"], "ckpt": files["ckpt"]}
    res = cli("quantize", *[a.format(**fmt) for a in args], "-o", out)
    assert_one_line_error(res, *needles)
    assert not out.exists()
    assert not [p for p in files["dir"].iterdir() if p.name.startswith(("never", ".never"))]  # no temp files


def test_quantize_output_is_a_directory(files) -> None:
    res = cli("quantize", files["ckpt"], "-o", files["dir"] / "a_dir")
    assert_one_line_error(res, "a_dir", "is a directory")
    assert list((files["dir"] / "a_dir").iterdir()) == []


def test_validate_checkpoint_json_is_bit_exact(files) -> None:
    res = cli("validate", files["spec"], "--checkpoint", files["ckpt"], "--json", "--device-clips", "4")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["ok"] is True and doc["saturation_steps"] == 0
    n_test = len(files["splits"].test)
    assert {k: v["n_clips"] for k, v in doc["stages"].items()} == {"float": n_test, "exact": 4, "reference": n_test,
                                                                   "xylosim": 4}  # fmt: skip
    pairs = {(p["a"], p["b"]): p for p in doc["pairs"]}
    expected = {("exact", "reference"), ("exact", "xylosim"), ("reference", "xylosim"), ("float", "reference")}
    assert set(pairs) == expected
    for key, p in pairs.items():
        assert p["bit_exact"] is (None if key[0] == "float" else True)
    div = pairs[("float", "reference")]["first_divergence"]
    assert div is None or "layer 'hidden0' spikes" in div


def test_validate_data_file_and_text_report(files) -> None:
    res = cli("validate", files["spec"], "--checkpoint", files["ckpt"], "--data", files["dir"] / "clips.npz",
              "--max-clips", "6", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert all(s["n_clips"] == 6 for s in doc["stages"].values()) and doc["ok"]
    res = cli("validate", files["spec"], "--data", files["dir"] / "unlabelled.npz", "--no-exact", "--device-clips", "2")
    assert res.exit_code == 0, res.output
    assert "reference vs xylosim: same prediction on 100.0 % of clips, bit-exact" in res.output
    assert "float" not in res.output and "exact " not in res.output and "accuracy" not in res.output
    assert res.output.rstrip().endswith("OK: every integer stage agrees bit for bit")


class _FlipVmem:
    """The reference simulator with one hidden membrane value changed (clip 1, step 7, neuron 3)."""

    name = "xylosim"

    def __init__(self) -> None:
        self.inner = get_backend("reference")

    def load(self, spec: XyloSpec) -> None:
        self.inner.load(spec)

    def reset(self) -> None:
        self.inner.reset()

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        arrays = {k: v.copy() for k, v in self.inner.run(raster, record=record).fields().items()}
        arrays["vmem"][1, 7, 3] += 1
        return Recording(**arrays)


def test_validate_exit_1_and_first_divergence_when_not_bit_exact(files, monkeypatch) -> None:
    import xylodeploy.flow.validate as v

    real = v.get_backend
    monkeypatch.setattr(v, "get_backend", lambda name: _FlipVmem() if name == "xylosim" else real(name))
    res = cli("validate", files["spec"], "--data", files["dir"] / "clips.npz", "--no-exact", "--max-clips", "4")
    assert res.exit_code == 1, res.output
    assert "reference vs xylosim: same prediction on 100.0 % of clips, NOT bit-exact" in res.output
    assert "first divergence in layer 'hidden0' vmem, clip 1, step 7, neuron 3" in res.output
    assert res.output.rstrip().endswith("FAILED: integer stages disagree")


@pytest.mark.skipif(importlib.util.find_spec("samna") is not None, reason="a samna package is installed")
def test_validate_board_without_samna(files) -> None:
    res = cli("validate", files["spec"], "--data", files["dir"] / "clips.npz", "--device", "board")
    assert_one_line_error(res, "samna")


def test_validate_bad_inputs(files) -> None:
    assert_one_line_error(cli("validate", files["spec"]), "--data is required")
    assert_one_line_error(cli("validate", files["spec"], "--data", files["dir"] / "narrow.npz"), "5 channels")
    res = cli("validate", files["dir"] / "none.xylo", "--data", files["dir"] / "clips.npz")
    assert_one_line_error(res, "none.xylo")
    res = cli("validate", files["spec"], "--checkpoint", files["dir"] / "corrupt.pt")
    assert_one_line_error(res, "corrupt.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert check(XyloSpec.load(files["spec"])) == []  # the spec was not touched by any of this
