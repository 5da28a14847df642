"""The embedded dense keyword task: shapes, front-end statistics, determinism, speaker-disjoint splits."""

from __future__ import annotations

import numpy as np
import pytest

from xylodeploy.data import dense as data_dense
from xylodeploy.data.dense import DenseTask, generate_dense, generate_speakers
from xylodeploy.data.frontend import encode_batch
from xylodeploy.errors import ConfigError
from xylodeploy.train.config import config_from_dict
from xylodeploy.train.data import load_dataset

TASK = DenseTask(clips_per_speaker=16, n_train_speakers=4, n_val_speakers=1, n_test_speakers=2, seed=5)


@pytest.fixture(scope="module")
def splits():
    return generate_dense(TASK)


def test_shapes_labels_and_groups(splits):
    sizes = {"train": 4, "val": 1, "test": 2}
    for name, n_spk in sizes.items():
        ds = getattr(splits, name)
        assert ds.spikes.shape == (16 * n_spk, 1000, 16) and ds.spikes.dtype == np.uint8
        assert np.bincount(ds.labels).tolist() == [2 * n_spk] * 8
        assert ds.groups is not None and len(np.unique(ds.groups)) == n_spk
        assert np.all(np.bincount(ds.groups)[np.unique(ds.groups)] == 16)
    assert splits.train.classes == ["sai", "ias", "kuma", "maku", "shoe", "esho", "tine", "neti"]


def test_speaker_split_is_disjoint(splits):
    tr, va, te = (set(getattr(splits, s).groups.tolist()) for s in ("train", "val", "test"))
    assert not (tr & va) and not (tr & te) and not (va & te)


def test_front_end_statistics(splits):
    x = np.concatenate([splits.train.spikes, splits.test.spikes])
    assert 0.6 <= x.mean() <= 1.4  # events per step per channel, like real front-end output
    assert x.max() == TASK.max_events  # bursts reach the front-end's cap
    per_channel = x.mean(axis=(0, 1))
    assert per_channel.min() > 0.3  # every band is used


def test_deterministic_and_seeded():
    a = generate_speakers(TASK, np.array([2]), "a")
    b = generate_speakers(TASK, np.array([2]), "b")
    np.testing.assert_array_equal(a.spikes, b.spikes)
    other = generate_speakers(DenseTask(**{**TASK.__dict__, "seed": 6}), np.array([2]), "c")
    assert not np.array_equal(a.spikes, other.spikes)


def test_speakers_differ_from_each_other():
    a = generate_speakers(TASK, np.array([0]), "a").spikes.mean(axis=(0, 1))
    b = generate_speakers(TASK, np.array([1]), "b").spikes.mean(axis=(0, 1))
    assert np.abs(a - b).max() > 0.05


def test_batch_encoding_matches_one_by_one():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 16000)) * np.linspace(0, 1, 16000)
    p = TASK.frontend()
    batch = encode_batch(x, p)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], encode_batch(x[i : i + 1], p)[0])


def test_cache_round_trip(tmp_path, monkeypatch):
    small = DenseTask(clips_per_speaker=8, n_train_speakers=1, n_val_speakers=1, n_test_speakers=1)
    first = generate_dense(small, tmp_path)
    assert len(list(tmp_path.glob("dense-*.npz"))) == 1

    def boom(*_a, **_k):
        raise AssertionError("cache not used")

    monkeypatch.setattr(data_dense, "synthesize", boom)
    second = generate_dense(small, tmp_path)
    np.testing.assert_array_equal(first.test.spikes, second.test.spikes)
    np.testing.assert_array_equal(first.test.groups, second.test.groups)


def test_config_kind_dense(tmp_path):
    raw = {"data": {"kind": "dense", "clips_per_speaker": 8, "n_train_speakers": 1, "n_val_speakers": 1,
                    "n_test_speakers": 1, "n_classes": 4, "cache_dir": str(tmp_path)}, "seed": 2}  # fmt: skip
    splits = load_dataset(config_from_dict(raw))
    assert splits.train.classes == ["sai", "ias", "kuma", "maku"] and len(splits.val) == 8
    with pytest.raises(ConfigError, match="data.n_classes"):
        config_from_dict({"data": {"kind": "dense", "n_classes": 9}})
