"""The training loop: AdamW, validation every epoch, best/last checkpoints, early stopping, resume.

Training batches are augmented (``cfg.augment``, `xylodeploy.train.augment`); the optimiser is
AdamW (decoupled weight decay ``train.weight_decay``). ``train.max_minutes`` bounds the run by wall
time: the epoch in progress ends after the current batch, is validated, and the best epoch so far is
kept; when the budget will end the run before ``train.epochs``, the cosine schedule is re-planned each
epoch to end with the budget (`planned_epochs`).

``train(cfg, out_dir)`` writes into ``out_dir``: ``last.pt`` (after every epoch, with optimizer
state, for ``resume=True``), ``best.pt`` (best validation accuracy; gets the test metrics at
the end), ``config.yaml`` (the resolved run config) and ``metrics.json``. Every epoch reseeds
torch / numpy / random from ``(seed, epoch)``, so a resumed run reproduces an uninterrupted one
(without a binding time budget).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from xylodeploy.data.dataset import RasterDataset, Splits
from xylodeploy.errors import ConfigError
from xylodeploy.io.files import atomic_write
from xylodeploy.train.checkpoint import BEST, LAST, load_checkpoint, load_state, resume_state, save_checkpoint
from xylodeploy.train.config import RunConfig, save_config
from xylodeploy.train.distributed import DistContext
from xylodeploy.train.losses import predict, readout_loss
from xylodeploy.train.timebudget import Budget, fmt_time, planned_epochs


@dataclass
class TrainResult:
    """Outcome of `train` (accuracies in [0, 1])."""

    best_val_acc: float
    best_epoch: int
    test_acc: float
    test_loss: float
    epochs_run: int
    seconds: float
    checkpoint: Path
    last_checkpoint: Path
    out_dir: Path
    stopped_early: bool = False
    history: list[dict] = field(default_factory=list)

    @property
    def out_of_time(self) -> bool:
        """True if ``train.max_minutes`` ended the run before ``train.epochs``."""
        return bool(self.history and self.history[-1].get("out_of_time"))

    def summary(self) -> dict:
        """JSON-friendly summary."""
        d = {**asdict(self), "out_of_time": self.out_of_time}
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items() if k != "history"}


def seed_everything(*seed: int) -> None:
    """Seed python, numpy and torch from one or more integers."""
    s = int(np.random.SeedSequence(list(seed)).generate_state(1)[0])
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


def build_model(cfg: RunConfig, n_channels: int, n_classes: int) -> torch.nn.Module:
    """The model ``cfg.model`` describes, for ``n_channels`` inputs and ``n_classes`` outputs."""
    from xylodeploy.models import SynNet

    return SynNet(n_classes=n_classes, n_channels=n_channels, **cfg.model.kwargs())


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, ds: RasterDataset, loss: str, batch_size: int = 128, dist: DistContext | None = None
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``ds`` (eval mode); ranks share the batches and sum."""
    dist = dist or DistContext()
    was_training = model.training
    model.eval()
    total, correct, n = 0.0, 0, 0
    for i, (x, y) in enumerate(ds.batches(batch_size)):
        if i % dist.world != dist.rank:
            continue
        out = model(x)
        total += float(readout_loss(out, y, loss)) * len(y)
        correct += int((predict(out, loss) == y).sum())
        n += len(y)
    model.train(was_training)
    total, correct, n = dist.sum(total, correct, n)
    return (total / n, correct / n) if n else (math.nan, math.nan)


def _model_io(model: torch.nn.Module) -> tuple[int, int]:
    kw = getattr(model, "init_kwargs", {})
    return int(kw.get("n_channels", -1)), int(kw.get("n_classes", -1))


def _check_data(splits: Splits, model: torch.nn.Module) -> None:
    n_ch, n_cls = _model_io(model)
    for name in ("train", "val", "test"):
        ds = getattr(splits, name)
        if len(ds) == 0:
            raise ConfigError(f"{ds.source}: the {name} split is empty")
        ds.check_compatible(n_ch, n_cls)


