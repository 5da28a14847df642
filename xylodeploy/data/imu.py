"""IMU data: raw (N, T, 3) integer samples at 200 Hz, encoded by the Xylo IMU interface model.

Sources: ``.npz`` files with ``imu`` (N, T, 3) integers, ``labels`` (N,) and optional ``classes``,
or the embedded synthetic gesture task (`GestureTask`, no download). Either way the samples go
through `xylodeploy.frontends.imu.encode_imu` with the configured interface settings, so the network
trains on exactly the rasters the chip's IMU interface will produce.

The gesture task: a device in a random orientation (gravity on a random axis, 1 g = 4096 counts,
16-bit signed samples) performs one of six motions inside a random window; classes differ in
rhythm, frequency and the number of axes moving, not in orientation, so rotation removal helps.

=========  ============================================================
still      gravity, sensor noise and a slow drift only
shake      1-1.5 s of 4-7 Hz back-and-forth along one axis
circle     1-1.6 s of 1-2 Hz motion in a plane (two axes, 90 deg apart)
tap        2-4 short 25-35 Hz ringing impulses
wave       one or two 0.6-1.2 Hz swings along one axis
vibrate    12-20 Hz buzz of small amplitude
=========  ============================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from xylodeploy.chips import imu_if as hw
from xylodeploy.data.dataset import RasterDataset, Splits, split_indices
from xylodeploy.errors import ConfigError
from xylodeploy.frontends.imu import MAX_SAMPLE, as_imu_samples, encode_imu
from xylodeploy.frontends.imu_config import ImuInterfaceConfig

GESTURES = ("still", "shake", "circle", "tap", "wave", "vibrate")
G = 4096.0  # counts per g (+-8 g full scale)
_SPLITS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class GestureTask:
    """Size and difficulty of the synthetic gesture task."""

    duration: float = 2.0  # s
    noise: float = 0.02  # sensor noise [g rms]
    amplitude: tuple[float, float] = (0.3, 1.0)  # motion amplitude range [g]

    @property
    def n_steps(self) -> int:
        return int(round(self.duration * hw.SAMPLE_RATE_HZ))


def _window(rng: np.random.Generator, t: np.ndarray, length: float) -> np.ndarray:
    """A smooth on/off envelope of ``length`` s at a random position inside the clip."""
    length = min(length, t[-1])
    start = rng.uniform(0, t[-1] - length)
    inside = (t >= start) & (t < start + length)
    env = np.zeros_like(t)
    env[inside] = np.sin(np.pi * (t[inside] - start) / length) ** 0.5
    return env


def _motion(kind: str, rng: np.random.Generator, t: np.ndarray, amp: float) -> np.ndarray:
    """(T, 3) body-frame acceleration [g] of one gesture."""
    out = np.zeros((len(t), 3))
    if kind == "shake":
        out[:, 0] = amp * np.sin(2 * np.pi * rng.uniform(4, 7) * t) * _window(rng, t, rng.uniform(1.0, 1.5))
    elif kind == "circle":
        f, env = rng.uniform(1, 2), _window(rng, t, rng.uniform(1.0, 1.6))
        out[:, 0], out[:, 1] = amp * np.sin(2 * np.pi * f * t) * env, amp * np.cos(2 * np.pi * f * t) * env
    elif kind == "tap":
        f = rng.uniform(25, 35)
        for t0 in rng.uniform(0.1, t[-1] - 0.2, rng.integers(2, 5)):
            dt = np.clip(t - t0, 0, None)
            out[:, 0] += 2 * amp * (t >= t0) * np.exp(-dt / 0.03) * np.sin(2 * np.pi * f * dt)
    elif kind == "wave":
        f = rng.uniform(0.6, 1.2)
        out[:, 0] = 1.5 * amp * np.sin(2 * np.pi * f * t) * _window(rng, t, min(t[-1], rng.uniform(1, 2) / f))
    elif kind == "vibrate":
        out[:, 0] = 0.3 * amp * np.sin(2 * np.pi * rng.uniform(12, 20) * t) * _window(rng, t, rng.uniform(0.8, 1.5))
    return out


def make_gesture(task: GestureTask, label: int, rng: np.random.Generator) -> np.ndarray:
    """One (T, 3) int16 clip of gesture ``label`` in a random device orientation."""
    t = np.arange(task.n_steps) / hw.SAMPLE_RATE_HZ
    body = _motion(GESTURES[label], rng, t, rng.uniform(*task.amplitude))
    body[:, 2] += 1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6.3))  # gravity, drift
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))[None, :]
    sensor = body @ q.T + rng.normal(0, task.noise, body.shape)
    return np.clip(np.round(sensor * G), -MAX_SAMPLE, MAX_SAMPLE).astype(np.int16)


def generate_gestures(task: GestureTask, n: int, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``n`` clips (N, T, 3) int16 with balanced shuffled labels; deterministic in ``(task, seed, split)``."""
    rng = np.random.default_rng([int(seed), 1000 + _SPLITS[split]])
    labels = rng.permutation(np.arange(n) % len(GESTURES))
    x = np.zeros((n, task.n_steps, 3), dtype=np.int16)
    for i, lab in enumerate(labels):
        x[i] = make_gesture(task, int(lab), rng)
    return x, labels.astype(np.int64)


