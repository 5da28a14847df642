"""Multi-objective sweeps with Optuna: deployed accuracy vs. chip cost, every trial a pipeline run.

Each trial sets the sampled values (`xylodeploy.scale.space`) in the base pipeline config and runs the
whole pipeline into ``OUT/trials/trial_NNNN/`` (checkpoints, ``model.xylo``, ``report.json``). It is
scored on the **validation** split (the test split stays unseen by the search):

* ``deployed_val_acc`` (maximise): accuracy of the deployed spec on the reference simulator;
* a chip cost (minimise), measured on the same run: ``energy`` (default: the labelled activity-based
  estimate of `xylodeploy.power.energy`, µJ per inference, middle of its range), ``synops`` (synaptic
  events delivered per inference: input events x input fan-out + hidden spikes x (recurrent + readout
  fan-out)), ``cycles`` (the cycle model's core cycles per inference at the measured activity) or
  ``neurons`` (hidden neurons used).

Pruning: Optuna's pruners do not support several objectives, so a trial is pruned by a median rule
on the validation curves stored with each finished trial: after ``PRUNE_WARMUP`` epochs, a trial
whose validation accuracy at epoch ``e`` is below the median of at least ``PRUNE_MIN_TRIALS``
finished trials at ``e`` stops.

Storage: a journal file (``OUT/study.journal``; safe for several processes, and for several
machines on a shared file system) or any Optuna RDB URL (``sqlite:///...``, ``postgresql://...``).
``--jobs K`` runs K worker processes on this machine; more machines join by running the same
command with the same ``--storage`` and ``--study``.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.scale.space import Param, apply_params, load_space

COSTS = ("energy", "synops", "cycles", "neurons")
PRUNE_WARMUP = 2
PRUNE_MIN_TRIALS = 3
DIRECTIONS = ("maximize", "minimize")


@dataclass(frozen=True)
class SweepSettings:
    """Everything a sweep worker needs (plain data: it travels to spawned processes)."""

    config: Path
    space: Path
    out: Path
    trials: int
    storage: str | None = None
    study: str = "xylodeploy-sweep"
    jobs: int = 1
    cost: str = "energy"
    resume: bool = False
    seed: int | None = None

    def storage_url(self) -> str:
        return self.storage or str(self.out / "study.journal")


def _optuna() -> Any:
    from xylodeploy._optional import require

    return require("optuna", extra="sweep", purpose="xylodeploy sweep")


def open_storage(url: str) -> Any:
    """An Optuna RDB storage for URLs with a scheme, else a journal file at that path."""
    optuna = _optuna()
    if "://" in url:
        try:
            return optuna.storages.RDBStorage(url)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many types; one line for all
            raise ConfigError(f"--storage {url}: cannot open ({type(exc).__name__}: {exc})") from None
    from optuna.storages.journal import JournalFileBackend

    path = Path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def chip_costs(spec: Any, raster: np.ndarray, hidden_spikes: np.ndarray) -> dict[str, float]:
    """Mean per-inference cost of ``spec`` on clips ``raster`` (B, T, Nin) with hidden spikes (B, T, Nh):
    effective synaptic operations (`xylodeploy.flow.metrics`), cycle-model cycles, energy estimate, neurons."""
    from xylodeploy.flow.metrics import compute_metrics
    from xylodeploy.power.energy import estimate_energy
    from xylodeploy.power.estimate import estimate

    no_readout = np.zeros((*raster.shape[:2], spec.n_outputs), np.int64)  # readout spikes cost no synops
    synops = compute_metrics(spec, raster, hidden_spikes, no_readout).effective_synops
    est = estimate(spec, raster, hidden_spikes)
    energy = estimate_energy(est, raster.shape[1]).energy_per_inference_j["mid"]
    return {
        "energy": float(energy * 1e6),  # µJ per inference (estimate)
        "synops": float(synops),
        "cycles": float(est.cycles_mean * raster.shape[1]),
        "neurons": float(spec.n_hidden),
    }


def score_deployed(spec: Any, val_x: np.ndarray, val_y: np.ndarray) -> tuple[float, dict[str, float]]:
    """(accuracy on the reference simulator, chip costs) of ``spec`` on validation clips."""
    from xylodeploy.backends import get_backend
    from xylodeploy.readout import ReadoutRule

    sim = get_backend("reference")
    sim.load(spec)
    rec = sim.run(val_x, record=True)
    rule = ReadoutRule.from_spec(spec)
    pred = rule.predict(rule.trace_of(rec.spikes_out, rec.vmem_out))
    return float(np.mean(pred == val_y)), chip_costs(spec, val_x, rec.spikes)


def median_rule(curves: list[list[float]], epoch: int, value: float) -> bool:
    """True when ``value`` at ``epoch`` is below the median of the finished ``curves`` there."""
    seen = [c[epoch] for c in curves if len(c) > epoch]
    return epoch + 1 >= PRUNE_WARMUP and len(seen) >= PRUNE_MIN_TRIALS and value < statistics.median(seen)


class Objective:
    """One trial: sample, run the pipeline into its folder, score it on the validation split."""

    def __init__(self, settings: SweepSettings, base: dict, space: dict[str, Param]) -> None:
        self.settings, self.base, self.space = settings, base, space

    def __call__(self, trial: Any) -> tuple[float, float]:
        from xylodeploy.flow.pipeline import PipelineConfig, run_pipeline
        from xylodeploy.train.config import config_from_dict
        from xylodeploy.train.data import load_dataset

        params = {key: p.suggest(trial, key) for key, p in self.space.items()}
        run_dir = self.settings.out / "trials" / f"trial_{trial.number:04d}"
        source = f"trial {trial.number} of {self.settings.space}"
        cfg = config_from_dict(apply_params(self.base, params, source), source, PipelineConfig,
                               base_dir=self.settings.config.parent)  # fmt: skip
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("values", params)  # decoded (choices are stored as JSON text in trial.params)
        result = run_pipeline(cfg, run_dir, log=lambda s: None, on_epoch=self._pruner(trial))
        splits = load_dataset(cfg)
        acc, costs = score_deployed(result.deployment.spec, splits.val.spikes, splits.val.labels)
        for key, value in {"deployed_val_acc": acc, "float_test_acc": result.float_test_acc,
                           "deployed_test_acc": result.deployed_test_acc, **costs}.items():  # fmt: skip
            trial.set_user_attr(key, value)
        return acc, costs[self.settings.cost]

    def _pruner(self, trial: Any) -> Callable[[dict], None]:
        optuna = _optuna()
        curve: list[float] = []

        def on_epoch(row: dict) -> None:
            curve.append(float(row["val_acc"]))
            trial.set_user_attr("val_curve", list(curve))
            done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            curves = [t.user_attrs.get("val_curve", []) for t in done]
            if median_rule(curves, len(curve) - 1, curve[-1]):
                raise optuna.TrialPruned(f"val acc {curve[-1]:.3f} below the median at epoch {len(curve)}")

        return on_epoch


def _base_config(settings: SweepSettings) -> dict:
    """The base config as a plain mapping (validated here, so a bad base fails before any trial)."""
    from xylodeploy.flow.pipeline import load_pipeline_config

    return load_pipeline_config(settings.config).model_dump(mode="json")


def load_study(settings: SweepSettings, create: bool) -> Any:
    """The sweep's study in its storage; a new sweep refuses to reuse a study that has trials."""
    optuna = _optuna()
    storage = open_storage(settings.storage_url())
    exists = settings.study in {s.study_name for s in optuna.study.get_all_study_summaries(storage)}
    if create and exists and not settings.resume:
        n = len(optuna.load_study(study_name=settings.study, storage=storage).trials)
        if n:
            raise ConfigError(f"study '{settings.study}' in {settings.storage_url()} already has {n} trials: "
                              "add --resume to continue it, or choose another --out / --study")  # fmt: skip
    if not create and not exists:
        raise ConfigError(f"no study '{settings.study}' in {settings.storage_url()}")
    sampler = optuna.samplers.TPESampler(seed=settings.seed, multivariate=True)
    return optuna.create_study(study_name=settings.study, storage=storage, directions=list(DIRECTIONS),
                               sampler=sampler, load_if_exists=True)  # fmt: skip


