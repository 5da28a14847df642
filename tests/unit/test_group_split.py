"""Validation by held-out groups (speakers): disjoint splits for .npz groups and Speech-Commands names."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import wavfile

from xylodeploy.data.audio import load_audio_splits, speakers
from xylodeploy.data.dataset import RasterDataset, group_split_indices, save_dataset_npz
from xylodeploy.data.frontend import FrontendParams
from xylodeploy.errors import ConfigError
from xylodeploy.train.config import config_from_dict
from xylodeploy.train.data import load_dataset


def test_group_split_keeps_every_group_in_one_part():
    groups = np.repeat(np.arange(20), np.arange(1, 21))  # groups of 1..20 clips, 210 clips
    val, test, train = group_split_indices(groups, [0.2, 0.1], seed=3)
    sets = [set(groups[p]) for p in (val, test, train)]
    assert all(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1 :])
    assert np.array_equal(np.sort(np.concatenate([val, test, train])), np.arange(len(groups)))
    assert len(val) >= 0.2 * len(groups) and len(test) >= 0.1 * len(groups) and len(train) > 0.5 * len(groups)


def test_group_split_zero_fraction_and_too_few_groups():
    val, test, train = group_split_indices(np.array(["a", "a", "b"]), [0.0, 0.5], seed=0)
    assert len(val) == 0 and len(test) > 0 and len(train) > 0  # one group is always left for training
    val, test, train = group_split_indices(np.array(["a", "a"]), [0.5, 0.0], seed=0)
    assert len(val) == 0 and len(train) == 2


def _npz(tmp_path, groups, n_classes=2, name="d.npz"):
    rng = np.random.default_rng(0)
    n = len(groups)
    ds = RasterDataset(rng.poisson(1.0, (n, 20, 4)), np.arange(n) % n_classes, ["a", "b"], groups=np.asarray(groups))
    return save_dataset_npz(ds, tmp_path / name)


def test_npz_groups_make_speaker_disjoint_val_and_test(tmp_path):
    path = _npz(tmp_path, np.repeat([f"spk{i}" for i in range(10)], 6))
    cfg = config_from_dict({"data": {"kind": "npz", "train": str(path), "val_fraction": 0.2, "test_fraction": 0.2}})
    s = load_dataset(cfg)
    tr, va, te = (set(d.groups.tolist()) for d in (s.train, s.val, s.test))
    assert tr and va and te and not (tr & va) and not (tr & te) and not (va & te)
    assert len(tr | va | te) == 10 and len(s.train) + len(s.val) + len(s.test) == 60
    off = config_from_dict({"data": {"kind": "npz", "train": str(path), "val_fraction": 0.2, "group_split": False}})
    s2 = load_dataset(off)  # random split: with 12 val clips out of 10 speakers, speakers are shared
    assert set(s2.val.groups.tolist()) & set(s2.train.groups.tolist())


def test_npz_groups_must_match_the_clips(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, spikes=np.zeros((3, 5, 2), np.int64), labels=np.zeros(3, np.int64), groups=np.zeros(2, np.int64))
    with pytest.raises(ConfigError, match=r"bad.npz: groups must have shape \(3,\)"):
        load_dataset(config_from_dict({"data": {"kind": "npz", "train": str(path)}}))


def test_speakers_from_speech_commands_names(tmp_path):
    files = [tmp_path / "yes" / "0a7c2a8d_nohash_0.wav", tmp_path / "no" / "0a7c2a8d_nohash_1.wav",
             tmp_path / "no" / "ffd2ba2f_nohash_0.wav"]  # fmt: skip
    assert speakers(files).tolist() == ["0a7c2a8d", "0a7c2a8d", "ffd2ba2f"]
    assert speakers([*files, tmp_path / "no" / "other.wav"]) is None


@pytest.mark.parametrize("val_list", [None, ""])
def test_testing_list_without_validation_list_carves_val_by_speaker(tmp_path, val_list):
    root = tmp_path / "sc"
    t = np.arange(1600) / 16000
    for word, f in (("high", 3000.0), ("low", 300.0)):
        (root / word).mkdir(parents=True)
        for s in range(8):
            for i in range(2):
                x = (0.5 * np.sin(2 * np.pi * f * (1 + 0.02 * s) * t) * 32767).astype(np.int16)
                wavfile.write(root / word / f"spk{s}_nohash_{i}.wav", 16000, x)
    (root / "testing_list.txt").write_text("high/spk7_nohash_0.wav\nhigh/spk7_nohash_1.wav\nlow/spk7_nohash_0.wav\n")
    if val_list is not None:
        (root / "validation_list.txt").write_text(val_list)
    s = load_audio_splits(root, FrontendParams(duration=0.1), None, val_fraction=0.25, seed=1)
    assert len(s.val) > 0 and len(s.test) == 3
    tr, va = set(s.train.groups.tolist()), set(s.val.groups.tolist())
    assert not (tr & va)
    assert len(s.train) + len(s.val) + len(s.test) == 32 and len(s.val) >= 0.25 * 29
