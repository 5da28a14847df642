"""Sharded simulation (local processes and a Dask cluster) gives the single-process arrays bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from tests.support.strategies import build_random_spec
from xylodeploy.backends.reference import ReferenceBackend
from xylodeploy.chips import get_chip
from xylodeploy.cli import main
from xylodeploy.errors import ConfigError
from xylodeploy.io.rasters import save_raster_npz
from xylodeploy.scale.shard import ShardedBackend, shard_slices
from xylodeploy.scale.stream import NpzStreamWriter

KNOBS = {"density": 0.4, "extreme": False, "rec_scale": 0.5, "th_scale": 200, "bias": True, "alias_p": 0.1}


@pytest.fixture(scope="module")
def spec_and_clips():
    spec = build_random_spec(get_chip("xylo-audio2"), (16, 40, 8, 2), KNOBS, seed=3)
    rng = np.random.default_rng(0)
    raster = rng.poisson(0.8, (11, 120, 16)).clip(0, 20)  # dense, some counts above the 15-event cap
    return spec, raster


def _single(spec, raster):
    sim = ReferenceBackend()
    sim.load(spec)
    return sim.run(raster, record=True)


def _assert_same(a, b):
    fa, fb = a.fields(), b.fields()
    assert fa.keys() == fb.keys()
    for name in fa:
        assert fa[name].dtype == fb[name].dtype, name
        np.testing.assert_array_equal(fa[name], fb[name], err_msg=name)


def test_shard_slices_cover_every_clip_once():
    slices = shard_slices(11, 4)
    assert [(s.start, s.stop) for s in slices] == [(0, 4), (4, 8), (8, 11)]
    assert shard_slices(0, 4) == []


def test_local_workers_equal_one_process(spec_and_clips):
    spec, raster = spec_and_clips
    assert _single(spec, raster).spikes.any(), "the network must be active for the comparison to mean something"
    with ShardedBackend("reference", workers=2, chunk=3) as sim:
        sim.load(spec)
        _assert_same(sim.run(raster, record=True), _single(spec, raster))


def test_dask_cluster_of_two_workers_equals_one_process(spec_and_clips):
    distributed = pytest.importorskip("distributed")
    spec, raster = spec_and_clips
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)  # fmt: skip
    with cluster, ShardedBackend("reference", scheduler=cluster.scheduler_address, chunk=4) as sim:
        sim.load(spec)
        _assert_same(sim.run(raster, record=True), _single(spec, raster))


def test_stream_writer_writes_what_np_load_reads(tmp_path, spec_and_clips):
    spec, raster = spec_and_clips
    ref = _single(spec, raster)
    path = tmp_path / "out.npz"
    with NpzStreamWriter(path, len(raster)) as w, ShardedBackend("reference", chunk=5) as sim:
        sim.load(spec)
        for clips, rec in sim.iter_shards(raster, record=True):
            w.write(clips, rec.fields())
    with np.load(path, allow_pickle=False) as z:
        for name, arr in ref.fields().items():
            np.testing.assert_array_equal(z[name], arr, err_msg=name)
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"], "temporary shard files must be removed"


def test_stream_writer_failure_keeps_earlier_file(tmp_path):
    path = tmp_path / "out.npz"
    path.write_bytes(b"earlier result")
    with pytest.raises(RuntimeError), NpzStreamWriter(path, 4) as w:
        w.write(slice(0, 2), {"a": np.ones((2, 3))})
        raise RuntimeError("worker died")
    assert path.read_bytes() == b"earlier result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]


def test_simulate_cli_workers_output_identical(tmp_path, spec_and_clips):
    spec, raster = spec_and_clips
    spec_path, data = tmp_path / "net.xylo", tmp_path / "clips.npz"
    spec.save(spec_path)
    labels = np.arange(len(raster)) % spec.n_outputs
    save_raster_npz(data, raster, labels)
    runner = CliRunner()
    outs = {}
    for name, extra in (("one", []), ("two", ["--workers", "2", "--chunk-clips", "4"])):
        outs[name] = tmp_path / f"{name}.npz"
        res = runner.invoke(main, ["simulate", str(spec_path), "--input", str(data), "--record",
                                   "-o", str(outs[name]), *extra])  # fmt: skip
        assert res.exit_code == 0, res.output
        outs[name + "_text"] = [ln for ln in res.output.splitlines() if ln.startswith(("clip ", "accuracy"))]
    assert outs["one_text"] == outs["two_text"]
    with np.load(outs["one"]) as a, np.load(outs["two"]) as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("kw", [{"workers": 0}, {"workers": True}, {"chunk": 0}, {"scheduler": " "}])
def test_bad_plans_are_one_line_errors(kw):
    with pytest.raises(ConfigError):
        ShardedBackend("reference", **kw)


def test_board_is_never_sharded():
    with pytest.raises(ConfigError, match="board"):
        ShardedBackend("samna", workers=2)


def test_validate_cli_with_workers_reports_the_same(tmp_path, spec_and_clips):
    spec, raster = spec_and_clips
    spec_path, data = tmp_path / "net.xylo", tmp_path / "clips.npz"
    spec.save(spec_path)
    save_raster_npz(data, raster, np.arange(len(raster)) % spec.n_outputs)
    runner = CliRunner()
    base = ["validate", str(spec_path), "--data", str(data), "--no-exact", "--device-clips", "3", "--json"]
    one = runner.invoke(main, base)
    two = runner.invoke(main, [*base, "--workers", "2"])
    assert one.exit_code == two.exit_code == 0, one.output + two.output
    import json

    a, b = json.loads(one.output), json.loads(two.output)
    assert a["stages"]["reference"]["accuracy"] == b["stages"]["reference"]["accuracy"]
    assert a["pairs"] == b["pairs"]