def run_worker(settings: SweepSettings) -> None:
    """Run trials until the study has ``settings.trials`` finished ones (complete or pruned)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_study(settings, create=False)
    # failed trials (a sampled config the chip cannot take, say) count too, so a sweep always ends
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    stop = optuna.study.MaxTrialsCallback(settings.trials, states=states)
    if len(study.get_trials(deepcopy=False, states=states)) >= settings.trials:
        return
    objective = Objective(settings, _base_config(settings), load_space(settings.space))
    study.optimize(objective, callbacks=[stop], catch=(ConfigError,), gc_after_trial=True)


def _worker_main(settings: SweepSettings) -> None:
    import torch

    torch.set_num_threads(1)  # K workers on K cores
    run_worker(settings)


def check_space(settings: SweepSettings) -> dict[str, Param]:
    """Every choice and both ends of every range must give a valid config (fails before any trial)."""
    from xylodeploy.flow.pipeline import PipelineConfig
    from xylodeploy.train.config import config_from_dict

    base, space = _base_config(settings), load_space(settings.space)
    for key, p in space.items():
        for value in p.choices or p.float_range or p.int_range:
            source = f"{settings.space}: {key} = {value!r}"
            config_from_dict(apply_params(base, {key: value}, source), source, PipelineConfig)
    return space


def run_sweep(settings: SweepSettings, log: Callable[[str], None] = print) -> dict:
    """Create or resume the study, run ``jobs`` workers, then write the front; return the summary."""
    check_space(settings)
    settings.out.mkdir(parents=True, exist_ok=True)
    load_study(settings, create=True)
    log(f"sweep '{settings.study}': {settings.trials} trials, {settings.jobs} worker(s), "
        f"objectives deployed_val_acc (max) and {settings.cost} (min); storage {settings.storage_url()}")  # fmt: skip
    if settings.jobs == 1:
        run_worker(settings)
    else:
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker_main, args=(replace(settings, seed=None),)) for _ in range(settings.jobs)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        failed = [p.exitcode for p in procs if p.exitcode]
        if failed:
            raise ConfigError(f"{len(failed)} sweep worker(s) failed (exit codes {failed}); see their output above")
    from xylodeploy.scale.front import write_front

    return write_front(load_study(settings, create=False), settings, log)
