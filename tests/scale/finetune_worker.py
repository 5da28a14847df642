"""Run by tests/scale/test_ddp.py, alone or under torchrun: exact fine-tuning of a fixed random spec.

Writes the fine-tuning history and the best spec's weights (rank 0) to the JSON path in argv[1].
"""

from __future__ import annotations

import json
import sys

import numpy as np

from tests.support.strategies import build_random_spec
from xylodeploy.chips import get_chip
from xylodeploy.train.distributed import is_main_process
from xylodeploy.train.finetune import finetune_exact

KNOBS = {"density": 0.5, "extreme": False, "rec_scale": 0.3, "th_scale": 300, "bias": False, "alias_p": 0.0}


def main(out: str) -> None:
    spec = build_random_spec(get_chip("xylo-audio2"), (16, 20, 4, 1), KNOBS, seed=11)
    rng = np.random.default_rng(0)
    x = rng.poisson(0.6, (22, 60, 16))
    y = rng.integers(0, 4, 22)
    best, report = finetune_exact(spec, (x, y), (x[:9], y[:9]), epochs=2, lr=0.5, batch_size=8, seed=3,
                                  progress=False, loss="ce_mean")  # fmt: skip
    if is_main_process():
        with open(out, "w") as fh:
            json.dump({"history": report.history, "w_out": np.asarray(best.weights_out).tolist(),
                       "w_in": np.asarray(best.weights_in).tolist()}, fh)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
