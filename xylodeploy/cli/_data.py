"""Where CLI commands get their clips: an .npz raster file or a checkpoint's own dataset split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.io.rasters import load_raster_npz


def require_run_config(ckpt: Any) -> dict:
    """The checkpoint's stored run config; a ConfigError when it lacks the sections a command relies on
    (a command must not guess the data or the loss that decides the readout rule)."""
    cfg = dict(ckpt.config)
    missing = [s for s in ("data", "model", "train") if not isinstance(cfg.get(s), dict)]
    if missing:
        raise ConfigError(f"{ckpt.path}: checkpoint's stored config lacks the section(s) {missing}: "
                          "not a checkpoint written by `xylodeploy train`")  # fmt: skip
    return cfg


def checkpoint_splits(ckpt: Any) -> Any:
    """Rebuild the train/val/test splits a checkpoint was trained on (from its stored config)."""
    from xylodeploy.train.config import RunConfig, config_from_dict
    from xylodeploy.train.data import load_dataset

    require_run_config(ckpt)
    raw = {k: v for k, v in dict(ckpt.config).items() if k in RunConfig.model_fields}  # drop pipeline sections
    cfg = config_from_dict(raw, f"{ckpt.path} (stored config)")
    return load_dataset(cfg)


def clips(
    data: Path | None, n_inputs: int, ckpt: Any = None, split: str = "test", n_classes: int | None = None
) -> tuple[np.ndarray, Any]:
    """(spikes (N,T,C), labels or None) from ``data`` (.npz), else from the checkpoint's ``split``;
    labels must be below ``n_classes`` when it is given."""
    if data is not None:
        return load_raster_npz(data, n_inputs, n_classes)
    if ckpt is None:
        raise ConfigError("--data is required (an .npz file with 'spikes' and optional 'labels') without --checkpoint")
    ds = getattr(checkpoint_splits(ckpt), split)
    return np.asarray(ds.spikes, dtype=np.int64), np.asarray(ds.labels)
