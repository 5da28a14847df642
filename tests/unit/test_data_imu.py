"""`data: kind: imu`: the gesture task, .npz IMU files, encoding through the IMU interface model, errors."""

from __future__ import annotations

import numpy as np
import pytest

from xylodeploy.data.imu import GESTURES, GestureTask, generate_gestures
from xylodeploy.errors import ConfigError
from xylodeploy.frontends.imu import encode_imu
from xylodeploy.frontends.imu_config import ImuInterfaceConfig, read_interface, write_interface
from xylodeploy.train.config import config_from_dict
from xylodeploy.train.data import load_dataset


def _cfg(tmp_path=None, **data):
    raw = {"data": {"kind": "imu", "n_train": 12, "n_val": 6, "n_test": 6, "duration": 1.0, **data}}
    raw["model"] = {"dt": 0.005}
    return config_from_dict(raw, "<imu>", base_dir=tmp_path)


def test_gestures_are_deterministic_balanced_and_16_bit():
    task = GestureTask(duration=1.0)
    x, y = generate_gestures(task, 18, seed=3, split="val")
    x2, y2 = generate_gestures(task, 18, seed=3, split="val")
    assert x.shape == (18, 200, 3) and x.dtype == np.int16
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert np.bincount(y).tolist() == [3] * 6
    assert not np.array_equal(generate_gestures(task, 18, seed=3, split="test")[0], x)
    # gravity (1 g = 4096 counts) dominates every clip's mean, in a random direction
    g = np.linalg.norm(x.astype(float).mean(1), axis=1)
    assert np.all((g > 3000) & (g < 5200))


def test_encoded_gestures_are_separable_by_channel_rates():
    """Nearest class centroid of per-channel event rates beats chance (1/6) by far on held-out clips."""
    task = GestureTask()
    xtr, ytr = generate_gestures(task, 120, 0, "train")
    xte, yte = generate_gestures(task, 60, 0, "test")
    cfg = ImuInterfaceConfig(scale_shift=6)
    ftr, fte = (encode_imu(x, cfg).mean(1) for x in (xtr, xte))
    cent = np.stack([ftr[ytr == k].mean(0) for k in range(len(GESTURES))])
    pred = np.argmin(((fte[:, None, :] - cent[None]) ** 2).sum(-1), axis=1)
    assert (pred == yte).mean() > 0.5


def test_load_dataset_encodes_the_gestures_with_the_configured_interface():
    cfg = _cfg(interface={"encoder": "iaf", "iaf_threshold": 300}, seed=5)
    splits = load_dataset(cfg)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (12, 6, 6)
    ds = splits.train
    assert ds.dt == 0.005 and ds.n_channels == 15 and ds.classes == list(GESTURES) and ds.spikes.max() <= 1
    raw, labels = generate_gestures(GestureTask(duration=1.0), 12, 5, "train")
    np.testing.assert_array_equal(ds.spikes, encode_imu(raw, ImuInterfaceConfig(encoder="iaf", iaf_threshold=300)))
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.meta["imu_interface"]["select_iaf_output"] is True


def test_npz_files_are_encoded_and_split(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(-5000, 5000, (20, 100, 3)).astype(np.int32)
    y = np.arange(20) % 2
    np.savez(tmp_path / "imu.npz", imu=x, labels=y, classes=np.array(["a", "b"]))
    splits = load_dataset(_cfg(tmp_path, train="imu.npz", val_fraction=0.2, test_fraction=0.2))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (12, 4, 4) and splits.train.classes == ["a", "b"]
    full = encode_imu(x, ImuInterfaceConfig())
    idx = [int(np.flatnonzero((full == s).all(axis=(1, 2)))[0]) for s in splits.test.spikes]
    np.testing.assert_array_equal(splits.test.labels, y[idx])


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"imu": np.zeros((2, 10, 3)), "labels": np.zeros(2)}, None),
        ({"imu": np.full((2, 10, 3), 40000), "labels": np.zeros(2)}, "exceeds 32767"),
        ({"imu": np.zeros((2, 10, 2)), "labels": np.zeros(2)}, r"shape \(N, T, 3\)"),
        ({"spikes": np.zeros((2, 10, 3)), "labels": np.zeros(2)}, "missing array"),
        ({"imu": np.array([[[1, 2, 3]]], dtype=object), "labels": np.zeros(1)}, "not a readable"),
    ],
)
def test_bad_npz_files_are_refused(tmp_path, arrays, match):
    np.savez(tmp_path / "imu.npz", **arrays)
    cfg = _cfg(tmp_path, train="imu.npz", val_fraction=0.2, test_fraction=0.2)
    if match is None:
        assert load_dataset(cfg).train.n_channels == 15
        return
    with pytest.raises(ConfigError, match=match):
        load_dataset(cfg)


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"data\.interface\.scale_shift"):
        _cfg(interface={"scale_shift": 40})
    with pytest.raises(ConfigError, match=r"data\.interface\.encoder"):
        _cfg(interface={"encoder": "delta"})
    with pytest.raises(ConfigError, match="model.dt must be 0.005"):
        load_dataset(config_from_dict({"data": {"kind": "imu", "n_train": 2}, "model": {"dt": 0.001}}))


def test_interface_file_round_trip(tmp_path):
    cfg = ImuInterfaceConfig(encoder="iaf", iaf_threshold=77, bands=[(0.5, 3.0)] * 15)
    write_interface(tmp_path / "imu_interface.json", cfg.to_samna())
    assert read_interface(tmp_path / "imu_interface.json").to_samna() == cfg.to_samna()
    (tmp_path / "bad.json").write_text('{"registers": {"bpf_bb_values": [1]}}')
    with pytest.raises(ConfigError, match="not a valid IMU interface file"):
        read_interface(tmp_path / "bad.json")