def lr_at(cfg: RunConfig, epoch: int, epochs: int) -> float:
    """Learning rate of ``epoch``: constant, or cosine from ``lr`` down to ``lr/20`` over ``epochs``.

    A closed form of the epoch (no scheduler state), so a resumed run, even with more epochs,
    continues on the schedule of its current ``epochs``.
    """
    lr = cfg.train.lr
    if cfg.train.lr_schedule == "none" or epochs <= 1:
        return lr
    lo = lr / 20
    return lo + (lr - lo) * 0.5 * (1 + math.cos(math.pi * epoch / (epochs - 1)))


RUN_CONFIG_HEADER = "# xylodeploy train: the resolved run config of this folder (every default spelled out)\n"


def run_config_path(out: Path) -> Path:
    """``out/config.yaml``, unless a config.yaml not written by train is there (the user's own file,
    e.g. ``train DIR/config.yaml --out DIR``): then ``out/run_config.yaml``, and the user's file is untouched."""
    target = out / "config.yaml"
    if target.is_file():
        with open(target, "rb") as fh:
            if fh.readline() != RUN_CONFIG_HEADER.encode():
                return out / "run_config.yaml"
    return target


_ADVICE = "(lower train.lr or set train.grad_clip); no checkpoint of this epoch was written"


def _check_finite(model: torch.nn.Module, loss: torch.Tensor | None, epoch: int) -> None:
    """Stop a diverged run: a non-finite loss or weight is a one-line error naming the epoch (1-based)."""
    if loss is not None and not bool(torch.isfinite(loss)):
        raise ConfigError(f"training diverged in epoch {epoch + 1}: loss is {float(loss.detach())} {_ADVICE}")
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p).all()):
            raise ConfigError(f"training diverged in epoch {epoch + 1}: parameter '{name}' holds NaN/inf {_ADVICE}")


def _train_epoch(model, splits: Splits, cfg: RunConfig, opt, epoch: int, bar, dist: DistContext,
                 budget: Budget) -> tuple[float, float]:  # fmt: skip
    """One pass over the training set (augmented); stops after the batch that uses up ``budget`` (>= 1 batch).

    With several ranks each takes its part of every global batch (`DistContext.local_part`) and they stop together.
    """
    from xylodeploy.train.augment import augment_batch

    model.train()
    rng = np.random.default_rng([cfg.seed, epoch, 1])
    gen = torch.Generator().manual_seed(int(np.random.default_rng([cfg.seed, epoch, 2]).integers(2**62)))
    total, correct, n = 0.0, 0, 0
    for x_all, y_all in splits.train.batches(cfg.train.batch_size, rng):
        if n and dist.any(budget.exhausted()):
            break
        x_all = augment_batch(x_all, cfg.augment, splits.train.dt, gen)
        x, y, factor = dist.local_part(x_all, y_all)
        out = model(x)
        mean_loss = readout_loss(out, y, cfg.train.loss)
        _check_finite(model, mean_loss, epoch)
        opt.zero_grad(set_to_none=True)
        (mean_loss * factor).backward()
        if cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        opt.step()
        if factor:
            total += float(mean_loss.detach()) * len(y)
            correct += int((predict(out.detach(), cfg.train.loss) == y).sum())
            n += len(y)
        bar.update(1)
        bar.set_postfix(loss=f"{total / max(n, 1):.3f}", acc=f"{correct / max(n, 1):.1%}", **budget.postfix())
    total, correct, n = dist.sum(total, correct, n)
    _check_finite(model, None, epoch)
    return (total / n, correct / n) if n else (math.nan, math.nan)


