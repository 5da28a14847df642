"""Raster datasets from .npz and SHD-layout HDF5 files, including their error paths."""

from __future__ import annotations

import numpy as np
import pytest

from xylodeploy.data.dataset import RasterDataset, save_dataset_npz
from xylodeploy.data.files import load_npz, load_shd, write_shd
from xylodeploy.errors import ConfigError


def _ds(n=6, T=5, C=3, classes=("a", "b", "c")) -> RasterDataset:
    rng = np.random.default_rng(0)
    return RasterDataset(rng.integers(0, 4, (n, T, C)), np.arange(n) % len(classes), list(classes), dt=2e-3)


def test_npz_round_trip(tmp_path):
    ds = _ds()
    save_dataset_npz(ds, tmp_path / "d.npz")
    back = load_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(back.spikes, ds.spikes)
    np.testing.assert_array_equal(back.labels, ds.labels)
    assert back.classes == ["a", "b", "c"] and back.dt == 2e-3 and back.labels.dtype == np.int64


def test_npz_without_classes_names_them_by_index(tmp_path):
    np.savez(tmp_path / "d.npz", spikes=np.zeros((3, 4, 2), np.int16), labels=[0, 2, 1])
    assert load_npz(tmp_path / "d.npz").classes == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"spikes": np.full((2, 3, 2), np.nan), "labels": [0, 1]}, "NaN"),
        ({"spikes": -np.ones((2, 3, 2)), "labels": [0, 1]}, ">= 0"),
        ({"spikes": np.ones((2, 3, 2)), "labels": [0, 1, 1]}, "labels"),
        ({"spikes": np.ones((2, 3, 2))}, "'labels' is missing"),
        ({"spikes": np.ones((2, 3, 2)), "labels": [0, 5], "classes": ["x", "y"]}, "label 5 out of range 0..1"),
    ],
)
def test_npz_bad_content(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ConfigError, match=match) as err:
        load_npz(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_npz_corrupt_and_dt_mismatch(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ConfigError, match="junk.npz"):
        load_npz(tmp_path / "junk.npz")
    save_dataset_npz(_ds(), tmp_path / "d.npz")
    with pytest.raises(ConfigError, match="dt=0.002 s but the model uses dt=0.001"):
        load_npz(tmp_path / "d.npz", dt=1e-3)


def test_dataset_checks():
    ds = _ds()
    with pytest.raises(ConfigError, match="raster has 3 channels but the model expects 16"):
        ds.check_compatible(16, 3)
    with pytest.raises(ConfigError, match="fractional"):
        RasterDataset(np.full((1, 2, 2), 0.5), [0], ["a"])
    x, y = ds[1]
    assert tuple(x.shape) == (5, 3) and y == 1


def _naive_bin(times, units, n_units, n_ch, dt, n_steps):
    out = np.zeros((n_steps, n_ch), int)
    for t, u in zip(times, units, strict=True):
        step = int(t // dt)
        if step < n_steps:
            out[step, u * n_ch // n_units] += 1
    return out


def test_shd_binning_matches_naive(tmp_path):
    rng = np.random.default_rng(1)
    times = [np.sort(rng.uniform(0, 0.07, 40)) for _ in range(3)]
    units = [rng.integers(0, 10, 40) for _ in range(3)]
    write_shd(tmp_path / "s.h5", times, units, [1, 0, 1], classes=["zero", "one"])
    ds = load_shd(tmp_path / "s.h5", n_channels=4, dt=0.01, duration=0.05, n_units=10)
    assert ds.spikes.shape == (3, 5, 4) and ds.classes == ["zero", "one"]
    for i in range(3):
        t32 = times[i].astype(np.float32).astype(np.float64)
        np.testing.assert_array_equal(ds.spikes[i], _naive_bin(t32, units[i], 10, 4, 0.01, 5))
    capped = load_shd(tmp_path / "s.h5", n_channels=1, dt=0.05, duration=0.05, n_units=10, max_count=3)
    assert capped.spikes.max() == 3


def test_shd_errors(tmp_path):
    write_shd(tmp_path / "s.h5", [[0.001]], [[12]], [0])
    with pytest.raises(ConfigError, match="unit 12 out of range 0..9"):
        load_shd(tmp_path / "s.h5", n_units=10)
    import h5py

    with h5py.File(tmp_path / "nolabels.h5", "w") as f:
        f.create_dataset("spikes/times", data=[0.1])
        f.create_dataset("spikes/units", data=[1])
    with pytest.raises(ConfigError, match="missing dataset 'labels'"):
        load_shd(tmp_path / "nolabels.h5")
    (tmp_path / "junk.h5").write_bytes(b"\x00" * 64)
    with pytest.raises(ConfigError, match="junk.h5: not a readable"):
        load_shd(tmp_path / "junk.h5")


def test_load_dataset_from_config(tmp_path):
    from xylodeploy.train.data import load_dataset

    save_dataset_npz(_ds(n=20), tmp_path / "train.npz")
    save_dataset_npz(_ds(n=4), tmp_path / "test.npz")
    raw = {"data": {"kind": "npz", "train": "train.npz", "test": "test.npz", "val_fraction": 0.25}}
    s = load_dataset(_cfg(raw, tmp_path, dt=2e-3))
    assert (len(s.train), len(s.val), len(s.test)) == (15, 5, 4)
    seen = {x.tobytes() for x in s.train.spikes}
    assert not any(x.tobytes() in seen for x in s.val.spikes)
    write_shd(tmp_path / "s.h5", [[0.001, 0.0021]] * 10, [[0, 699]] * 10, [0, 1] * 5)
    s = load_dataset(_cfg({"data": {"kind": "shd", "train": "s.h5", "duration": 0.01}}, tmp_path, dt=1e-3))
    assert (len(s.train), len(s.val), len(s.test)) == (8, 1, 1)
    assert s.train.spikes.shape[1:] == (10, 16) and s.train.spikes[0, 1, 0] == 1 and s.train.spikes[0, 2, 15] == 1


def _cfg(raw, base, dt):
    from xylodeploy.train.config import config_from_dict

    return config_from_dict({**raw, "model": {"dt": dt}}, base_dir=base)
