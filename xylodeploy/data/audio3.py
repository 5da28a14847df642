"""WAV folders encoded as Xylo Audio 3 encodes them (``data: kind: audio, frontend: xylo-audio3``).

Each file is read as mono at ``sample_rate`` (`xylodeploy.data.frontend.read_wav`), cut or zero-padded
to ``duration``, and run through the bit-exact model of the chip's digital front-end
(`xylodeploy.frontends.audio3.encode_audio3`): linear interpolation to 48828.125 Hz, 14-bit
quantization, the 16 fixed filters, divisive normalization and rastering to ``dt = downsample /
48828.125 Hz``. Rasters are cached like the software front-end's, keyed by file content and settings.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

from xylodeploy.data.audio import _read_list, list_wavs
from xylodeploy.data.dataset import RasterDataset, Splits, split_indices
from xylodeploy.data.frontend import read_wav
from xylodeploy.errors import ConfigError
from xylodeploy.frontends.audio3 import Audio3Config, encode_audio3
from xylodeploy.io.files import atomic_write, sha256_file

VERSION = 1


def encode_wav(path: Path, cfg: Audio3Config, sample_rate: int, duration: float, cache_dir) -> np.ndarray:
    """(T, C) uint8 events of one WAV file, ``T = round(duration / cfg.dt)`` (cached when ``cache_dir``)."""
    n_steps, n_ch = int(round(duration / cfg.dt)), len(cfg.filters)
    key = f"{VERSION}{sha256_file(path)}{cfg.model_dump_json()}{sample_rate}{duration}"
    target = Path(cache_dir) / f"a3-{hashlib.sha256(key.encode()).hexdigest()[:32]}.npy" if cache_dir else None
    if target is not None and target.is_file():
        try:
            hit = np.load(target, allow_pickle=False)
            if hit.shape == (n_steps, n_ch) and hit.dtype == np.uint8:
                return hit
        except (OSError, ValueError, EOFError):
            pass  # damaged cache entry: recompute
    x = read_wav(path, sample_rate)
    n = int(round(duration * sample_rate)) + 1
    x = np.pad(x[:n], (0, max(0, n - len(x))))
    ev = encode_audio3(x, sample_rate, cfg)[:n_steps]
    ev = np.pad(ev, ((0, n_steps - len(ev)), (0, 0)))
    if target is not None:
        buf = io.BytesIO()
        np.save(buf, ev, allow_pickle=False)
        with atomic_write(target, "wb") as fh:
            fh.write(buf.getvalue())
    return ev


def load_audio3_splits(cfg, dt: float, seed: int, cache_dir: str | os.PathLike | None) -> Splits:
    """Train / validation / test splits of an ``AudioData`` section with ``frontend: xylo-audio3``."""
    a3: Audio3Config = cfg.audio3
    if abs(dt - a3.dt) > 1e-12:
        raise ConfigError(f"model.dt must be {a3.dt!r} s with data.frontend xylo-audio3 (audio3.downsample="
                          f"{a3.downsample} samples at 48828.125 Hz), got {dt}")  # fmt: skip
    base = Path(cfg.root)
    files, labels, names = list_wavs(base, cfg.classes)
    spikes = np.stack([encode_wav(f, a3, cfg.sample_rate, cfg.duration, cache_dir) for f in files])
    rel = [f.relative_to(base).as_posix() for f in files]
    val_list, test_list = _read_list(base / "validation_list.txt"), _read_list(base / "testing_list.txt")
    if val_list or test_list:
        is_val, is_test = np.array([r in val_list for r in rel]), np.array([r in test_list for r in rel])
        parts = [np.flatnonzero(~is_val & ~is_test), np.flatnonzero(is_val), np.flatnonzero(is_test)]
    else:
        val_idx, test_idx, train_idx = split_indices(len(files), [cfg.val_fraction, cfg.test_fraction], seed)
        parts = [train_idx, val_idx, test_idx]
    meta = {"frontend": "xylo-audio3", "audio3": a3.model_dump(mode="json")}
    full = RasterDataset(spikes, labels, names, a3.dt, source=str(base), meta=meta)
    return Splits(*(full.subset(p) for p in parts))
