"""Fine-tuning a quantized network in the chip's exact integer arithmetic (`XyloExactNet`).

``finetune_exact(spec, train_data, val_data)`` runs Adam over the float shadow parameters of
`XyloExactNet` (straight-through gradients) and returns the spec with the best validation
accuracy *in exact arithmetic*, i.e. the accuracy the chip (xylosim) will show, plus a report.

Data: either a pair ``(x, y)`` of arrays/tensors, ``x`` (N, T, Nin) event counts and ``y`` (N,)
class indices (batched and shuffled here), or any re-iterable yielding ``(x, y)`` batches such
as a ``torch.utils.data.DataLoader``.

Losses are those of float training (`xylodeploy.train.losses`): ``"ce_max"``, ``"ce_mean"``,
``"ce_count"`` pool the readout trace over time (max, mean, sum) into class scores and apply
cross-entropy. The trace is ``readout="vmem"`` (``vmem_out`` divided by the mean readout
threshold, so that logits are O(1); the argmax is unchanged) or ``readout="spikes"``
(``spikes_out``). The prediction is the argmax of the scores. An epoch replaces the best so far only
when it gets at least two more validation clips right (a one-clip gain is within the noise of the
selection, and chasing it costs test accuracy); if no epoch does, the input spec is returned
unchanged (``best_epoch == 0``). ``max_minutes`` bounds the run
by wall time at batch granularity (the report's last history row then has ``out_of_time``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional

from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec
from xylodeploy.models.exact import ExactOutput, ExactSaturationWarning, XyloExactNet
from xylodeploy.readout import argmax
from xylodeploy.train.distributed import DistContext
from xylodeploy.train.losses import LOSSES, class_scores
from xylodeploy.train.timebudget import Budget

READOUTS: tuple[str, ...] = ("vmem", "spikes")


@dataclass
class FinetuneReport:
    """Outcome of `finetune_exact`. Accuracies are fractions in [0, 1], measured in exact arithmetic.

    ``history``: one dict per epoch (``epoch``, ``train_loss``, ``train_accuracy``,
    ``val_accuracy``); epoch 0 is the unchanged input spec. ``saturation_steps``: neuron-steps
    flagged for possible per-event saturation in the best model's validation run (0: the
    accuracy is exactly the chip's).
    """

    best_epoch: int
    best_val_accuracy: float
    initial_val_accuracy: float
    saturation_steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def readout_logits(out: ExactOutput, scale: Tensor | float, loss: str = "ce_max", readout: str = "vmem") -> Tensor:
    """(B, Nout) class scores of a readout for ``loss`` and ``readout`` (see module docstring).

    ``scale``: chip Vmem units per logit unit (`vmem_scale`); ignored for spike readouts.
    """
    if readout == "spikes":
        return class_scores(out.spikes_out, loss)
    return class_scores(out.vmem_out, loss) / scale


def vmem_scale(model: XyloExactNet) -> Tensor | float:
    """Logit unit of a Vmem readout: ``model.vmem_scale`` if set (the quantizer's readout scale, so
    logits are in the float model's units), else the mean readout threshold."""
    fixed = getattr(model, "vmem_scale", None)
    if fixed:
        return float(fixed)
    return torch.clamp(model.threshold_out.detach().abs().mean(), min=1.0)


def _batches(data: Any, batch_size: int, shuffle: bool, gen: torch.Generator, what: str) -> Iterator[tuple]:
    """Yield (x, y) batches from an (x, y) pair or a re-iterable of batches."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (tuple, list)):
        x, y = (torch.as_tensor(np.asarray(d)) if not isinstance(d, Tensor) else d for d in data)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ConfigError(f"{what}: expected x (N, T, Nin) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
        order = torch.randperm(len(x), generator=gen) if shuffle else torch.arange(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            yield x[idx], y[idx]
        return
    if not isinstance(data, Iterable) or iter(data) is data:
        raise ConfigError(f"{what}: expected an (x, y) pair or a re-iterable of (x, y) batches (e.g. a DataLoader)")
    for batch in data:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ConfigError(f"{what}: every batch must be an (x, y) pair")
        yield batch[0], batch[1]


def _labels(y: Any, device: torch.device) -> Tensor:
    return torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y).to(device=device, dtype=torch.long)


@torch.no_grad()
def evaluate_exact(
    model: XyloExactNet,
    data: Any,
    loss: str = "ce_max",
    readout: str = "vmem",
    batch_size: int = 64,
    dist: DistContext | None = None,
) -> tuple[float, int]:
    """(accuracy, flagged saturation neuron-steps) of ``model`` on ``data`` in exact arithmetic.

    With several data-parallel ranks each evaluates every ``world``-th batch and the counts are summed."""
    dist = dist or DistContext()
    correct = total = flagged = 0
    dev = model.weights_in.device
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExactSaturationWarning)
        for i, (x, y) in enumerate(_batches(data, batch_size, False, torch.Generator(), "validation data")):
            if i % dist.world != dist.rank:
                continue
            out = model(x)
            pred = argmax(readout_logits(out, vmem_scale(model), loss, readout))
            y = _labels(y, dev)
            correct += int((pred == y).sum())
            total += len(y)
            flagged += int(out.saturation.sum()) if out.saturation is not None else 0
    correct, total, flagged = (int(v) for v in dist.sum(correct, total, flagged))
    if total == 0:
        raise ConfigError("validation data: no samples")
    return correct / total, flagged


def finetune_exact(
    spec: XyloSpec,
    train_data: Any,
    val_data: Any = None,
    epochs: int = 10,
    lr: float = 0.1,
    loss: str = "ce_max",
    *,
    readout: str = "vmem",
    batch_size: int = 32,
    trainable: Iterable[str] = ("weights", "threshold", "bias"),
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
    logit_scale: float | None = None,
    max_minutes: float | None = None,
) -> tuple[XyloSpec, FinetuneReport]:
    """Fine-tune ``spec`` in exact chip arithmetic; returns (best spec, report).

    Args:
        spec: the quantized network (must fit its chip's ranges).
        train_data / val_data: (x, y) pair or re-iterable of batches (module docstring).
            Without ``val_data`` the training data selects the best epoch.
        epochs: passes over ``train_data``. lr: Adam learning rate in integer units
            (a weight moves by about ``lr`` per step; it changes once it crosses a rounding boundary).
        loss: ``"ce_max"``, ``"ce_mean"`` or ``"ce_count"``; readout: ``"vmem"`` or ``"spikes"``.
        trainable: parameter groups to train (``weights``, ``threshold``, ``bias``).
        device: torch device (default: CPU). seed: shuffling seed. progress: show a progress bar.
        logit_scale: chip Vmem units per logit unit for Vmem readouts (default: mean readout
            threshold); `compile` passes the quantizer's readout scale so logits match float training.
        max_minutes: wall-time budget (None: unlimited) of the whole call, validation included: the epoch
            in progress stops after the batch past ``budget - one validation pass`` (at least one batch
            runs), is validated like any epoch, and the best epoch so far is returned.
    """
    _check_args(loss, readout, epochs, lr, batch_size)
    t0 = time.perf_counter()
    dist = DistContext.from_env()  # torchrun: every rank takes its part of each batch (train/distributed.py)
    check = val_data if val_data is not None else train_data
    run = _start(spec, train_data, check, tuple(trainable), torch.device(device or "cpu"), logit_scale, lr, loss,
                 readout, batch_size, seed, dist, max_minutes)  # fmt: skip
    best, history = _baseline(run, spec)
    bar = _progress(epochs, progress and dist.is_main)
    for epoch in range(1, epochs + 1):
        best = _fit_epoch(run, epoch, best, history, bar)
        if dist.any(run.budget.exhausted()):
            break
    if bar is not None:
        bar.close()
    report = FinetuneReport(
        best_epoch=best[0],
        best_val_accuracy=best[1],
        initial_val_accuracy=history[0]["val_accuracy"],
        saturation_steps=best[2],
        seconds=time.perf_counter() - t0,
        history=history,
    )
    return best[3], report


def _check_args(loss: str, readout: str, epochs: int, lr: float, batch_size: int) -> None:
    """Refuse an unknown loss / readout and a negative epoch count, learning rate or batch size."""
    if loss not in LOSSES or readout not in READOUTS:
        raise ConfigError(f"loss '{loss}' / readout '{readout}': expected {LOSSES} / {READOUTS}")
    if epochs < 0 or lr <= 0 or batch_size < 1:
        raise ConfigError(f"finetune: need epochs >= 0, lr > 0, batch_size >= 1 (got {epochs}, {lr}, {batch_size})")


# (epoch, validation accuracy, flagged saturation steps, spec) of the best epoch so far (0: the input spec)
_Best = tuple[int, float, int, XyloSpec]


@dataclass
class _Run:
    """The fixed parts of one `finetune_exact` call."""

    model: XyloExactNet
    net: torch.nn.Module  # ``model``, or it in DDP
    opt: torch.optim.Optimizer
    gen: torch.Generator  # shuffles the training data
    train_data: Any
    check: Any  # the data that selects the best epoch
    lr: float
    loss: str
    readout: str
    batch_size: int
    dist: DistContext
    budget: Budget
    min_gain: float = 0.0  # the validation gain an epoch needs to become the best


def _start(spec: XyloSpec, train_data: Any, check: Any, trainable: tuple[str, ...], dev: torch.device,
           logit_scale: float | None, lr: float, loss: str, readout: str, batch_size: int, seed: int,
           dist: DistContext, max_minutes: float | None) -> _Run:  # fmt: skip
    """Build the exact model and its Adam optimizer (refused without trainable parameters); start the clock."""
    model = XyloExactNet(spec, trainable=trainable).to(dev)
    model.vmem_scale = logit_scale
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("finetune: no trainable parameters")
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    net = dist.wrap(model)
    return _Run(model, net, opt, gen, train_data, check, lr, loss, readout, batch_size, dist, Budget(max_minutes))


def _baseline(run: _Run, spec: XyloSpec) -> tuple[_Best, list[dict[str, float]]]:
    """Validate the input spec (epoch 0): the first best and history row; reserves one validation's time."""
    best_acc, flagged = evaluate_exact(run.model, run.check, run.loss, run.readout, dist=run.dist)
    run.budget.reserve = run.budget.elapsed()  # training stops early enough for one more validation pass
    run.min_gain = 1.0 / max(1, _n_samples(run.check)) + 1e-9  # more than one clip (module docstring)
    history = [{"epoch": 0, "train_loss": float("nan"), "train_accuracy": float("nan"), "val_accuracy": best_acc}]
    return (0, best_acc, flagged, spec), history


def _fit_epoch(run: _Run, epoch: int, best: _Best, history: list[dict[str, float]], bar: Any) -> _Best:
    """Train and validate one epoch (within the budget); append its history row; return the best so far."""
    dist, budget = run.dist, run.budget
    batches = _timed(_batches(run.train_data, run.batch_size, True, run.gen, "training data"), budget, bar, dist)
    train_loss, train_acc = _train_epoch(run.model, run.net, run.opt, batches, run.loss, run.readout, dist)
    acc, flagged = evaluate_exact(run.model, run.check, run.loss, run.readout, dist=dist)
    history.append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc, "val_accuracy": acc})
    if dist.any(budget.exhausted()):
        history[-1]["out_of_time"] = 1.0
    if acc > best[1] + run.min_gain:
        meta = {"epoch": epoch, "lr": run.lr, "loss": run.loss, "readout": run.readout, "val_accuracy": acc}
        best = (epoch, acc, flagged, run.model.to_spec(meta))
    if bar is not None:
        bar.update(1)
        bar.set_postfix(loss=f"{train_loss:.4f}", val_acc=f"{acc:.3f}", best=f"{best[1]:.3f}", **budget.postfix())
    return best


