"""``data: kind: audio, frontend: xylo-audio3``: WAV folders encoded by the Xylo Audio 3 front-end model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import wavfile

from xylodeploy.errors import ConfigError
from xylodeploy.frontends.audio3 import Audio3Config, encode_audio3
from xylodeploy.train.config import config_from_dict
from xylodeploy.train.data import load_dataset

FS = 16000
DT = 50 / 48828.125


def _folder(tmp_path):
    t = np.arange(int(0.25 * FS)) / FS
    rng = np.random.default_rng(0)
    for label, f in (("low", 300.0), ("high", 5000.0)):
        (tmp_path / "sc" / label).mkdir(parents=True)
        for i in range(5):
            x = 0.3 * np.sin(2 * np.pi * f * (1 + 0.02 * i) * t) + 0.01 * rng.normal(size=t.size)
            wavfile.write(tmp_path / "sc" / label / f"{i}.wav", FS, (x * 32767).astype(np.int16))
    return tmp_path


def _cfg(tmp_path, dt=DT, **data):
    raw = {"data": {"kind": "audio", "root": "sc", "cache_dir": "cache", "duration": 0.25, "val_fraction": 0.2,
                    "test_fraction": 0.2, "frontend": "xylo-audio3", **data}, "model": {"dt": dt}}  # fmt: skip
    return config_from_dict(raw, "<a3>", base_dir=tmp_path)


def test_wavs_are_encoded_by_the_audio3_model_and_cached(tmp_path):
    _folder(tmp_path)
    cfg = _cfg(tmp_path, audio3={"filters": [2, 6, 13]})
    splits = load_dataset(cfg)
    ds = splits.train
    assert ds.dt == pytest.approx(DT) and ds.n_channels == 3 and ds.n_steps == round(0.25 / DT)
    assert ds.meta["frontend"] == "xylo-audio3" and len(splits.train) + len(splits.val) + len(splits.test) == 10
    # independent path: the WAV's int16 samples / 32768, then the front-end model directly
    rate, raw = wavfile.read(tmp_path / "sc" / "high" / "0.wav")
    x = raw.astype(np.float64) / 32768.0
    direct = encode_audio3(np.pad(x, (0, 1)), rate, Audio3Config(filters=[2, 6, 13]))[: ds.n_steps]
    full = np.concatenate([splits.train.spikes, splits.val.spikes, splits.test.spikes])
    assert any(np.array_equal(direct, s) for s in full)
    # physics: a 300 Hz tone drives the low filter more than a 5 kHz tone does, and vice versa
    low = full[np.concatenate([splits.train.labels, splits.val.labels, splits.test.labels]) == ds.classes.index("low")]
    assert low[:, :, 0].sum() > low[:, :, 2].sum()
    again = load_dataset(cfg)  # from the cache
    np.testing.assert_array_equal(again.train.spikes, splits.train.spikes)
    assert len(list((tmp_path / "cache").glob("a3-*.npy"))) == 10


def test_dt_must_match_the_raster_period(tmp_path):
    _folder(tmp_path)
    with pytest.raises(ConfigError, match="model.dt must be"):
        load_dataset(_cfg(tmp_path, dt=0.001))


def test_bad_audio3_settings_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.audio3\.filters"):
        _cfg(tmp_path, audio3={"filters": [16]})
    with pytest.raises(ConfigError, match=r"data\.frontend"):
        _cfg(tmp_path, frontend="xylo-audio2")
