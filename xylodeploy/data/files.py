"""Spike-raster files: ``.npz`` rasters and HDF5 event files in the Spiking Heidelberg Digits layout.

``.npz``: ``spikes`` (N, T, C) integer counts, ``labels`` (N,), optional ``classes`` (names), ``dt`` and
``groups`` (N,) integer or string ids (e.g. speakers; validation / test splits then hold out whole groups).

SHD HDF5: ``spikes/times`` (per-sample float arrays, seconds), ``spikes/units`` (per-sample
integer arrays, 0..n_units-1), ``labels`` (N,), optional ``extra/keys`` (class names) and
``extra/speaker`` (N,) (speaker ids: the validation split then holds out whole speakers). Events are
binned to ``dt`` over ``duration`` seconds and adjacent units are summed into ``n_channels``
channels (``channel = unit * n_channels // n_units``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from xylodeploy.data.dataset import RasterDataset
from xylodeploy.errors import ConfigError
from xylodeploy.io.files import existing_file
from xylodeploy.io.npzfile import read_npz


def _class_names(raw: np.ndarray | None, labels: np.ndarray, source: str) -> list[str]:
    if raw is None:
        n = int(labels.max()) + 1 if labels.size else 1
        return [str(i) for i in range(n)]
    names = [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(raw).ravel()]
    if not names:
        raise ConfigError(f"{source}: 'classes' is empty")
    return names


def _stored_dt(p: Path, raw: np.ndarray | None) -> float | None:
    """The file's ``dt`` member: one finite positive float (seconds), or None."""
    if raw is None:
        return None
    if raw.size != 1 or raw.dtype.kind not in "iuf" or not np.isfinite(raw).all() or float(raw.ravel()[0]) <= 0:
        raise ConfigError(f"{p}: 'dt' must be one positive number of seconds, got {raw.dtype} {raw.shape}")
    return float(raw.ravel()[0])


def load_npz(path: str | os.PathLike, dt: float | None = None) -> RasterDataset:
    """Load a labelled raster dataset from ``.npz``; ``dt`` (if given) must match a stored ``dt``."""
    from xylodeploy.io.rasters import load_raster_npz

    spikes, labels = load_raster_npz(path)
    p = Path(path)
    if labels is None:
        raise ConfigError(f"{p}: key 'labels' is missing (training needs one label per clip)")
    z = read_npz(p, "raster dataset")
    classes = z.get("classes")
    stored_dt = _stored_dt(p, z.get("dt"))
    groups = z.get("groups")
    if dt is not None and stored_dt is not None and not np.isclose(dt, stored_dt):
        raise ConfigError(f"{p}: rasters were binned with dt={stored_dt} s but the model uses dt={dt} s")
    names = _class_names(classes, labels, str(p))
    dt = dt if dt is not None else (stored_dt or 1e-3)
    return RasterDataset(spikes, labels, names, dt, source=str(p), groups=groups)


def bin_events(
    times: np.ndarray, units: np.ndarray, n_units: int, n_channels: int, dt: float, n_steps: int
) -> np.ndarray:
    """Bin one sample's events into a (n_steps, n_channels) count raster (events past the end dropped).

    ``step = floor(t / dt)``; ``channel = unit * n_channels // n_units`` (sum over grouped units).
    """
    t = np.asarray(times, dtype=np.float64)
    u = np.asarray(units, dtype=np.int64)
    step = np.floor(t / dt).astype(np.int64)
    keep = (step >= 0) & (step < n_steps)
    out = np.zeros((n_steps, n_channels), dtype=np.int64)
    np.add.at(out, (step[keep], u[keep] * n_channels // n_units), 1)
    return out


def load_shd(
    path: str | os.PathLike,
    n_channels: int = 16,
    dt: float = 1e-3,
    duration: float = 1.0,
    n_units: int = 700,
    max_count: int | None = None,
) -> RasterDataset:
    """Load an SHD-layout HDF5 event file as a raster dataset.

    Args:
        path: the ``.h5`` file.
        n_channels: output channels (adjacent units are summed).
        dt: bin width [s].
        duration: clip length [s]; later events are dropped, shorter clips are zero-padded.
        n_units: number of input units in the file (700 for SHD).
        max_count: cap on counts per channel and step (None: no cap).
    """
    import h5py

    p = existing_file(path, "HDF5 event file")
    n_steps = int(round(duration / dt))
    try:
        with h5py.File(p, "r") as f:
            for key in ("spikes/times", "spikes/units", "labels"):
                if key not in f:
                    raise ConfigError(f"{p}: missing dataset '{key}' (expected SHD layout)")
            times, units, labels = f["spikes/times"], f["spikes/units"], np.asarray(f["labels"][()])
            if len(times) != len(units) or len(times) != len(labels):
                raise ConfigError(
                    f"{p}: spikes/times ({len(times)}), spikes/units ({len(units)}) and labels ({len(labels)}) "
                    "differ in length"
                )
            names = np.asarray(f["extra/keys"][()]) if "extra/keys" in f else None
            groups = np.asarray(f["extra/speaker"][()]) if "extra/speaker" in f else None
            spikes = np.zeros((len(labels), n_steps, n_channels), dtype=np.int64)
            for i in range(len(labels)):
                t, u = np.asarray(times[i]), np.asarray(units[i])
                if t.shape != u.shape:
                    raise ConfigError(f"{p}: sample {i}: {t.size} times but {u.size} units")
                if u.size and (u.min() < 0 or u.max() >= n_units):
                    raise ConfigError(f"{p}: sample {i}: unit {int(u.max())} out of range 0..{n_units - 1}")
                if t.size and not np.all(np.isfinite(t)):
                    raise ConfigError(f"{p}: sample {i}: spike times contain NaN or infinite values")
                spikes[i] = bin_events(t, u, n_units, n_channels, dt, n_steps)
    except ConfigError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{p}: not a readable SHD-layout HDF5 file ({exc})") from exc
    if max_count is not None:
        spikes = np.minimum(spikes, max_count)
    lab = labels.astype(np.int64) if np.issubdtype(labels.dtype, np.number) else labels
    classes = _class_names(names, np.asarray(lab), str(p))
    groups = groups.astype(np.int64) if groups is not None and np.issubdtype(groups.dtype, np.integer) else groups
    return RasterDataset(spikes, lab, classes, dt, source=str(p), groups=groups)


def write_shd(path: str | os.PathLike, times: list, units: list, labels, classes: list[str] | None = None) -> Path:
    """Write events in the SHD HDF5 layout (atomically; used for fixtures and conversions)."""
    import h5py

    from xylodeploy.io.files import atomic_write

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        ft = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float32))
        fu = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(zip(times, units, strict=True)):
            ft[i] = np.asarray(t, dtype=np.float32)
            fu[i] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        if classes is not None:
            f.create_dataset("extra/keys", data=np.array([c.encode() for c in classes]))
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return Path(path)
