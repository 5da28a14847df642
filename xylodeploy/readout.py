"""How a class is read from the readout, the same way in torch, on the simulators and on the chip.

A rule pools the readout trace over time: ``max`` or ``mean`` of the readout membrane (models with
``output='vmem'``), or the ``count`` of readout spikes (``output='spikes'``). The prediction is the
argmax over readout neurons (lowest index on ties). The training and exact fine-tuning losses
``ce_max``/``ce_mean``/``ce_count`` optimise the same rules, with the same `pool` (numpy arrays and
torch tensors alike).

No-spike policy: a clip whose readout never spikes has all-zero spike-count scores, so it predicts
class 0 (the tie rule) everywhere: losses, fine-tuning, ``simulate``, ``validate``, the pipeline
report. `silent_clips` counts such clips so tools can report them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError

POOLINGS = ("max", "mean", "count")


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def pool(trace: Any, pooling: str) -> Any:
    """(B, T, K) readout trace -> (B, K) class scores: ``max``, ``mean`` or ``count`` (sum) over time.

    Works on numpy arrays (float64 scores) and torch tensors (same dtype, differentiable).
    """
    if pooling not in POOLINGS:
        raise ConfigError(f"readout pooling '{pooling}': expected one of {', '.join(POOLINGS)}")
    if trace.ndim != 3:
        raise ConfigError(f"readout trace must be (batch, time, classes), got shape {tuple(trace.shape)}")
    if _is_torch(trace):
        if pooling == "max":
            return trace.amax(dim=1)
        return trace.mean(dim=1) if pooling == "mean" else trace.sum(dim=1)
    trace = np.asarray(trace, dtype=np.float64)
    if pooling == "max":
        return trace.max(axis=1)
    return trace.mean(axis=1) if pooling == "mean" else trace.sum(axis=1)


def argmax(scores: Any) -> Any:
    """(B, K) scores -> (B,) class, the lowest index on ties (numpy or torch)."""
    return scores.argmax(dim=1) if _is_torch(scores) else np.asarray(scores).argmax(axis=1)


def silent_clips(spikes_out: np.ndarray) -> np.ndarray:
    """(B,) True where a clip's readout never spiked (it predicts class 0 under a spike readout)."""
    return np.asarray(spikes_out).reshape(len(spikes_out), -1).astype(np.int64).sum(axis=1) == 0


POOLING_OF_LOSS: dict[str, str] = {"ce_max": "max", "ce_mean": "mean", "ce_count": "count"}  # training loss -> pooling
_FROM_TRAIN_LOSS = POOLING_OF_LOSS


@dataclass(frozen=True)
class ReadoutRule:
    """``quantity`` ('vmem' | 'spikes') pooled over time by ``pooling`` ('max' | 'mean' | 'count')."""

    quantity: str
    pooling: str

    def __post_init__(self) -> None:
        if self.quantity not in ("vmem", "spikes") or self.pooling not in POOLINGS:
            raise ConfigError(f"readout rule {self.quantity}/{self.pooling}: expected vmem|spikes and {POOLINGS}")

    @classmethod
    def from_training(cls, output: str, loss: str) -> ReadoutRule:
        """The rule matching a model ``output`` mode and a training loss name (``ce_max`` ...)."""
        if loss not in _FROM_TRAIN_LOSS:
            raise ConfigError(f"training loss '{loss}': expected one of {', '.join(_FROM_TRAIN_LOSS)}")
        return cls(output, _FROM_TRAIN_LOSS[loss])

    @classmethod
    def from_spec(cls, spec: Any) -> ReadoutRule:
        """The rule a compiled spec records in its provenance (default: spike counts)."""
        rule = dict(spec.provenance.get("readout_rule", {}))
        return cls(str(rule.get("quantity", "spikes")), str(rule.get("pooling", "count")))

    @property
    def needs_state(self) -> bool:
        """True when predictions need the recorded readout membrane."""
        return self.quantity == "vmem"

    @property
    def loss_name(self) -> str:
        """The training / `finetune_exact` loss that optimises this rule (``ce_max`` ...)."""
        return {v: k for k, v in _FROM_TRAIN_LOSS.items()}[self.pooling]

    def scores(self, trace: Any) -> Any:
        """(B, T, K) readout trace -> (B, K) class scores (`pool`)."""
        return pool(trace if _is_torch(trace) else np.asarray(trace), self.pooling)

    def predict(self, trace: Any) -> Any:
        """(B, T, K) readout trace -> (B,) predicted class (`argmax` of `scores`; no-spike policy above)."""
        return argmax(self.scores(trace))

    def trace_of(self, spikes_out: np.ndarray | None, vmem_out: np.ndarray | None) -> np.ndarray:
        """Pick the quantity this rule reads from a recording."""
        trace = vmem_out if self.quantity == "vmem" else spikes_out
        if trace is None:
            raise ConfigError(f"readout rule needs the readout {self.quantity}, which was not recorded")
        return trace
