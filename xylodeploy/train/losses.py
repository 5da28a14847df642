"""Losses over the readout: cross-entropy on a per-class score pooled over time.

With readout traces ``o[b, t, k]`` (membrane potential for ``output='vmem'``, spike counts for
``output='spikes'``) the class scores are

    ce_max:   z[b, k] = max_t o[b, t, k]
    ce_mean:  z[b, k] = (1/T) sum_t o[b, t, k]
    ce_count: z[b, k] = sum_t o[b, t, k]

and the loss is ``mean_b CE(softmax(z[b]), y[b])``; the prediction is ``argmax_k z[b, k]``.
"""

from __future__ import annotations

import torch
from torch.nn import functional

from xylodeploy.errors import ConfigError
from xylodeploy.readout import POOLING_OF_LOSS, argmax, pool

LOSSES = tuple(POOLING_OF_LOSS)


def class_scores(out: torch.Tensor, loss: str) -> torch.Tensor:
    """Pool readout traces (B, T, K) over time into class scores (B, K) (`xylodeploy.readout.pool`)."""
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss '{loss}': expected one of {', '.join(LOSSES)}")
    if out.ndim != 3:
        raise ConfigError(f"model output must have shape (B, T, classes), got {tuple(out.shape)}")
    return pool(out, POOLING_OF_LOSS[loss])


def readout_loss(out: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """Cross-entropy between pooled class scores and integer targets."""
    return functional.cross_entropy(class_scores(out, loss), target)


def predict(out: torch.Tensor, loss: str) -> torch.Tensor:
    """Predicted class per sample: argmax of the pooled class scores (`xylodeploy.readout.argmax`)."""
    return argmax(class_scores(out, loss))