def load_imu_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read ``imu`` (N, T, 3) integer samples, ``labels`` and optional ``classes`` from an ``.npz`` (no pickles)."""
    from xylodeploy.io.files import existing_file

    p = existing_file(path, "IMU data file")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in ("imu", "labels") if k not in z.files]
            if missing:
                raise ConfigError(f"{p}: missing array(s) {', '.join(missing)} (found: {', '.join(z.files)})")
            x, labels = z["imu"], z["labels"]
            classes = [str(c) for c in z["classes"]] if "classes" in z.files else None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p}: not a readable .npz file ({exc})") from None
    x = as_imu_samples(x, str(p))
    n_classes = len(classes) if classes else int(np.max(labels, initial=0)) + 1
    return x, np.asarray(labels), classes or [str(k) for k in range(n_classes)]


def encode_dataset(x: np.ndarray, labels: np.ndarray, classes: list[str], iface: ImuInterfaceConfig, source: str):
    """A `RasterDataset` of the chip's IMU-interface encoding of ``x`` (dt = 5 ms)."""
    spikes = encode_imu(x, iface, source)
    meta = {"frontend": "xylo-imu", "imu_interface": iface.to_samna()}
    return RasterDataset(spikes, labels, classes, 1.0 / hw.SAMPLE_RATE_HZ, source, meta)


def load_imu_splits(cfg, dt: float, seed: int) -> Splits:
    """Train / validation / test sets for a ``data: kind: imu`` section (`xylodeploy.train.config.ImuData`)."""
    if abs(dt - 1.0 / hw.SAMPLE_RATE_HZ) > 1e-12:
        raise ConfigError(f"model.dt must be {1 / hw.SAMPLE_RATE_HZ} s with data.kind imu (the IMU interface runs at "
                          f"{hw.SAMPLE_RATE_HZ:g} Hz), got {dt}")  # fmt: skip
    iface, seed = cfg.interface, cfg.seed if cfg.seed is not None else seed
    if cfg.train is None:
        task = GestureTask(duration=cfg.duration)
        parts = [
            (s, *generate_gestures(task, n, seed, s))
            for s, n in zip(_SPLITS, (cfg.n_train, cfg.n_val, cfg.n_test), strict=True)
        ]
        return Splits(*(encode_dataset(x, y, list(GESTURES), iface, f"imu-gestures:{s}") for s, x, y in parts))
    x, labels, classes = load_imu_npz(cfg.train)
    full = encode_dataset(x, labels, classes, iface, str(cfg.train))
    test = None
    if cfg.test is not None:
        xt, yt, _ = load_imu_npz(cfg.test)
        test = encode_dataset(xt, yt, classes, iface, str(cfg.test))
    val_idx, test_idx, train_idx = split_indices(
        len(full), [cfg.val_fraction, 0.0 if test else cfg.test_fraction], seed
    )
    return Splits(full.subset(train_idx), full.subset(val_idx), test or full.subset(test_idx))
