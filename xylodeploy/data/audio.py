"""WAV folders in the Speech Commands layout, encoded by the audio front-end.

Layout: ``root/<label>/*.wav``; folders starting with ``_`` or ``.`` are ignored. Optional
``root/validation_list.txt`` and ``root/testing_list.txt`` list ``<label>/<file>.wav`` paths of
the validation and test splits (everything else is training). A split without a (non-empty) list
is carved from the other files (seeded) by ``val_fraction`` / ``test_fraction``: by speaker when
the names follow ``<speaker>_nohash_<n>.wav`` (Speech Commands), at random otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xylodeploy.data.dataset import RasterDataset, Splits, group_split_indices, split_indices
from xylodeploy.data.frontend import FrontendParams, encode_file
from xylodeploy.errors import ConfigError


def list_wavs(root: str | os.PathLike, classes: list[str] | None = None) -> tuple[list[Path], np.ndarray, list[str]]:
    """Find ``root/<label>/*.wav``; return (files, labels, class names sorted or as given)."""
    base = Path(root)
    if not base.is_dir():
        raise ConfigError(f"{base}: audio folder not found")
    found = sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith(("_", ".")))
    names = list(classes) if classes else found
    missing = [c for c in names if c not in found]
    if missing:
        have = ", ".join(found) or "none"
        raise ConfigError(f"{base}: class folder(s) not found: {', '.join(missing)} (found: {have})")
    files, labels = [], []
    for k, name in enumerate(names):
        wavs = sorted(p for p in (base / name).iterdir() if p.suffix.lower() == ".wav" and p.is_file())
        files += wavs
        labels += [k] * len(wavs)
    if not files:
        raise ConfigError(f"{base}: no WAV files found in <label>/ subfolders")
    return files, np.asarray(labels, dtype=np.int64), names


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()}


def encode_files(files: list[Path], params: FrontendParams, cache_dir: str | os.PathLike | None) -> tuple:
    """Encode ``files`` into a (N, T, C) raster; return (raster, number of cache hits)."""
    out = np.zeros((len(files), params.n_steps, params.n_channels), dtype=np.uint8)
    hits = 0
    for i, f in enumerate(files):
        out[i], hit = encode_file(f, params, cache_dir)
        hits += int(hit)
    return out, hits


def speakers(files: list[Path]) -> np.ndarray | None:
    """Speaker id of each file from Speech-Commands names ``<speaker>_nohash_<n>.wav``; None unless all have one."""
    ids = [f.name.split("_nohash_")[0] if "_nohash_" in f.name else None for f in files]
    return None if not ids or any(i is None for i in ids) else np.array(ids)


def _carve(idx: np.ndarray, groups: np.ndarray | None, fractions: list[float], seed: int) -> list[np.ndarray]:
    """Split the clips ``idx`` by ``fractions`` (whole groups when given); returns parts of ``idx`` (rest last)."""
    if groups is not None:
        return [idx[p] for p in group_split_indices(groups[idx], fractions, seed)]
    return [idx[p] for p in split_indices(len(idx), fractions, seed)]


def load_audio_splits(
    root: str | os.PathLike,
    params: FrontendParams,
    cache_dir: str | os.PathLike | None = None,
    classes: list[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    group_split: bool = True,
) -> Splits:
    """Encode a Speech-Commands-layout folder into train / validation / test raster datasets.

    Splits listed in ``validation_list.txt`` / ``testing_list.txt`` are used as listed; a missing
    or empty list is carved from the remaining files by its fraction, by speaker when
    ``group_split`` and every file name carries one (no speaker in two splits).
    """
    base = Path(root)
    files, labels, names = list_wavs(base, classes)
    spikes, hits = encode_files(files, params, cache_dir)
    groups = speakers(files)
    by = groups if group_split else None
    rel = [f.relative_to(base).as_posix() for f in files]
    val_list, test_list = _read_list(base / "validation_list.txt"), _read_list(base / "testing_list.txt")
    is_val = np.array([r in val_list for r in rel])
    is_test = np.array([r in test_list for r in rel])
    rest = np.flatnonzero(~is_val & ~is_test)
    fracs = [0.0 if is_val.any() else val_fraction, 0.0 if is_test.any() else test_fraction]
    val_idx, test_idx, train_idx = _carve(rest, by, fracs, seed)
    parts = [train_idx, np.sort(np.concatenate([np.flatnonzero(is_val), val_idx])),
             np.sort(np.concatenate([np.flatnonzero(is_test), test_idx]))]  # fmt: skip
    meta = {"cache_hits": hits}
    full = RasterDataset(spikes, labels, names, params.dt, source=str(base), meta=meta, groups=groups)
    return Splits(*(full.subset(p) for p in parts))
