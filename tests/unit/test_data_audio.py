"""WAV folders and the audio front-end: band selectivity, event caps, cache, splits, error paths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import wavfile

from xylodeploy.data.audio import list_wavs, load_audio_splits
from xylodeploy.data.frontend import FrontendParams, _filter_bank, encode, encode_file, read_wav
from xylodeploy.errors import ConfigError

FS = 16000
P = FrontendParams(duration=0.2)


def tone(freq: float, seconds: float = 0.2, fs: int = FS, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * fs)) / fs)


def write(path, x, fs=FS, dtype="int16"):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (x * 32767).astype(np.int16) if dtype == "int16" else x.astype(np.float32)
    wavfile.write(path, fs, data)
    return path


def band_of(freq: float, p: FrontendParams = P) -> int:
    edges = np.geomspace(p.f_min, p.f_max, p.n_channels + 1)
    return int(np.searchsorted(edges, freq) - 1)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 4000.0])
def test_tone_excites_its_band(freq):
    r = encode(tone(freq), P)
    assert r.shape == (200, 16) and r.dtype == np.uint8
    assert int(r.sum(0).argmax()) == band_of(freq)


def test_events_are_capped_per_step():
    loud = FrontendParams(duration=0.2, threshold=1e-4)
    r = encode(tone(1000.0) + 0.3 * np.random.default_rng(0).standard_normal(3200), loud)
    assert r.max() == loud.max_events == 15


def test_integrate_and_fire_conserves_drive_below_the_cap():
    """Below the cap, events over the clip equal the integrated band level / threshold (within one per band)."""
    from scipy.signal import sosfilt

    x = tone(700.0, amp=0.3)
    x = x * (P.target_rms / np.sqrt(np.mean(x**2)))
    r = encode(tone(700.0, amp=0.3), P)
    assert r.max() < P.max_events
    for k, sos in enumerate(_filter_bank(P)):
        level = np.abs(sosfilt(sos, x)).reshape(200, -1).mean(1)
        assert abs(int(r[:, k].sum()) - level.sum() / P.threshold) <= 1.0


def test_read_wav_formats_and_resampling(tmp_path):
    x = tone(440.0, 0.1, fs=8000)
    write(tmp_path / "a.wav", x, fs=8000)
    write(tmp_path / "b.wav", x, fs=8000, dtype="float32")
    wavfile.write(tmp_path / "st.wav", 8000, np.stack([x, x], 1).astype(np.float32))
    a, b, st = (read_wav(tmp_path / n, FS) for n in ("a.wav", "b.wav", "st.wav"))
    assert a.shape == (1600,) and np.allclose(a, b, atol=1e-3) and np.allclose(b, st)
    assert np.abs(a).max() == pytest.approx(0.5, abs=0.03)


def test_cache_hit_and_invalidation(tmp_path):
    wav = write(tmp_path / "x.wav", tone(1000.0))
    cache = tmp_path / "cache"
    r1, hit1 = encode_file(wav, P, cache)
    r2, hit2 = encode_file(wav, P, cache)
    assert (hit1, hit2) == (False, True) and np.array_equal(r1, r2)
    assert encode_file(wav, FrontendParams(duration=0.2, threshold=0.02), cache)[1] is False
    write(wav, tone(2000.0))
    r3, hit3 = encode_file(wav, P, cache)
    assert not hit3 and not np.array_equal(r1, r3)
    assert not list(cache.glob(".*.tmp"))  # atomic writes leave no temp files


def _folder(root, n=4):
    for label, f in (("high", 3000.0), ("low", 300.0)):
        for i in range(n):
            write(root / label / f"{label}{i}.wav", tone(f * (1 + 0.05 * i)))
    return root


def test_speech_commands_layout_with_lists(tmp_path):
    root = _folder(tmp_path / "sc")
    (root / "_background_noise_").mkdir()
    (root / "validation_list.txt").write_text("high/high0.wav\nlow/low0.wav\n")
    (root / "testing_list.txt").write_text("low/low1.wav\n")
    s = load_audio_splits(root, P, tmp_path / "cache")
    assert s.train.classes == ["high", "low"]
    assert (len(s.train), len(s.val), len(s.test)) == (5, 2, 1)
    assert s.test.labels.tolist() == [1]
    assert s.val.spikes[0].sum(0).argmax() == band_of(3000.0)
    again = load_audio_splits(root, P, tmp_path / "cache")
    assert again.train.meta["cache_hits"] == 8


def test_folder_errors(tmp_path):
    (tmp_path / "empty" / "yes").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no WAV files"):
        list_wavs(tmp_path / "empty")
    with pytest.raises(ConfigError, match="class folder"):
        list_wavs(tmp_path / "empty", ["no"])
    bad = tmp_path / "bad" / "yes" / "broken.wav"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"RIFF0000WAVEjunkjunk")
    with pytest.raises(ConfigError, match=r"broken.wav: cannot read WAV"):
        load_audio_splits(tmp_path / "bad", P, None)
    with pytest.raises(ConfigError, match="f_min < f_max"):
        FrontendParams(f_max=9000.0)


def test_load_dataset_audio_config(tmp_path):
    from xylodeploy.train.config import config_from_dict
    from xylodeploy.train.data import load_dataset

    _folder(tmp_path / "sc", n=5)
    raw = {"data": {"kind": "audio", "root": "sc", "cache_dir": "cache", "duration": 0.1, "val_fraction": 0.2}}
    s = load_dataset(config_from_dict(raw, base_dir=tmp_path))
    assert (len(s.train), len(s.val), len(s.test)) == (7, 2, 1)
    assert s.train.spikes.shape[1:] == (100, 16) and len(list((tmp_path / "cache").glob("*.npy"))) == 10
