"""How a class is read from the readout, the same way in torch, on the simulators and on the chip.

A rule pools the readout trace over time: ``max`` or ``mean`` of the readout membrane (models with
``output='vmem'``), or the ``count`` of readout spikes (``output='spikes'``). The prediction is the
argmax over readout neurons (lowest index on ties). The training and exact fine-tuning losses
``ce_max``/``ce_mean``/``ce_count`` optimise the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError

POOLINGS = ("max", "mean", "count")
_FROM_TRAIN_LOSS = {"ce_max": "max", "ce_mean": "mean", "ce_count": "count"}


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

    def scores(self, trace: np.ndarray) -> np.ndarray:
        """(B, T, K) readout trace -> (B, K) class scores."""
        trace = np.asarray(trace, dtype=np.float64)
        if trace.ndim != 3:
            raise ConfigError(f"readout trace must be (batch, time, classes), got shape {trace.shape}")
        if self.pooling == "max":
            return trace.max(axis=1)
        if self.pooling == "mean":
            return trace.mean(axis=1)
        return trace.sum(axis=1)

    def predict(self, trace: np.ndarray) -> np.ndarray:
        """(B, T, K) readout trace -> (B,) predicted class."""
        return self.scores(trace).argmax(axis=1)

    def trace_of(self, spikes_out: np.ndarray | None, vmem_out: np.ndarray | None) -> np.ndarray:
        """Pick the quantity this rule reads from a recording."""
        trace = vmem_out if self.quantity == "vmem" else spikes_out
        if trace is None:
            raise ConfigError(f"readout rule needs the readout {self.quantity}, which was not recorded")
        return trace
