"""`load_dataset`: build the train / validation / test splits a run config asks for."""

from __future__ import annotations

import os
from pathlib import Path

from xylodeploy.data.dataset import RasterDataset, Splits, group_split_indices, split_indices
from xylodeploy.train.config import AudioData, DenseData, NpzData, RunConfig, ShdData, SyntheticData


def _synthetic(cfg: SyntheticData, dt: float, seed: int) -> Splits:
    from xylodeploy.data.synthetic import BurstTask, generate_splits

    fields = set(BurstTask.__dataclass_fields__) - {"dt"}
    task = BurstTask(**{k: v for k, v in cfg.model_dump().items() if k in fields}, dt=dt)
    return generate_splits(task, cfg.n_train, cfg.n_val, cfg.n_test, cfg.seed if cfg.seed is not None else seed)


def _split_off(full: RasterDataset, val: RasterDataset | None, test: RasterDataset | None, cfg, seed: int) -> Splits:
    """Cut missing validation / test sets off ``full`` by the configured fractions (whole groups
    when ``full`` has groups and ``cfg.group_split``)."""
    fracs = [cfg.val_fraction if val is None else 0.0, cfg.test_fraction if test is None else 0.0]
    if full.groups is not None and getattr(cfg, "group_split", False):
        val_idx, test_idx, train_idx = group_split_indices(full.groups, fracs, seed)
    else:
        val_idx, test_idx, train_idx = split_indices(len(full), fracs, seed)
    return Splits(full.subset(train_idx), val or full.subset(val_idx), test or full.subset(test_idx))


def _npz(cfg: NpzData, dt: float, seed: int) -> Splits:
    from xylodeploy.data.files import load_npz

    full = load_npz(cfg.train, dt)
    val = load_npz(cfg.val, dt) if cfg.val else None
    test = load_npz(cfg.test, dt) if cfg.test else None
    for other in (val, test):
        if other is not None:
            other.check_compatible(full.n_channels, full.n_classes, f"training set {cfg.train}")
            other.classes = full.classes
    return _split_off(full, val, test, cfg, seed)


def _shd(cfg: ShdData, dt: float, seed: int) -> Splits:
    from xylodeploy.data.files import load_shd

    def load(path: Path) -> RasterDataset:
        return load_shd(path, cfg.n_channels, dt, cfg.duration, cfg.n_units, cfg.max_count)

    full = load(cfg.train)
    test = load(cfg.test) if cfg.test else None
    if test is not None:
        test.check_compatible(full.n_channels, full.n_classes, f"training set {cfg.train}")
        test.classes = full.classes
    return _split_off(full, None, test, cfg, seed)


def default_cache_dir() -> Path:
    """Front-end cache folder: ``$XDG_CACHE_HOME/xylodeploy/frontend`` (or ``~/.cache/...``)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "xylodeploy" / "frontend"


def _audio(cfg: AudioData, dt: float, seed: int) -> Splits:
    from xylodeploy.data.audio import load_audio_splits
    from xylodeploy.data.frontend import FrontendParams

    params = FrontendParams(
        n_channels=cfg.n_channels,
        sample_rate=cfg.sample_rate,
        f_min=cfg.f_min,
        f_max=cfg.f_max,
        dt=dt,
        duration=cfg.duration,
        threshold=cfg.threshold,
        max_events=cfg.max_events,
        target_rms=cfg.target_rms,
    )
    cache = cfg.cache_dir if cfg.cache_dir is not None else default_cache_dir()
    if cfg.frontend == "xylo-audio3":
        from xylodeploy.data.audio3 import load_audio3_splits

        return load_audio3_splits(cfg, dt, seed, cache)
    return load_audio_splits(
        cfg.root, params, cache, cfg.classes, cfg.val_fraction, cfg.test_fraction, seed, cfg.group_split
    )


def _imu(cfg, dt: float, seed: int) -> Splits:
    from xylodeploy.data.imu import load_imu_splits

    return load_imu_splits(cfg, dt, seed)


def _dense(cfg: DenseData, dt: float, seed: int) -> Splits:
    from xylodeploy.data.dense import DenseTask, generate_dense

    fields = set(DenseTask.__dataclass_fields__) - {"dt", "seed"}
    kwargs = {k: v for k, v in cfg.model_dump().items() if k in fields}
    task = DenseTask(**kwargs, dt=dt, seed=cfg.seed if cfg.seed is not None else seed)
    cache = (cfg.cache_dir if cfg.cache_dir is not None else default_cache_dir()) if cfg.cache else None
    return generate_dense(task, cache)


def load_dataset(cfg: RunConfig) -> Splits:
    """Train / validation / test datasets for ``cfg.data``, binned to ``cfg.model.dt``."""
    loaders = {"synthetic": _synthetic, "npz": _npz, "shd": _shd, "audio": _audio, "imu": _imu, "dense": _dense}
    return loaders[cfg.data.kind](cfg.data, cfg.model.dt, cfg.seed)