def train(
    cfg: RunConfig,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    data: Splits | None = None,
    model: torch.nn.Module | None = None,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train the model of ``cfg`` on its data; checkpoints go to ``out_dir``.

    Args:
        cfg: the validated run config.
        out_dir: output folder (created).
        resume: continue from ``out_dir/last.pt`` (same config) with its optimizer state.
        overwrite: start afresh even if ``out_dir`` already holds a run (default: refuse).
        data: pre-built splits (default: ``load_dataset(cfg)``).
        model: a pre-built model with ``init_kwargs`` (default: built from ``cfg.model``).
        log: receives one line per epoch (default: stderr when ``cfg.train.progress``).
        on_epoch: called with each epoch's history row after its checkpoints are written (a sweep
            prunes a trial by raising from it).
    """
    out = Path(out_dir)
    dist = DistContext.from_env()
    if not resume and not overwrite and (out / LAST).exists():
        raise ConfigError(f"{out}: already holds a training run ({LAST}); resume it or choose another output folder")
    run = _start_run(cfg, out, dist, _run_logger(cfg, log, dist), resume=resume, data=data, model=model)
    stopped = bool(run.best.get("stopped_early", False))
    for epoch in range(run.start, cfg.train.epochs):
        if stopped:
            break
        row = _run_epoch(run, epoch)
        stopped = _record_epoch(run, epoch, row)
        if on_epoch is not None:
            on_epoch(dict(row))
        if _out_of_time(run, epoch, row):
            break
    seconds = time.perf_counter() - run.t0
    return _finish(out, run.model, run.splits, cfg, run.history, run.best, stopped, seconds, run.common, dist)


@dataclass
class _Run:
    """What `train` carries from epoch to epoch."""

    cfg: RunConfig
    out: Path
    dist: DistContext
    log: Callable[[str], None]
    splits: Splits
    model: torch.nn.Module
    net: torch.nn.Module  # ``model``, DDP-wrapped when several ranks
    opt: torch.optim.Optimizer
    common: dict  # dataset info and config, stored in every checkpoint
    start: int
    history: list[dict]
    best: dict
    t0: float
    budget: Budget


def _run_logger(cfg: RunConfig, log: Callable[[str], None] | None, dist: DistContext) -> Callable[[str], None]:
    """The epoch logger: ``log``, else stderr when ``cfg.train.progress``; silent on ranks other than 0."""
    from tqdm.auto import tqdm

    log = log or ((lambda s: tqdm.write(s, file=sys.stderr)) if cfg.train.progress else (lambda s: None))
    if not dist.is_main:
        log = lambda s: None  # noqa: E731 - rank 0 alone logs
    return log


def _start_run(cfg: RunConfig, out: Path, dist: DistContext, log: Callable[[str], None], *, resume: bool,
               data: Splits | None, model: torch.nn.Module | None) -> _Run:  # fmt: skip
    """Seed, load data, build (or resume) model and optimizer, write the run config (rank 0); start the clock."""
    from xylodeploy.train.data import load_dataset

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    seed_everything(cfg.seed)
    splits = data or load_dataset(cfg)
    model = model or build_model(cfg, splits.train.n_channels, splits.train.n_classes)
    _check_data(splits, model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    net = dist.wrap(model)  # DDP when several ranks: averages gradients in backward
    start, history, best = 0, [], {"val_acc": -1.0, "epoch": -1}
    if resume:
        start, history, best = resume_state(out / LAST, model, opt)
    if dist.is_main:
        save_config(cfg, run_config_path(out), header=RUN_CONFIG_HEADER)
    common = {"dataset": splits.info(), "config": cfg.model_dump(mode="json")}
    t0, budget = time.perf_counter(), Budget(cfg.train.max_minutes)
    return _Run(cfg, out, dist, log, splits, model, net, opt, common, start, history, best, t0, budget)


def _run_epoch(run: _Run, epoch: int) -> dict:
    """Train and validate one epoch (reseeded, learning rate from the planned schedule); its history row."""
    from tqdm.auto import tqdm

    cfg, opt = run.cfg, run.opt
    seed_everything(cfg.seed, epoch)
    plan = planned_epochs(cfg.train.epochs, epoch, epoch - run.start, run.budget)
    for group in opt.param_groups:
        group["lr"] = lr_at(cfg, epoch, plan)
    te = time.perf_counter()
    n_batches = math.ceil(len(run.splits.train) / cfg.train.batch_size)
    with tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{cfg.train.epochs}", leave=False,
              disable=not cfg.train.progress, file=sys.stderr, unit="batch") as bar:  # fmt: skip
        tr_loss, tr_acc = _train_epoch(run.net, run.splits, cfg, opt, epoch, bar, run.dist, run.budget)
    val_loss, val_acc = evaluate(run.model, run.splits.val, cfg.train.loss, dist=run.dist)
    return {"epoch": epoch, "train_loss": tr_loss, "train_acc": tr_acc, "val_loss": val_loss, "val_acc": val_acc,
            "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - te}  # fmt: skip


def _record_epoch(run: _Run, epoch: int, row: dict) -> bool:
    """Add ``row`` to the history, track the best epoch, write best.pt / last.pt (rank 0), log; True to stop early."""
    cfg, epochs, model = run.cfg, run.cfg.train.epochs, run.model
    run.history.append(row)
    if row["val_acc"] > run.best["val_acc"]:
        run.best = {"val_acc": row["val_acc"], "val_loss": row["val_loss"], "epoch": epoch}
        if run.dist.is_main:
            save_checkpoint(run.out / BEST, model, **run.common, metrics=dict(row), epoch=epoch, history=run.history,
                            best=run.best)  # fmt: skip
    patience = cfg.train.patience
    stopped = bool(patience and epoch - run.best["epoch"] >= patience and epoch + 1 < epochs)
    run.best["stopped_early"] = stopped
    if run.dist.is_main:
        save_checkpoint(run.out / LAST, model, **run.common, metrics=dict(row), epoch=epoch, history=run.history,
                        best=run.best, optimizer=run.opt.state_dict())  # fmt: skip
    _log_epoch(run, epoch, row, stopped)
    if stopped:
        run.log(f"early stop: no validation improvement for {patience} epochs")
    return stopped


def _log_epoch(run: _Run, epoch: int, row: dict, stopped: bool) -> None:
    """One log line: losses, accuracies, the best so far, the epoch's time and the ETA."""
    epochs, best = run.cfg.train.epochs, run.best
    eta = (epochs - epoch - 1) * (time.perf_counter() - run.t0) / (epoch + 1 - run.start)
    run.log(f"epoch {epoch + 1}/{epochs}  loss {row['train_loss']:.3f}  train {row['train_acc']:.1%}  "
            f"val {row['val_acc']:.1%}  (best {best['val_acc']:.1%} @ {best['epoch'] + 1})  "
            f"{fmt_time(row['seconds'])}"
            + (f"  ETA {fmt_time(eta)}" if epoch + 1 < epochs and not stopped else ""))  # fmt: skip


