"""The wall-time budget of a training run (``train.max_minutes``) and the schedule length it allows."""

from __future__ import annotations

import time


def fmt_time(s: float) -> str:
    """``12.3s`` under a minute, else ``4m05s``."""
    return f"{int(s // 60)}m{int(s % 60):02d}s" if s >= 60 else f"{s:.1f}s"


def planned_epochs(epochs: int, epoch: int, done: int, budget: Budget) -> int:
    """Epochs the learning-rate schedule should span: ``epochs``, or fewer when the time budget will stop
    the run first (``epoch + remaining time / mean epoch time``, at least ``epoch + 1``), so the cosine
    decay still ends when the budget does. ``done``: epochs trained in this session so far."""
    if budget.seconds is None or done == 0:
        return epochs
    per_epoch = budget.elapsed() / done
    fit = epoch + int(max(budget.seconds - budget.elapsed(), 0.0) // max(per_epoch, 1e-9))
    return max(epoch + 1, min(epochs, fit))


class Budget:
    """A wall-time budget of ``minutes`` (None: unlimited), checked between batches."""

    def __init__(self, minutes: float | None, reserve: float = 0.0) -> None:
        self.seconds = None if minutes is None else 60.0 * minutes
        self.reserve = reserve  # seconds kept back for work after the stop (e.g. the last validation)
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def exhausted(self) -> bool:
        return self.seconds is not None and self.elapsed() + self.reserve >= self.seconds

    def postfix(self) -> dict[str, str]:
        """Progress-bar field ``budget=used/total`` (empty when unlimited)."""
        if self.seconds is None:
            return {}
        return {"budget": f"{fmt_time(self.elapsed())}/{fmt_time(self.seconds)}"}


__all__ = ["Budget", "fmt_time", "planned_epochs"]
