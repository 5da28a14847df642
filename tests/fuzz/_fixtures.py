"""Good input files every hostile case starts from: a tiny config, checkpoint, spec, graph, raster, NIR.

Built once per session (a 1-epoch training run on 32 clips, then quantize/import/export through the
library), copied into each case's own folder so that a case can only damage its own copy.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TINY = {
    "seed": 1,
    "data": {"kind": "synthetic", "n_train": 32, "n_val": 16, "n_test": 16, "duration_ms": 100,
             "onset_ms": [0, 5], "burst_ms": [10, 20], "gap_ms": [10, 20]},
    "model": {"size_hidden_layers": [8], "time_constants_per_layer": [2], "output": "vmem"},
    "train": {"epochs": 1, "batch_size": 16, "lr": 0.01, "loss": "ce_mean", "progress": False, "threads": 1},
}  # fmt: skip
PIPELINE = {
    "quantize": {"chip": "xylo-audio2", "finetune_epochs": 0, "finetune_clips": 16},
    "simulate": {"backends": ["reference"], "xylosim_clips": 2, "exact_clips": 4},
    "report": {"plots": False},
}


@dataclass(frozen=True)
class Files:
    """Paths of the good files in one folder."""

    root: Path

    def __getattr__(self, name: str) -> Path:
        names = {"config": "config.yaml", "pconfig": "pipeline.yaml", "ckpt": "best.pt", "spec": "model.xylo",
                 "graph": "graph.npz", "raster": "data.npz", "nir": "model.nir", "modelpy": "model.py"}  # fmt: skip
        if name not in names:
            raise AttributeError(name)
        return self.root / names[name]


def build(root: Path) -> Files:
    """Write the good files into ``root`` (library calls only; a few seconds)."""
    import copy

    import yaml

    from xylodeploy.chips import get_chip
    from xylodeploy.extract import extract_synnet
    from xylodeploy.flow.compile import CompileOptions, compile
    from xylodeploy.interop._common import save_graph
    from xylodeploy.interop.nir import to_nir
    from xylodeploy.io.rasters import save_raster_npz
    from xylodeploy.train.checkpoint import load_model
    from xylodeploy.train.config import config_from_dict
    from xylodeploy.train.data import load_dataset
    from xylodeploy.train.loop import train

    root.mkdir(parents=True, exist_ok=True)
    f = Files(root)
    f.config.write_text(yaml.safe_dump(TINY, sort_keys=False))
    f.pconfig.write_text(yaml.safe_dump({**copy.deepcopy(TINY), **PIPELINE}, sort_keys=False))
    cfg = config_from_dict(copy.deepcopy(TINY), "<fuzz>")
    splits = load_dataset(cfg)
    result = train(cfg, root / "run", data=splits, overwrite=True, log=lambda s: None)
    shutil.copy(result.checkpoint, f.ckpt)
    shutil.copy(root / "run" / "last.pt", root / "last.pt")
    shutil.rmtree(root / "run")
    model, _ = load_model(f.ckpt)
    dep = compile(model, get_chip("xylo-audio2"), CompileOptions(), calibration=splits.train.spikes[:16])
    dep.spec.save(f.spec)
    graph = extract_synnet(model)
    save_graph(graph, f.graph)
    to_nir(graph, f.nir)
    x, y = splits.test.spikes[:4], splits.test.labels[:4]
    save_raster_npz(f.raster, np.asarray(x), np.asarray(y))
    f.modelpy.write_text(
        "import snntorch as snn\nfrom torch import nn\n\n\ndef net():\n"
        "    syn = dict(alpha=0.75, beta=0.875, init_hidden=True)\n"
        "    return nn.Sequential(nn.Linear(16, 8, bias=False), snn.Synaptic(**syn),\n"
        "                         nn.Linear(8, 4, bias=False), snn.Synaptic(**syn))\n"
    )
    return f


def copy_to(src: Files, dst: Path) -> Files:
    """A fresh copy of the good files in ``dst``."""
    shutil.copytree(src.root, dst, dirs_exist_ok=True)
    return Files(dst)