def _out_of_time(run: _Run, epoch: int, row: dict) -> bool:
    """True (on every rank, with ``row`` marked ``out_of_time``) when the budget ends the run before its last epoch."""
    if run.dist.any(run.budget.exhausted()) and epoch + 1 < run.cfg.train.epochs:
        row["out_of_time"] = True
        run.log(f"time budget of {run.cfg.train.max_minutes:g} min used up: stopped in epoch {epoch + 1}, "
                "keeping the best")  # fmt: skip
        return True
    return False


def _finish(out: Path, model, splits: Splits, cfg: RunConfig, history, best, stopped, seconds, common,
            dist: DistContext) -> TrainResult:  # fmt: skip
    """Reload the best weights, score the test set, record it in best.pt and metrics.json (rank 0 writes)."""
    dist.barrier()  # rank 0 has written best.pt
    if not (out / BEST).is_file():
        raise ConfigError(f"{out / BEST}: no best checkpoint was written (no epoch was trained)")
    ckpt = load_checkpoint(out / BEST)
    load_state(model, ckpt.state_dict, str(ckpt.path))
    test_loss, test_acc = evaluate(model, splits.test, cfg.train.loss, dist=dist)
    metrics = {**ckpt.metrics, "test_loss": test_loss, "test_acc": test_acc}
    dist.barrier()  # every rank has read best.pt before rank 0 rewrites it
    if dist.is_main:
        save_checkpoint(out / BEST, model, **common, metrics=metrics, epoch=ckpt.epoch, history=history, best=best)
    result = TrainResult(
        best_val_acc=float(best["val_acc"]),
        best_epoch=int(best["epoch"]),
        test_acc=test_acc,
        test_loss=test_loss,
        epochs_run=len(history),
        seconds=seconds,
        checkpoint=out / BEST,
        last_checkpoint=out / LAST,
        out_dir=out,
        stopped_early=stopped,
        history=history,
    )
    if dist.is_main:
        with atomic_write(out / "metrics.json", "w") as fh:
            json.dump({**result.summary(), "history": history}, fh, indent=2)
    dist.barrier()
    return result
