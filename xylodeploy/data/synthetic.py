"""The embedded synthetic task: burst-order classification ("which band came first?").

The ``C`` input channels are split into ``n_groups`` groups of adjacent channels (think of
frequency bands). A sample holds one burst in each of the first ``n_bursts`` groups; the class
is the *order* of those bursts (a permutation, so ``n_bursts = 3`` gives 6 classes). Bursts are
separated by random gaps (``gap_ms``), so telling classes apart needs memory over hundreds of
milliseconds. Every class uses the same groups with the same statistics, so total spike counts
per channel carry no class information. Nuisances: random onset, burst length, burst rate and
spectral shape, a distractor burst in the remaining groups, background Poisson noise and event
dropout. Counts are capped at ``max_count`` per channel and step.

Generation is deterministic: sample ``i`` of split ``s`` depends only on ``(seed, s)``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from xylodeploy.chips import DEFAULT_CHIP, get_chip
from xylodeploy.data.dataset import RasterDataset, Splits
from xylodeploy.errors import ConfigError

SPLIT_IDS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class BurstTask:
    """Parameters of the burst-order task (times in ms, converted to steps of ``dt``)."""

    n_channels: int = field(default_factory=lambda: get_chip(DEFAULT_CHIP).max_inputs)
    n_groups: int = 4
    n_bursts: int = 3
    n_classes: int = 6
    duration_ms: float = 450.0
    onset_ms: tuple[float, float] = (0.0, 30.0)
    burst_ms: tuple[float, float] = (20.0, 40.0)
    gap_ms: tuple[float, float] = (50.0, 150.0)
    burst_rate: tuple[float, float] = (1.0, 3.0)  # mean events per channel per ms inside a burst
    noise_rate: float = 0.05  # background events per channel per ms
    p_distractor: float = 0.5  # probability of an extra burst in a non-class group
    p_drop: float = 0.1  # probability that an event is dropped
    max_count: int = field(default_factory=lambda: get_chip(DEFAULT_CHIP).max_input_events)
    dt: float = 1e-3

    def __post_init__(self) -> None:
        if self.n_groups < self.n_bursts or self.n_channels < self.n_groups:
            raise ConfigError(
                f"synthetic task: need n_channels >= n_groups >= n_bursts (got {self.n_channels}, "
                f"{self.n_groups}, {self.n_bursts})"
            )
        n_perm = len(self.permutations())
        if not 2 <= self.n_classes <= n_perm:
            raise ConfigError(f"synthetic task: n_classes must be in 2..{n_perm} for {self.n_bursts} bursts")

    def permutations(self) -> list[tuple[int, ...]]:
        """Burst group order of each class."""
        return list(itertools.permutations(range(self.n_bursts)))

    @property
    def classes(self) -> list[str]:
        names = "ABCDEFGH"
        return ["".join(names[g] for g in p) for p in self.permutations()[: self.n_classes]]

    @property
    def n_steps(self) -> int:
        return int(round(self.duration_ms * 1e-3 / self.dt))

    def group_channels(self, group: int) -> np.ndarray:
        """Channel indices of ``group`` (adjacent channels; the last group takes the remainder)."""
        edges = np.linspace(0, self.n_channels, self.n_groups + 1).round().astype(int)
        return np.arange(edges[group], edges[group + 1])


def _ms(task: BurstTask, ms: float) -> int:
    return int(round(ms * 1e-3 / task.dt))


def _add_burst(raster: np.ndarray, task: BurstTask, rng: np.random.Generator, group: int, start: int) -> int:
    """Add one burst in ``group`` starting at step ``start``; return its end step."""
    length = max(1, _ms(task, rng.uniform(*task.burst_ms)))
    chans = task.group_channels(group)
    shape = rng.dirichlet(np.full(len(chans), 2.0)) * len(chans)  # random spectral shape, mean 1
    rate = rng.uniform(*task.burst_rate) * task.dt / 1e-3
    env = np.sin(np.linspace(0, np.pi, length + 2)[1:-1]) ** 0.5  # smooth on/off
    stop = min(start + length, raster.shape[0])
    if stop > start:
        lam = rate * env[: stop - start, None] * shape[None, :]
        raster[start:stop, chans] += rng.poisson(lam)
    return start + length


def make_sample(task: BurstTask, label: int, rng: np.random.Generator) -> np.ndarray:
    """One (T, C) raster of class ``label``."""
    T, C = task.n_steps, task.n_channels
    raster = np.zeros((T, C), dtype=np.int64)
    t = _ms(task, rng.uniform(*task.onset_ms))
    for i, group in enumerate(task.permutations()[label]):
        if i:
            t += _ms(task, rng.uniform(*task.gap_ms))
        t = _add_burst(raster, task, rng, group, t)
    if task.n_groups > task.n_bursts and rng.random() < task.p_distractor:
        group = int(rng.integers(task.n_bursts, task.n_groups))
        _add_burst(raster, task, rng, group, int(rng.integers(0, T)))
    n_noise = rng.poisson(task.noise_rate * task.dt / 1e-3 * T * C)
    np.add.at(raster, (rng.integers(0, T, n_noise), rng.integers(0, C, n_noise)), 1)  # Poisson background
    if task.p_drop > 0:
        hit = raster > 0
        raster[hit] = rng.binomial(raster[hit], 1.0 - task.p_drop)
    return np.minimum(raster, task.max_count).astype(np.uint8)


def generate(task: BurstTask, n: int, seed: int, split: str = "train") -> RasterDataset:
    """``n`` samples with balanced, shuffled labels; deterministic in ``(task, seed, split)``."""
    if split not in SPLIT_IDS:
        raise ConfigError(f"synthetic task: split must be one of {', '.join(SPLIT_IDS)} (got '{split}')")
    rng = np.random.default_rng([int(seed), SPLIT_IDS[split]])
    labels = rng.permutation(np.arange(n) % task.n_classes)
    spikes = np.zeros((n, task.n_steps, task.n_channels), dtype=np.uint8)
    for i, label in enumerate(labels):
        spikes[i] = make_sample(task, int(label), rng)
    return RasterDataset(spikes, labels, task.classes, task.dt, source=f"synthetic:{split}", meta={"seed": seed})


def generate_splits(task: BurstTask, n_train: int, n_val: int, n_test: int, seed: int) -> Splits:
    """Train / validation / test sets drawn from independent random streams of ``seed``."""
    return Splits(
        generate(task, n_train, seed, "train"),
        generate(task, n_val, seed, "val"),
        generate(task, n_test, seed, "test"),
    )
