"""Data-parallel training with ``torch.distributed``: one process per rank, the same global batches.

Launched by ``torchrun --nproc-per-node N -m xylodeploy train CONFIG`` (or ``xylodeploy train --nproc N``,
which runs torchrun for you; across machines add torchrun's ``--nnodes/--node-rank/--rdzv-endpoint``).
Every rank draws the same shuffled global batch of ``B`` clips (same seed), takes every ``W``-th clip
of it from its own rank on, and scales its mean loss so that the gradient DDP averages is the gradient
of the single-process loss over the whole batch::

    loss_r = mean_{i in rank r} CE_i * (W * n_r / B)   =>   (1/W) sum_r grad loss_r = grad mean_{i in B} CE_i

Metrics are summed over ranks with ``all_reduce``; only rank 0 writes checkpoints, configs and logs.
Backend: ``nccl`` when CUDA is available, else ``gloo`` (CPU).
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """This process's place in a data-parallel run (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        """True on the rank that writes files and logs."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @classmethod
    def from_env(cls) -> DistContext:
        """Join the process group torchrun describes in ``WORLD_SIZE``/``RANK`` (no-op for one process)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            atexit.register(_leave_group)
        _share_cores(int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        return cls(dist.get_rank(), dist.get_world_size())

    def local_part(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
        """This rank's clips of a global batch and the factor ``W * n_r / B`` for its mean loss.

        A rank left without clips (a last batch smaller than the world) runs one clip with factor 0,
        so every rank still joins the gradient all-reduce.
        """
        if not self.active:
            return x, y, 1.0
        xs, ys = x[self.rank :: self.world], y[self.rank :: self.world]
        if len(ys) == 0:
            return x[:1], y[:1], 0.0
        return xs, ys, self.world * len(ys) / len(y)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` in DistributedDataParallel when distributed (parameters broadcast from rank 0)."""
        if not self.active:
            return model
        return torch.nn.parallel.DistributedDataParallel(model)

    def sum(self, *values: float) -> tuple[float, ...]:
        """Sum each value over the ranks (identity for one process)."""
        if not self.active:
            return tuple(float(v) for v in values)
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return tuple(float(v) for v in t)

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on some rank (a time budget stops all ranks together)."""
        if not self.active:
            return bool(flag)
        t = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def shard(self, n: int) -> slice:
        """This rank's contiguous share of ``n`` items (for evaluation)."""
        per = -(-n // self.world)
        return slice(min(n, self.rank * per), min(n, (self.rank + 1) * per))

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def _leave_group() -> None:
    """At exit: wait for every rank (at most a minute: a rank leaving on an error must not hang its group),
    then close the process group. A rank whose peer exits while gloo still holds its connections can be
    aborted ("terminate called without an active exception"), seen once under load in the two-process
    fine-tuning test."""
    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=60))
        else:
            dist.barrier()
    except Exception:  # noqa: BLE001 - a peer gone or stuck: nothing left to wait for
        pass
    dist.destroy_process_group()


def _share_cores(local_ranks: int) -> None:
    """Give each of the ``local_ranks`` processes on this machine its share of the cores (torch and numba
    threads): oversubscribed spinning thread pools make data-parallel training slower than one process."""
    import numba

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    share = max(1, cores // max(1, local_ranks))
    torch.set_num_threads(share)
    numba.set_num_threads(min(share, numba.config.NUMBA_NUM_THREADS))


def is_main_process() -> bool:
    """True unless this process is a non-zero rank of a torchrun launch (read from the environment)."""
    return os.environ.get("RANK", "0") == "0"


def launch_command(nproc: int, args: list[str]) -> list[str]:
    """The torchrun command line that runs ``xylodeploy <args>`` on ``nproc`` local processes."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "xylodeploy", *args]  # fmt: skip


def unwrap(model: Any) -> Any:
    """The module inside a DDP wrapper (or the model itself)."""
    return getattr(model, "module", model)