def _n_samples(data: Any) -> int:
    """Number of clips in a validation set given as an ``(x, y)`` pair or as re-iterable ``(x, y)`` batches."""
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        return len(data[1])
    return sum(len(y) for _, y in data)


def _timed(batches: Iterator[tuple], budget: Any, bar: Any, dist: DistContext) -> Iterator[tuple]:
    """``batches`` until ``budget`` is used up (checked before each batch, on every rank at once; >= 1 batch)."""
    for i, batch in enumerate(batches):
        if i and dist.any(budget.exhausted()):
            return
        if bar is not None and budget.seconds is not None:
            bar.set_postfix(budget.postfix(), refresh=True)
        yield batch


def _train_epoch(
    model: XyloExactNet,
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    batches: Iterator[tuple],
    loss: str,
    readout: str,
    dist: DistContext,
) -> tuple[float, float]:
    """One pass of ``net`` (``model``, or it in DDP); returns (mean loss, accuracy) over the batches."""
    total_loss, correct, n = 0.0, 0, 0
    dev = model.weights_in.device
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExactSaturationWarning)
        for x_all, y_all in batches:
            x, y, factor = dist.local_part(x_all, _labels(y_all, dev))
            out = net(x)
            logits = readout_logits(out, vmem_scale(model), loss, readout)
            batch_loss = functional.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            (batch_loss * factor).backward()
            opt.step()
            model.clip_()
            if factor:
                total_loss += float(batch_loss.detach()) * len(y)
                correct += int((argmax(logits) == y).sum())
                n += len(y)
    total_loss, correct, n = dist.sum(total_loss, correct, n)
    if n == 0:
        raise ConfigError("training data: no samples")
    return total_loss / n, correct / n


def _progress(epochs: int, enabled: bool) -> Any:
    if not enabled or epochs == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc="finetune (exact)", unit="epoch")
