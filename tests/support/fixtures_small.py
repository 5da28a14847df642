"""Tiny shared configs and helpers for the compile / validate / pipeline tests (fast on 2 cores).

Import as ``from tests.support.fixtures_small import ...``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

# A tiny burst-order task: 16 channels, 200 steps, 6 classes; a one-hidden-layer SynNet of 16 neurons.
TINY: dict[str, Any] = {
    "seed": 1,
    "data": {
        "kind": "synthetic",
        "n_train": 96,
        "n_val": 48,
        "n_test": 48,
        "duration_ms": 200,
        "onset_ms": [0, 5],
        "burst_ms": [10, 20],
        "gap_ms": [20, 40],
    },
    "model": {"size_hidden_layers": [16], "time_constants_per_layer": [4], "output": "vmem"},
    "train": {"epochs": 2, "batch_size": 32, "lr": 0.01, "loss": "ce_mean", "progress": False, "threads": 1},
}

PIPELINE_SECTIONS: dict[str, Any] = {
    "quantize": {"chip": "xylo-audio2", "finetune_epochs": 1, "finetune_clips": 48},
    "simulate": {"backends": ["reference", "xylosim"], "xylosim_clips": 4, "exact_clips": 16},
    "report": {"plots": True},
}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_raw(pipeline: bool = False, **sections: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `TINY` (+ the pipeline sections), each given section updated key by key."""
    raw = copy.deepcopy(TINY)
    if pipeline:
        raw.update(copy.deepcopy(PIPELINE_SECTIONS))
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return raw


def tiny_config(pipeline: bool = False, **sections: dict[str, Any]) -> Any:
    """The validated `RunConfig` (or `PipelineConfig`) of `tiny_raw`."""
    from xylodeploy.train.config import config_from_dict

    if pipeline:
        from xylodeploy.flow.pipeline import PipelineConfig

        return config_from_dict(tiny_raw(True, **sections), "<tiny pipeline>", PipelineConfig)
    return config_from_dict(tiny_raw(**sections), "<tiny>")


def write_yaml(path: Path, raw: dict[str, Any]) -> Path:
    """Write ``raw`` as a YAML config file."""
    import yaml

    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def train_tiny(out_dir: Path, **sections: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Train the tiny config (sections override keys) into ``out_dir``: (model in eval mode, TrainResult, splits)."""
    from xylodeploy.train.checkpoint import load_model
    from xylodeploy.train.data import load_dataset
    from xylodeploy.train.loop import train

    cfg = tiny_config(**sections)
    splits = load_dataset(cfg)
    result = train(cfg, out_dir, data=splits, overwrite=True)
    model, _ = load_model(result.checkpoint)
    model.eval()
    return model, result, splits


def params_snapshot(model: Any) -> dict[str, np.ndarray]:
    """Copies of every parameter and buffer of a torch module."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
