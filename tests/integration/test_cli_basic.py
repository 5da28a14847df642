"""`xylodeploy inspect`, `simulate` and `doctor` end to end through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from xylodeploy.backends import get_backend
from xylodeploy.chips import get_chip
from xylodeploy.cli import main
from xylodeploy.io.rasters import load_raster_npz, save_raster_npz
from xylodeploy.ir import XyloSpec, empty_spec

SIM_BACKENDS = ["null", "reference", "exact"]


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="xylodeploy")


def assert_one_line_error(res: Result, *needles: str) -> None:
    assert res.exit_code not in (0, None), res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    for needle in needles:
        assert needle in lines[0], res.output


def make_spec(chip: str = "xylo-audio2") -> XyloSpec:
    rng = np.random.default_rng(1)
    n_in, n_h, n_out = 4, 10, 3
    return empty_spec(
        chip, n_in, n_h, n_out,
        weights_in=rng.integers(-20, 90, (n_in, n_h, 1)),
        weights_rec=rng.integers(-30, 30, (n_h, n_h, 1)) * (rng.random((n_h, n_h, 1)) < 0.3),
        weights_out=rng.integers(-10, 100, (n_h, n_out)),
        dash_mem=np.full(n_h, 3), dash_syn=np.full(n_h, 2), threshold=np.full(n_h, 80),
        dash_mem_out=np.full(n_out, 3), dash_syn_out=np.full(n_out, 2), threshold_out=np.full(n_out, 60),
    )  # fmt: skip


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    spec = make_spec()
    ok = tmp_path / "ok.xylo"
    spec.save(ok)
    chip = get_chip(spec.chip)
    bad = tmp_path / "bad.xylo"
    w_out = np.array(spec.weights_out)
    w_out[2, 1] = chip.weight_range.hi + 1
    spec.replace(weights_out=w_out, dt=0.0).save(bad)
    rng = np.random.default_rng(2)
    raster = tmp_path / "r.npz"
    save_raster_npz(raster, rng.integers(0, 3, (6, 40, spec.n_inputs)), np.array([0, 1, 2, 0, 1, 2]))
    return {"ok": ok, "bad": bad, "raster": raster, "dir": tmp_path}


# --- inspect ---------------------------------------------------------------------------------


def test_inspect_clean_spec(files: dict[str, Path]) -> None:
    res = cli("inspect", str(files["ok"]))
    assert res.exit_code == 0, res.output
    assert "hidden neurons" in res.output and "no design-rule violations" in res.output
    assert str(get_chip("xylo-audio2").max_hidden) in res.output


def test_inspect_violations_exit_1(files: dict[str, Path]) -> None:
    res = cli("inspect", str(files["bad"]))
    assert res.exit_code == 1, res.output
    assert "2 design-rule violation(s)" in res.output
    assert "weight_range: hidden 2 -> readout 1:" in res.output and "dt_positive:" in res.output


def test_inspect_json_and_chip_override(files: dict[str, Path]) -> None:
    res = cli("inspect", str(files["ok"]), "--json", "--chip", "imu")
    doc = json.loads(res.stdout)
    imu = get_chip("xylo-imu")
    assert doc["chip"] == "xylo-imu" and doc["spec_chip"] == "xylo-audio2"
    hidden = next(r for r in doc["resources"] if r["resource"] == "hidden neurons")
    assert hidden == {"resource": "hidden neurons", "used": 10, "available": imu.max_hidden,
                      "percent": pytest.approx(100 * 10 / imu.max_hidden)}  # fmt: skip
    assert doc["ok"] is (res.exit_code == 0) and doc["ok"] is True
    bad = json.loads(cli("inspect", str(files["bad"]), "--json").stdout)
    assert bad["ok"] is False and {v["rule"] for v in bad["violations"]} == {"weight_range", "dt_positive"}
    assert all(set(v) >= {"rule", "where", "field", "value", "limit", "message", "count"} for v in bad["violations"])


def test_inspect_bad_inputs(files: dict[str, Path]) -> None:
    d = files["dir"]
    (d / "text.xylo").write_text("not a spec")
    (d / "empty.xylo").write_bytes(b"")
    assert_one_line_error(cli("inspect", str(d / "missing.xylo")), "missing.xylo", "not found")
    assert_one_line_error(cli("inspect", str(d / "text.xylo")), "text.xylo")
    assert_one_line_error(cli("inspect", str(d / "empty.xylo")), "empty")
    assert_one_line_error(cli("inspect", str(files["raster"])), "r.npz")
    assert_one_line_error(cli("inspect", str(files["ok"]), "--chip", "xylo-9"), "unknown chip")


# --- simulate --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", SIM_BACKENDS)
def test_simulate_matches_backend_and_writes_output(files: dict[str, Path], backend: str) -> None:
    out = files["dir"] / "out" / "o.npz"
    res = cli("simulate", str(files["ok"]), "--input", str(files["raster"]), "--backend", backend, "-o", str(out))
    assert res.exit_code == 0, res.output
    spikes, labels = load_raster_npz(files["raster"])
    sim = get_backend(backend)
    sim.load(XyloSpec.load(files["ok"]))
    expect = sim.run(spikes).spikes_out
    with np.load(out) as npz:
        assert set(npz.files) == {"spikes_out", "prediction", "labels"}
        assert np.array_equal(npz["spikes_out"], expect)
        counts = expect.astype(int).sum(axis=1)
        naive = [int(np.argmax(c)) for c in counts]  # a silent clip predicts 0, as validate does
        assert npz["prediction"].tolist() == naive
        assert np.array_equal(npz["labels"], labels)
    assert f"simulated 6 clip(s) x 40 steps on the {backend} backend" in res.output
    assert f"clip 0: output spikes {counts[0].tolist()}" in res.output
    correct = sum(p == lab for p, lab in zip(naive, labels, strict=True))
    assert f"accuracy: {correct}/6 = {100 * correct / 6:.2f}%" in res.output
    assert [p.name for p in out.parent.iterdir()] == ["o.npz"]  # atomic: no temp files left


@pytest.mark.parametrize("backend", SIM_BACKENDS)
def test_simulate_record_2d_input_without_labels(files: dict[str, Path], backend: str) -> None:
    raster = files["dir"] / "one.npz"
    np.savez(raster, spikes=np.ones((25, 4), np.uint8))
    out = files["dir"] / "rec.npz"
    res = cli("simulate", str(files["ok"]), "-i", str(raster), "-b", backend, "--record", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "accuracy" not in res.output and "simulated 1 clip(s) x 25 steps" in res.output
    with np.load(out) as npz:
        assert {"spikes_out", "spikes", "isyn", "vmem", "isyn_out", "vmem_out", "prediction"} <= set(npz.files)
        assert npz["vmem"].shape == (1, 25, 10) and npz["vmem_out"].shape == (1, 25, 3)
        assert "isyn2" not in npz.files  # one-synapse spec


def test_simulate_warns_on_clamped_counts_and_violations(files: dict[str, Path]) -> None:
    raster = files["dir"] / "big.npz"
    cap = get_chip("xylo-audio2").max_input_events
    np.savez(raster, spikes=np.full((1, 5, 4), cap + 1))
    res = cli("simulate", str(files["bad"]), "-i", str(raster), "-b", "null")
    assert res.exit_code == 2 and "design-rule violation" in res.stderr and "--no-check" in res.stderr
    res = cli("simulate", str(files["bad"]), "-i", str(raster), "-b", "null", "--no-check")
    assert res.exit_code == 0, res.output
    assert f"clamped to {cap}" in res.stderr and "design-rule violation" in res.stderr


def _bad_raster(d: Path, name: str, **arrays: object) -> Path:
    path = d / f"{name}.npz"
    np.savez(path, **arrays)
    return path


def test_simulate_bad_inputs(files: dict[str, Path]) -> None:
    d, spec = files["dir"], str(files["ok"])
    (d / "text.npz").write_text("hello")
    (d / "empty.npz").write_bytes(b"")
    with (d / "bare.npz").open("wb") as fh:
        np.save(fh, np.zeros((3, 4)))
    cases = {
        "missing": (d / "nope.npz", "not found"),
        "text": (d / "text.npz", "text.npz"),
        "empty file": (d / "empty.npz", "empty"),
        "bare npy": (d / "bare.npz", ".npz"),
        "no key": (_bad_raster(d, "nokey", x=np.zeros((2, 3, 4))), "'spikes' is missing"),
        "channels": (_bad_raster(d, "ch", spikes=np.zeros((2, 3, 5), int)), "5 channels"),
        "negative": (_bad_raster(d, "neg", spikes=-np.ones((2, 3, 4), int)), ">= 0"),
        "fraction": (_bad_raster(d, "frac", spikes=np.full((2, 3, 4), 0.5)), "integers"),
        "nan": (_bad_raster(d, "nan", spikes=np.full((2, 3, 4), np.nan)), "NaN"),
        "empty array": (_bad_raster(d, "e", spikes=np.zeros((0, 3, 4), int)), "empty"),
        "no steps": (_bad_raster(d, "e2", spikes=np.zeros((2, 0, 4), int)), "empty"),
        "rank": (_bad_raster(d, "rank", spikes=np.zeros(4, int)), "shape"),
        "strings": (_bad_raster(d, "str", spikes=np.array([["a"] * 4])), "dtype"),
        "labels shape": (_bad_raster(d, "lab", spikes=np.zeros((2, 3, 4), int), labels=np.zeros(3, int)), "labels"),
        "labels range": (_bad_raster(d, "lab2", spikes=np.zeros((2, 3, 4), int), labels=np.array([0, 3])), "label"),
    }
    for name, (path, needle) in cases.items():
        res = cli("simulate", spec, "--input", str(path), "--backend", "null")
        assert_one_line_error(res, needle)
        assert path.name in res.output or name in ("missing",), name
    assert_one_line_error(cli("simulate", spec, "-b", "null"), "--input")
    assert_one_line_error(cli("simulate", spec, "-i", str(files["raster"]), "-b", "samna"), "--backend")
    assert_one_line_error(cli("simulate", str(d / "x.xylo"), "-i", str(files["raster"])), "x.xylo")


def test_simulate_output_is_a_directory(files: dict[str, Path]) -> None:
    res = cli("simulate", str(files["ok"]), "-i", str(files["raster"]), "-b", "null", "-o", str(files["dir"]))
    assert_one_line_error(res, "directory")


# --- doctor ----------------------------------------------------------------------------------


def test_doctor_table_and_json() -> None:
    res = cli("doctor")
    assert res.exit_code == 0, res.output
    for name in ("python", "numpy", "numba", "torch", "xylosim", "samna", "rockpool", "nir", "snntorch", "onnx"):
        assert name in res.output
    assert "boards:" in res.output
    doc = json.loads(cli("doctor", "--json").stdout)
    rows = {r["package"]: r for r in doc["packages"]}
    assert rows["numpy"]["version"] == np.__version__ and rows["numpy"]["status"] == "ok"
    assert rows["samna"]["status"] in ("real", "stub", "missing")
    assert doc["boards"] == [] or rows["samna"]["status"] == "real"


def test_simulate_predicts_with_the_specs_vmem_readout_rule(tmp_path) -> None:
    """A Vmem-readout spec (no readout spikes) is classified by its recorded readout membrane."""
    from xylodeploy.ir import empty_spec

    spec = empty_spec(
        "xylo-audio2", 16, 2, 3,
        weights_in=np.full((16, 2, 1), 20), weights_out=np.array([[5, 40, 10], [5, 40, 10]]),
        threshold=np.full(2, 10), threshold_out=np.full(3, 32767),
        provenance={"readout_rule": {"quantity": "vmem", "pooling": "max"}},
    )  # fmt: skip
    spec.save(tmp_path / "v.xylo")
    np.savez(tmp_path / "in.npz", spikes=np.ones((3, 20, 16), int), labels=np.array([1, 1, 0]))
    out = tmp_path / "out.npz"
    r = CliRunner().invoke(main, ["simulate", str(tmp_path / "v.xylo"), "--input", str(tmp_path / "in.npz"),
                                  "--output", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "readout vmem pooled by max" in r.output and "accuracy: 2/3" in r.output
    with np.load(out) as f:
        assert f["prediction"].tolist() == [1, 1, 1] and f["spikes_out"].sum() == 0 and "vmem" not in f.files


def test_simulate_and_validate_report_the_same_accuracy_with_silent_clips(tmp_path) -> None:
    """Clips without any readout spike predict class 0 in `simulate` as in `validate` (was -1 in simulate)."""
    import re

    from xylodeploy.flow.validate import validate
    from xylodeploy.ir import empty_spec

    spec = empty_spec(
        "xylo-audio2", 2, 2, 2,
        weights_in=np.array([[[60], [0]], [[0], [60]]]), weights_out=np.array([[20, 0], [0, 20]]),
        threshold=np.full(2, 50), threshold_out=np.full(2, 30), dash_syn=np.full(2, 1), dash_mem=np.full(2, 1),
    )  # fmt: skip
    x = np.zeros((6, 20, 2), np.int64)
    x[0, :, 0] = x[1, :, 1] = x[2, :, 1] = 3  # clips 0-2 drive class 0, 1, 1; clips 3-5 are silent
    y = np.array([0, 1, 0, 0, 1, 0])
    spec.save(tmp_path / "s.xylo")
    np.savez(tmp_path / "in.npz", spikes=x, labels=y)
    r = CliRunner().invoke(main, ["simulate", str(tmp_path / "s.xylo"), "-i", str(tmp_path / "in.npz")])
    assert r.exit_code == 0, r.output
    assert "3 clip(s) produced no output spike (predicted class 0" in r.output
    correct = int(re.search(r"accuracy: (\d+)/6", r.output).group(1))
    report = validate(spec, x, y, backends=("reference",), exact_torch=True)
    assert correct == 4  # clips 0, 1 right, 2 wrong; silent clips 3 and 5 (label 0) right, 4 wrong
    assert report.stages["reference"].accuracy == report.stages["exact"].accuracy == correct / 6
