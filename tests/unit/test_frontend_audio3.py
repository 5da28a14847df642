"""Xylo Audio 3 digital front-end: bit-exact against rockpool's syns65302 AFE model, hand values, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.rockpool_ref import as_int, audio3_modules
from xylodeploy.chips import audio3_afe as hw
from xylodeploy.errors import ConfigError
from xylodeploy.frontends.audio3 import Audio3Config, encode_audio3, filter_bank, quantize_audio, raster, spike_gen

rp = audio3_modules()
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FS = hw.SAMPLE_RATE_HZ


def waveform(seed: int, kind: str, n: int, fs: float = FS) -> np.ndarray:
    """Test audio in [-1, 1): tones + noise, white noise, or clicks."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    if kind == "tones":
        f = rng.uniform(50, min(fs / 2 - 100, 20000), 3)
        x = sum(rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * fk * t + rng.uniform(0, 6)) for fk in f)
        return x + rng.normal(0, 0.01, n)
    if kind == "noise":
        return np.clip(rng.normal(0, rng.uniform(0.01, 0.3), n), -0.99, 0.99)
    x = np.zeros(n)
    x[rng.integers(0, n, 5)] = rng.uniform(-0.9, 0.9, 5)
    return x


def _ref_chain(q: np.ndarray, cfg: Audio3Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rockpool's integer functions, with its mirrored-start convention applied at each stage as it does."""
    fb = rp.ChipButterworth(select_filters=tuple(cfg.filters))
    qq = np.concatenate([q[::-1], q]).astype(np.int64)
    y = np.stack([fb._filter(bd, qq) for bd in fb.bd_list], 1)[len(q) :]
    n = len(cfg.filters)

    def v(a):
        return np.full(n, a, dtype=np.int64)

    dn = cfg.spike_gen == "divisive_norm"
    b1, b2 = cfg.rate_shift if dn else (1, 0)
    args = (v(int(dn)), v(b1), v(b2), v(cfg.low_pass_shift if dn else 0), v(cfg.eps if dn else 1))
    s, _ = rp.py_spike_gen(np.concatenate([y[::-1], y]), *args, v(cfg.fixed_threshold if not dn else 0), True)
    s = np.asarray(s).reshape(2 * len(y), n)[len(y) :]
    r = as_int(rp.Raster(n, FS, cfg.downsample, 15)(s)[0]).reshape(-1, n)
    return y, s, r


@SETTINGS
@given(
    seed=st.integers(0, 2**31),
    kind=st.sampled_from(["tones", "noise", "clicks"]),
    fs_in=st.sampled_from([8000, 16000, 44100, FS]),
)
def test_resample_and_quantize_equal_rockpools(seed, kind, fs_in):
    x = waveform(seed, kind, 2000, fs_in)
    ref = as_int(rp.AudioQuantizer()(rp.ResampleAudio(FS)((x, fs_in) if fs_in != FS else x)[0])[0]).ravel()
    np.testing.assert_array_equal(quantize_audio(x, fs_in), ref)


@SETTINGS
@given(
    seed=st.integers(0, 2**31),
    kind=st.sampled_from(["tones", "noise", "clicks"]),
    filters=st.lists(st.integers(0, 15), min_size=1, max_size=16, unique=True),
    mode=st.sampled_from(["divisive_norm", "threshold"]),
    b2=st.integers(0, 3),
    b1_extra=st.integers(1, 6),
    k=st.integers(4, 14),
    eps=st.integers(0, 5000),
    th=st.integers(2**18, 2**29),
    down=st.integers(1, 80),
)
def test_filters_spikes_and_raster_equal_rockpools(seed, kind, filters, mode, b2, b1_extra, k, eps, th, down):
    q = quantize_audio(waveform(seed, kind, 3000), FS)
    cfg = Audio3Config(filters=filters, spike_gen=mode, rate_shift=(b2 + b1_extra, b2), low_pass_shift=k,
                       eps=eps, fixed_threshold=th, downsample=down, start="mirror")  # fmt: skip
    y_ref, s_ref, r_ref = _ref_chain(q, cfg)
    y = filter_bank(q, cfg)
    np.testing.assert_array_equal(y, y_ref)
    s = spike_gen(y, cfg)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_array_equal(raster(s, down), r_ref)


def test_filter_matches_hand_computed_values():
    """Filter 15 (B_wc=2, B_b=1, B_af=14, a1=25566, a2=15280), impulse 100 at t=0; output delayed one sample.

    w0 = (100 << 8) >> 1 = 12800;  w1 = ((-25566 * 12800) >> 14) >> 1 = -19974 >> 1 = -9987
    y = [0, w0, w1 - 0, w2 - w0, ...] -> y[1] = 12800, y[2] = -9987
    """
    q = np.zeros(6, np.int64)
    q[0] = 100
    y = filter_bank(q, Audio3Config(filters=[15]))[:, 0]
    assert y[:3].tolist() == [0, 12800, -9987]


def test_divisive_normalization_holds_the_rate_near_fs_over_2_pow_b1():
    """With a steady tone, DN gives about fs / (2**b1 - 2**b2) events per second in the loudest channel."""
    t = np.arange(int(FS)) / FS
    for amp in (0.05, 0.5):  # the rate does not depend on the level: that is the point of the normalization
        ev = encode_audio3(amp * np.sin(2 * np.pi * 1000 * t), FS)
        rate = ev[len(ev) // 2 :].sum(0).max() * 2
        assert FS / 63 * 0.5 < rate < FS / 63 * 1.2


def test_encode_shapes_and_dt():
    cfg = Audio3Config(filters=[0, 5, 10])
    ev = encode_audio3(waveform(1, "tones", 16000, 16000), 16000, cfg)
    assert ev.dtype == np.uint8 and ev.shape[1] == 3 and ev.max() <= 15
    assert ev.shape[0] == -(-int(np.ceil((16000 - 1) / 16000 * FS)) // 50)
    assert cfg.dt == pytest.approx(1.024e-3)


def test_refusals():
    with pytest.raises(ConfigError, match="exceeds 8191"):
        filter_bank(np.array([9000]))
    with pytest.raises(ValueError, match="b1 > b2"):
        Audio3Config(rate_shift=(2, 3))
    with pytest.raises(ValueError, match="distinct"):
        Audio3Config(filters=[1, 1])
    assert quantize_audio(np.array([1.5, -2.0]), FS).tolist() == [8191, -8191]  # saturating host quantizer
