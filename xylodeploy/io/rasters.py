"""Spike-raster ``.npz`` files: reading with validation at the boundary, writing atomically.

A raster file is a NumPy ``.npz`` archive (no pickles) with

* ``spikes``: integer event counts, shape ``(N, T, C)`` (N clips, T steps, C channels) or
  ``(T, C)`` for one clip; counts >= 0 (the chip clamps counts above its ``max_input_events``);
* ``labels`` (optional): one non-negative integer class per clip, shape ``(N,)`` (or a scalar
  for a single ``(T, C)`` clip).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.io.counts import integer_counts
from xylodeploy.io.files import atomic_write, existing_file
from xylodeploy.io.npzfile import read_npz

SPIKES_KEY = "spikes"
LABELS_KEY = "labels"


def _read_npz(p: Path) -> dict[str, np.ndarray]:
    return read_npz(p, f".npz raster file (with key '{SPIKES_KEY}')")


def _integer_counts(p: Path, key: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` as int64 if it holds finite, non-negative integers; else ConfigError naming ``key``.

    A bool array is refused: a file is expected to hold integer event counts (cast it if you mean 0/1).
    """
    if arr.dtype == bool:
        raise ConfigError(f"{p}: '{key}' has dtype bool, expected integer counts (store them as int)")
    return integer_counts(arr, f"{p}: '{key}'")


def _labels(p: Path, raw: np.ndarray, n_clips: int, single: bool) -> np.ndarray:
    labels = raw.reshape(1) if single and raw.ndim == 0 else raw
    if labels.ndim != 1 or labels.shape[0] != n_clips:
        raise ConfigError(f"{p}: '{LABELS_KEY}' has shape {raw.shape}, expected ({n_clips},): one label per clip")
    return _integer_counts(p, LABELS_KEY, labels)


def load_raster_npz(
    path: str | os.PathLike, n_inputs: int | None = None, n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read and validate a raster file.

    Args:
        path: ``.npz`` file with ``spikes`` and optional ``labels`` (see module docstring).
        n_inputs: if given, the channel count C the rasters must have.
        n_classes: if given, every label must be < n_classes (the readout count).

    Returns:
        ``(spikes, labels)``: spikes as int64 ``(N, T, C)`` (a 2-D file gives N = 1), labels as
        int64 ``(N,)`` or None.

    Raises:
        ConfigError: one line naming the file and the key: missing/empty/unreadable file,
            missing key, wrong rank or channel count, empty raster, NaN, negative or
            non-integer counts, bool/complex/object dtypes, labels of the wrong shape or out of range.
    """
    p = existing_file(path, "raster file")
    members = _read_npz(p)
    if SPIKES_KEY not in members:
        found = ", ".join(sorted(members)) or "nothing"
        raise ConfigError(f"{p}: key '{SPIKES_KEY}' is missing (found: {found})")
    raw = members[SPIKES_KEY]
    if raw.ndim not in (2, 3):
        raise ConfigError(
            f"{p}: '{SPIKES_KEY}' has shape {raw.shape}, expected (clips, time, channels) or (time, channels)"
        )
    single = raw.ndim == 2
    spikes = _integer_counts(p, SPIKES_KEY, raw[None] if single else raw)
    if spikes.size == 0:
        raise ConfigError(f"{p}: '{SPIKES_KEY}' is empty (shape {raw.shape})")
    if n_inputs is not None and spikes.shape[2] != n_inputs:
        raise ConfigError(
            f"{p}: '{SPIKES_KEY}' has {spikes.shape[2]} channels, expected {n_inputs} (the spec's inputs)"
        )
    labels = _labels(p, members[LABELS_KEY], spikes.shape[0], single) if LABELS_KEY in members else None
    if labels is not None and n_classes is not None and labels.size and labels.max() >= n_classes:
        raise ConfigError(
            f"{p}: '{LABELS_KEY}' holds class {labels.max()}, but there are only {n_classes} readout neurons "
            f"(labels 0..{n_classes - 1})"
        )
    return spikes, labels


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Write arrays to an ``.npz`` file atomically (no pickles; nothing written on failure)."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def save_raster_npz(path: str | os.PathLike, spikes: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Write a raster file readable by `load_raster_npz` (atomic)."""
    arrays = {SPIKES_KEY: np.asarray(spikes, dtype=np.int64)}
    if labels is not None:
        arrays[LABELS_KEY] = np.asarray(labels, dtype=np.int64)
    save_npz(path, **arrays)


__all__ = ["LABELS_KEY", "SPIKES_KEY", "load_raster_npz", "save_npz", "save_raster_npz"]
