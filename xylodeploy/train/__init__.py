"""Datasets, run configs, the training loop and checkpoints.

Public API (imported lazily, so ``import xylodeploy.train`` does not import torch)::

    cfg = load_config("configs/quickstart.yaml")   # RunConfig (pydantic, validated)
    result = train(cfg, "runs/quickstart")         # TrainResult; writes best.pt / last.pt
    model, ckpt = load_model(result.checkpoint)    # rebuilt SynNet + metadata
    splits = load_dataset(cfg)                     # Splits(train, val, test) of RasterDataset
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunConfig": "config",
    "load_config": "config",
    "save_config": "config",
    "config_from_dict": "config",
    "RasterDataset": "xylodeploy.data.dataset",
    "Splits": "xylodeploy.data.dataset",
    "save_dataset_npz": "xylodeploy.data.dataset",
    "load_dataset": "data",
    "load_npz": "xylodeploy.data.files",
    "load_shd": "xylodeploy.data.files",
    "BurstTask": "xylodeploy.data.synthetic",
    "FrontendParams": "xylodeploy.data.frontend",
    "train": "loop",
    "evaluate": "loop",
    "TrainResult": "loop",
    "Checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "load_model": "checkpoint",
    "save_checkpoint": "checkpoint",
}

__all__ = sorted(_EXPORTS)


def _module(name: str) -> str:
    return name if "." in name else f"xylodeploy.train.{name}"


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'xylodeploy.train' has no attribute {name!r}")
    return getattr(importlib.import_module(_module(_EXPORTS[name])), name)
