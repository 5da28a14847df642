"""`RasterDataset`: labelled event-count rasters, validated once at the boundary.

A raster is a ``(N, T, C)`` array of non-negative integer event counts per channel and time
step (``dt`` seconds); labels are ``(N,)`` class indices into ``classes``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.io.counts import integer_counts


def as_counts(spikes: np.ndarray, source: str) -> np.ndarray:
    """Validate ``spikes`` as a (N, T, C) array of non-negative integer counts; return uint8 or int16.

    Raises:
        ConfigError: wrong rank, NaN/inf, negative or non-integer values (names ``source``).
    """
    arr = np.asarray(spikes)
    if arr.ndim != 3:
        raise ConfigError(f"{source}: spikes must have shape (N, T, C), got shape {arr.shape}")
    arr = integer_counts(arr, f"{source}: spikes")
    hi = arr.max(initial=0)
    if hi > np.iinfo(np.int16).max:
        raise ConfigError(f"{source}: event count {hi} per step is too large (max {np.iinfo(np.int16).max})")
    return arr.astype(np.uint8 if hi <= 255 else np.int16)


def as_labels(labels: np.ndarray, n: int, n_classes: int, source: str) -> np.ndarray:
    """Validate ``labels`` as ``n`` integer class indices in ``[0, n_classes)``; return int64."""
    lab = np.asarray(labels)
    if lab.shape != (n,):
        raise ConfigError(f"{source}: labels must have shape ({n},) to match spikes, got {lab.shape}")
    if n and np.issubdtype(lab.dtype, np.floating) and (not np.all(np.isfinite(lab)) or np.any(lab != np.round(lab))):
        raise ConfigError(f"{source}: labels must be integer class indices")
    if not (np.issubdtype(lab.dtype, np.integer) or np.issubdtype(lab.dtype, np.floating) or n == 0):
        raise ConfigError(f"{source}: labels must be integer class indices, got dtype {lab.dtype}")
    lab = lab.astype(np.int64)
    if n and (lab.min() < 0 or lab.max() >= n_classes):
        bad = lab[(lab < 0) | (lab >= n_classes)][0]
        raise ConfigError(f"{source}: label {bad} out of range 0..{n_classes - 1} ({n_classes} classes)")
    return lab


def as_groups(groups: np.ndarray, n: int, source: str) -> np.ndarray:
    """Validate ``groups`` as ``n`` integer or string group ids; return them as a (n,) array."""
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ConfigError(f"{source}: groups must have shape ({n},) to match spikes, got {g.shape}")
    if not (np.issubdtype(g.dtype, np.integer) or g.dtype.kind in "US"):
        raise ConfigError(f"{source}: groups must be integer or string ids, got dtype {g.dtype}")
    return g


@dataclass
class RasterDataset:
    """Event-count rasters with labels; usable directly as a ``torch.utils.data.Dataset``.

    Attributes:
        spikes: (N, T, C) uint8/int16 event counts per step.
        labels: (N,) int64 class indices.
        classes: class names, ``len(classes) == n_classes``.
        dt: time step [s].
        source: where the data came from (for messages).
        groups: optional (N,) int64 group of each sample (e.g. the speaker), for group-disjoint splits.
    """

    spikes: np.ndarray
    labels: np.ndarray
    classes: list[str]
    dt: float = 1e-3
    source: str = "<memory>"
    meta: dict = field(default_factory=dict)
    groups: np.ndarray | None = None  # (N,) group of each clip (e.g. speaker), or None

    def __post_init__(self) -> None:
        self.classes = [str(c) for c in self.classes]
        if not self.classes:
            raise ConfigError(f"{self.source}: dataset has no classes")
        self.spikes = as_counts(self.spikes, self.source)
        self.labels = as_labels(self.labels, self.spikes.shape[0], len(self.classes), self.source)
        if self.groups is not None:
            self.groups = as_groups(self.groups, len(self.labels), self.source)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_channels(self) -> int:
        return int(self.spikes.shape[2])

    @property
    def n_steps(self) -> int:
        return int(self.spikes.shape[1])

    def __len__(self) -> int:
        return int(self.spikes.shape[0])

    def __getitem__(self, index: int):
        import torch

        return torch.from_numpy(self.spikes[index].astype(np.float32)), int(self.labels[index])

    def subset(self, index: Sequence[int] | np.ndarray) -> RasterDataset:
        """The samples at ``index`` (same classes, dt, source)."""
        idx = np.asarray(index, dtype=np.int64)
        groups = self.groups[idx] if self.groups is not None else None
        return RasterDataset(self.spikes[idx], self.labels[idx], self.classes, self.dt, self.source, dict(self.meta),
                             groups)  # fmt: skip

    def check_compatible(self, n_channels: int, n_classes: int, what: str = "model") -> None:
        """Raise ConfigError if this dataset's channel or class count does not match ``what``."""
        if self.n_channels != n_channels:
            msg = f"raster has {self.n_channels} channels but the {what} expects {n_channels}"
            raise ConfigError(f"{self.source}: {msg}")
        if self.n_classes > n_classes:
            raise ConfigError(f"{self.source}: dataset has {self.n_classes} classes but the {what} has {n_classes}")

    def batches(self, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[tuple]:
        """Yield ``(x float32 tensor (B,T,C), y int64 tensor (B,))``; shuffled when ``rng`` is given."""
        import torch

        order = rng.permutation(len(self)) if rng is not None else np.arange(len(self))
        for start in range(0, len(self), batch_size):
            idx = np.sort(order[start : start + batch_size])
            x = torch.from_numpy(self.spikes[idx].astype(np.float32))
            yield x, torch.from_numpy(self.labels[idx])

    def info(self) -> dict:
        """Plain-type summary stored in checkpoints."""
        return {
            "n_channels": self.n_channels,
            "n_classes": self.n_classes,
            "classes": list(self.classes),
            "dt": float(self.dt),
            "n_steps": self.n_steps,
        }


@dataclass
class Splits:
    """Train / validation / test datasets of one run."""

    train: RasterDataset
    val: RasterDataset
    test: RasterDataset

    def info(self) -> dict:
        return {**self.train.info(), "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)}}


def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into parts of the given fractions (rest last)."""
    order = np.random.default_rng(seed).permutation(n)
    parts, start = [], 0
    for frac in fractions:
        stop = start + int(round(frac * n))
        parts.append(np.sort(order[start:stop]))
        start = stop
    parts.append(np.sort(order[start:]))
    return parts


def group_split_indices(groups: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Like `split_indices`, but every group (e.g. speaker) lands in exactly one part.

    Groups are shuffled with ``seed`` and dealt to each part until it holds at least its fraction
    of the clips (at least one group for a non-zero fraction, at least one left for the rest).
    """
    g = np.asarray(groups)
    uniq = np.random.default_rng(seed).permutation(np.unique(g))
    sizes = {u: int(np.sum(g == u)) for u in uniq}
    parts, k = [], 0
    for frac in fractions:
        want, chosen = frac * len(g), []
        while k < len(uniq) - 1 and frac > 0 and (not chosen or sum(sizes[u] for u in chosen) < want):
            chosen.append(uniq[k])
            k += 1
        parts.append(np.flatnonzero(np.isin(g, chosen)))
    parts.append(np.flatnonzero(np.isin(g, uniq[k:])))
    return parts


def save_dataset_npz(ds: RasterDataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` atomically as ``.npz`` (``spikes``, ``labels``, ``classes``, ``dt``)."""
    from xylodeploy.io.rasters import save_npz

    extra = {"groups": ds.groups} if ds.groups is not None else {}
    save_npz(path, spikes=ds.spikes, labels=ds.labels, classes=np.array(ds.classes), dt=np.float64(ds.dt), **extra)
    return Path(path)
