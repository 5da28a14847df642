"""Audio front-end modelled on the Xylo Audio AFE: filter bank -> rectify -> bin -> integrate-and-fire.

For each band ``k`` (``n_channels`` bands, log-spaced between ``f_min`` and ``f_max``):

    y_k[n]  = butterworth_bandpass_k(x)[n]           (2nd-order band-pass prototype, SOS)
    r_k[t]  = mean_{n in step t} |y_k[n]|             (rectify and bin to dt)
    a_k[t]  = a_k[t-1] + r_k[t] / threshold           (integrate)
    s_k[t]  = min(floor(a_k[t]), max_events)          (fire, at most max_events per step)
    a_k[t] -= s_k[t];  a_k[t] = min(a_k[t], 1)        (subtract; drop what the cap could not emit)

The waveform is first resampled to ``sample_rate`` and (optionally) scaled to a fixed RMS level.
Encoded rasters are cached on disk, keyed by the WAV file's content hash and these parameters.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np

from xylodeploy.chips import DEFAULT_CHIP, get_chip
from xylodeploy.errors import ConfigError
from xylodeploy.io.files import atomic_write, existing_file, sha256_file

FRONTEND_VERSION = 1


@dataclass(frozen=True)
class FrontendParams:
    """Parameters of the audio front-end (frequencies in Hz, times in s)."""

    n_channels: int = field(default_factory=lambda: get_chip(DEFAULT_CHIP).max_inputs)
    sample_rate: int = 16000
    f_min: float = 100.0
    f_max: float = 7000.0
    filter_order: int = 2
    dt: float = 1e-3
    duration: float = 1.0
    threshold: float = 0.01  # mean |band signal| per step that yields one event
    max_events: int = field(default_factory=lambda: get_chip(DEFAULT_CHIP).max_input_events)
    target_rms: float | None = 0.1  # scale each clip to this RMS (None: keep the level)

    def __post_init__(self) -> None:
        if not 0 < self.f_min < self.f_max < self.sample_rate / 2:
            raise ConfigError(
                f"front-end: need 0 < f_min < f_max < sample_rate/2 (got {self.f_min}, {self.f_max}, "
                f"{self.sample_rate / 2})"
            )
        if self.threshold <= 0 or self.max_events < 1 or self.n_channels < 1:
            raise ConfigError("front-end: threshold must be > 0, max_events >= 1 and n_channels >= 1")
        if self.dt * self.sample_rate < 1:
            raise ConfigError(f"front-end: dt={self.dt} s is shorter than one sample at {self.sample_rate} Hz")

    @property
    def n_steps(self) -> int:
        return int(round(self.duration / self.dt))

    def key(self) -> str:
        return json.dumps({"v": FRONTEND_VERSION, **asdict(self)}, sort_keys=True)


@lru_cache(maxsize=8)
def _filter_bank(params: FrontendParams) -> list[np.ndarray]:
    from scipy.signal import butter

    edges = np.geomspace(params.f_min, params.f_max, params.n_channels + 1)
    return [
        butter(params.filter_order, [lo, hi], btype="bandpass", fs=params.sample_rate, output="sos")
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]


def read_wav(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Read a WAV file as mono float64 in [-1, 1], resampled to ``sample_rate``."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    p = existing_file(path, "WAV file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(p)
    except Exception as exc:  # noqa: BLE001 - scipy raises assorted types (even UnboundLocalError) on junk
        raise ConfigError(f"{p}: cannot read WAV ({type(exc).__name__}: {exc})") from None
    x = np.asarray(data)
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float64) - (info.max + 1 + info.min) / 2) / ((info.max - info.min + 1) / 2)
    else:
        x = x.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or x.size == 0:
        raise ConfigError(f"{p}: WAV holds no samples")
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"{p}: WAV contains NaN or infinite samples")
    if rate != sample_rate:
        g = gcd(int(rate), int(sample_rate))
        x = resample_poly(x, sample_rate // g, int(rate) // g)
    return x


def encode(x: np.ndarray, params: FrontendParams) -> np.ndarray:
    """Encode a mono waveform at ``params.sample_rate`` into a (T, C) uint8 event raster."""
    return encode_batch(np.asarray(x, dtype=np.float64)[None, :], params)[0]


def encode_batch(x: np.ndarray, params: FrontendParams) -> np.ndarray:
    """Encode ``N`` mono waveforms, a (N, samples) array, into a (N, T, C) uint8 event raster."""
    from scipy.signal import sosfilt

    n_samples = int(round(params.duration * params.sample_rate))
    x = np.asarray(x, dtype=np.float64)[:, :n_samples]
    x = np.pad(x, ((0, 0), (0, n_samples - x.shape[1])))
    if params.target_rms is not None:
        rms = np.sqrt(np.mean(x**2, axis=1, keepdims=True))
        x = np.where(rms > 1e-8, x * (params.target_rms / np.maximum(rms, 1e-8)), x)
    T, N = params.n_steps, x.shape[0]
    edges = np.round(np.arange(T + 1) * params.dt * params.sample_rate).astype(np.int64)
    edges = np.minimum(edges, n_samples)
    counts = np.maximum(np.diff(edges), 1)
    level = np.zeros((T, N, params.n_channels))  # mean |y| per step
    for k, sos in enumerate(_filter_bank(params)):
        csum = np.zeros((N, n_samples + 1))
        np.cumsum(np.abs(sosfilt(sos, x, axis=1)), axis=1, out=csum[:, 1:])
        level[:, :, k] = ((csum[:, edges[1:]] - csum[:, edges[:-1]]) / counts).T
    out = _integrate_and_fire(level.reshape(T, -1) / params.threshold, params.max_events)
    return out.reshape(T, N, params.n_channels).transpose(1, 0, 2).copy()


def _integrate_and_fire(drive: np.ndarray, max_events: int) -> np.ndarray:
    acc = np.zeros(drive.shape[1])
    out = np.zeros(drive.shape, dtype=np.uint8)
    for t in range(drive.shape[0]):
        acc += drive[t]
        n = np.minimum(np.floor(acc), max_events)
        acc = np.minimum(acc - n, 1.0)
        out[t] = n
    return out


def file_hash(path: Path) -> str:
    """SHA-256 of a file's content."""
    return sha256_file(path)


def cache_key(path: Path, params: FrontendParams) -> str:
    """Cache key: content hash of the WAV file and the front-end parameters."""
    return hashlib.sha256((file_hash(path) + params.key()).encode()).hexdigest()[:32]


def encode_file(path: str | os.PathLike, params: FrontendParams, cache_dir: str | os.PathLike | None = None):
    """Encode one WAV file, using the on-disk cache when given; return ``(raster, cache_hit)``."""
    p = existing_file(path, "WAV file")
    target = None
    if cache_dir is not None:
        target = Path(cache_dir) / f"{cache_key(p, params)}.npy"
        if target.is_file():
            try:
                raster = np.load(target, allow_pickle=False, mmap_mode="r")  # mapped: a lying header allocates nothing
                if raster.shape == (params.n_steps, params.n_channels) and raster.dtype == np.uint8:
                    return np.array(raster), True
            except (OSError, ValueError, EOFError, MemoryError):
                pass  # damaged cache entry: recompute and overwrite
    raster = encode(read_wav(p, params.sample_rate), params)
    if target is not None:
        buf = io.BytesIO()
        np.save(buf, raster, allow_pickle=False)
        with atomic_write(target, "wb") as fh:
            fh.write(buf.getvalue())
    return raster, False
