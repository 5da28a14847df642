"""`xylodeploy pipeline CONFIG.yaml`: train -> quantize -> fine-tune -> simulate -> report, in one call.

The config is a training `RunConfig` plus three sections (all optional)::

    quantize:  {chip: xylo-audio2, method: calibrated, headroom_bits: 2, clip_percentile: 100,
                finetune_epochs: 4, finetune_lr: 0.1, finetune_batch_size: 32, finetune_clips: null,
                finetune_max_minutes: 5, exact_training: finetune}
    simulate:  {backends: [reference, xylosim], xylosim_clips: 32, exact_clips: 64}
    report:    {plots: true}

Quantization-aware training is the default: after float training (at most ``train.max_minutes``,
12 by default here) the quantized network keeps training in the chip's exact integer arithmetic
(`XyloExactNet`, `finetune_exact`) on the whole training set for ``finetune_epochs`` (at most
``finetune_max_minutes``), and the epoch with the best exact validation accuracy is deployed.
``exact_training: all`` trains one float epoch (to calibrate the quantizer) and runs every other
epoch (``train.epochs - 1 + finetune_epochs``) with the chip's arithmetic in the loop.

Outputs in the run folder: ``train/`` (checkpoints), ``model.xylo`` (the deployed spec),
``report.json`` and the PNG plots of `xylodeploy.flow.report`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, Strict, field_validator, model_validator

from xylodeploy.chips import DEFAULT_CHIP, get_chip
from xylodeploy.errors import ConfigError
from xylodeploy.flow.compile import CompileOptions, Deployment, compile
from xylodeploy.flow.validate import ValidationReport, validate
from xylodeploy.io.files import keep_earlier, sha256_file
from xylodeploy.readout import ReadoutRule
from xylodeploy.train.config import RunConfig, Section, TrainConfig, load_config


class QuantizeSection(Section):
    """How the trained network becomes a chip spec."""

    chip: str = DEFAULT_CHIP
    method: Literal["calibrated", "global", "channel"] = "calibrated"
    headroom_bits: Annotated[int, Strict(), Field(ge=0, le=14)] = 2  # global / channel only
    clip_percentile: Annotated[float, Strict(), Field(gt=0, le=100)] = 100.0  # global / channel only
    finetune_epochs: Annotated[int, Strict(), Field(ge=0)] = 4
    finetune_lr: Annotated[float, Strict(), Field(gt=0, le=10)] = 0.1
    finetune_batch_size: Annotated[int, Strict(), Field(ge=1)] = 32
    finetune_clips: Annotated[int, Strict(), Field(ge=1)] | None = None  # training clips for fine-tuning (None: all)
    finetune_max_minutes: Annotated[float, Strict(), Field(gt=0)] | None = 5.0  # wall-time budget (None: none)
    exact_training: Literal["finetune", "all"] = "finetune"  # "all": chip arithmetic in the loop after 1 epoch

    @field_validator("chip")
    @classmethod
    def _known_chip(cls, v: str) -> str:
        try:
            return get_chip(v).name
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


class SimulateSection(Section):
    """Which integer stages run on the test clips (xylosim and the exact torch mode are slower)."""

    backends: list[Literal["reference", "xylosim"]] = ["reference", "xylosim"]
    xylosim_clips: Annotated[int, Strict(), Field(ge=0)] = 32
    exact_clips: Annotated[int, Strict(), Field(ge=0)] = 64
    workers: Annotated[int, Strict(), Field(ge=1, le=1024)] = 1  # local processes for the reference simulator
    scheduler: str | None = None  # Dask distributed scheduler address for the reference simulator

    @model_validator(mode="after")
    def _some_integer_stage(self) -> SimulateSection:
        runs = "reference" in self.backends or ("xylosim" in self.backends and self.xylosim_clips > 0)
        if not runs and self.exact_clips == 0:
            raise ValueError("needs an integer stage with clips: reference, xylosim_clips > 0 or exact_clips > 0")
        return self


class ReportSection(Section):
    plots: Annotated[bool, Strict()] = True


class PipelineTrainConfig(TrainConfig):
    """`TrainConfig` with a default time budget: the pipeline's float training stops after 12 minutes."""

    max_minutes: Annotated[float, Strict(), Field(gt=0)] | None = 12.0


class PipelineConfig(RunConfig):
    """A training run config plus the quantize, simulate and report sections."""

    train: PipelineTrainConfig = Field(default_factory=PipelineTrainConfig)
    quantize: QuantizeSection = Field(default_factory=QuantizeSection)
    simulate: SimulateSection = Field(default_factory=SimulateSection)
    report: ReportSection = Field(default_factory=ReportSection)


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline YAML (one-line `ConfigError` naming the key on any problem)."""
    return load_config(path, PipelineConfig)  # type: ignore[return-value]


@dataclass
class PipelineResult:
    """What one pipeline run produced."""

    out_dir: Path
    spec_path: Path
    report_path: Path
    float_test_acc: float
    deployed_test_acc: float
    bit_exact: bool
    deployment: Deployment
    validation: ValidationReport
    seconds: float

    @property
    def delta_pp(self) -> float:
        """Deployed minus float test accuracy, in percentage points."""
        return 100.0 * (self.deployed_test_acc - self.float_test_acc)


# What a pipeline run writes into its folder: an earlier run's copies are kept until this run succeeds.
OUTPUTS: tuple[str, ...] = ("train", "model.xylo", "report.json", "weights.png", "time_constants.png",
                            "resources.png", "readout_trace.png")  # fmt: skip


def run_pipeline(cfg: PipelineConfig, out_dir: str | Path, log: Callable[[str], None] = print,
                 on_epoch: Callable[[dict], None] | None = None) -> PipelineResult:  # fmt: skip
    """Train, compile (+ exact fine-tuning), validate on the test split and write the report.

    ``on_epoch`` receives each training epoch's history row (see `train`).

    The chip fit of the network is checked before training (`xylodeploy.flow.preflight`); a run that fails
    leaves an earlier run's files in ``out_dir`` as they were (`xylodeploy.io.files.keep_earlier`).
    """
    from xylodeploy.flow.preflight import check_fits_chip
    from xylodeploy.io.files import writable_dir
    from xylodeploy.train.data import load_dataset

    t0, out = time.perf_counter(), Path(out_dir)
    backends = _available_backends(cfg.simulate, log)  # before training: a config that cannot validate fails fast
    writable_dir(out, "--out")
    splits = load_dataset(cfg)
    check_fits_chip(cfg.model.size_hidden_layers, splits.train.n_channels, splits.train.n_classes, cfg.quantize.chip,
                    cfg.model.dt)  # fmt: skip
    with keep_earlier(out, _outputs(out)):
        return _run(cfg, out, splits, backends, log, t0, on_epoch)


def _outputs(out: Path) -> tuple[str, ...]:
    """`OUTPUTS` plus any other PNG an earlier run left (plot names may change between versions)."""
    return tuple(sorted({*OUTPUTS, *(p.name for p in out.glob("*.png"))}))


def _run(cfg: PipelineConfig, out: Path, splits, backends, log, t0: float, on_epoch=None) -> PipelineResult:  # noqa: ANN001
    from xylodeploy.train.checkpoint import load_model
    from xylodeploy.train.loop import train

    log(f"[1/4] train: {len(splits.train)} train / {len(splits.val)} val / {len(splits.test)} test clips")
    q = cfg.quantize
    float_cfg, ft_epochs = cfg, q.finetune_epochs
    if q.exact_training == "all":
        float_cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 1})})
        ft_epochs = cfg.train.epochs - 1 + q.finetune_epochs
    # the run folder belongs to this pipeline
    trained = train(float_cfg, out / "train", data=splits, overwrite=True, on_epoch=on_epoch)
    model, _ = load_model(trained.checkpoint)
    model.eval()
    rule = ReadoutRule.from_training(model.output, cfg.train.loss)
    budget = f", at most {q.finetune_max_minutes:g} min" if q.finetune_max_minutes else ""
    log(f"[2/4] quantize for {q.chip} ({q.method}), exact training {ft_epochs} epoch(s){budget}")
    opts = CompileOptions(method=q.method, headroom_bits=q.headroom_bits, clip_percentile=q.clip_percentile,
                          finetune_epochs=ft_epochs, finetune_lr=q.finetune_lr,
                          finetune_loss=rule.loss_name, finetune_batch_size=q.finetune_batch_size,
                          finetune_max_minutes=q.finetune_max_minutes, progress=cfg.train.progress,
                          readout_pooling=rule.pooling, seed=cfg.seed)  # fmt: skip
    n_ft = len(splits.train) if q.finetune_clips is None else min(q.finetune_clips, len(splits.train))
    dep = compile(
        model, q.chip, opts,
        calibration=splits.train.spikes[:256],
        finetune_data=((splits.train.spikes[:n_ft], splits.train.labels[:n_ft]),
                       (splits.val.spikes, splits.val.labels)),
        source={"checkpoint": str(trained.checkpoint), "sha256": sha256_file(trained.checkpoint)},
    )  # fmt: skip
    cal = dep.quantization.calibration
    if cal is not None:
        log(f"      calibrated: {len(cal.candidates)} candidate specs tried, winner {cal.winner} ({cal.reason})")
    spec_path = out / "model.xylo"
    dep.spec.save(spec_path)
    s = cfg.simulate
    log(f"[3/4] simulate {len(splits.test)} test clips: float, {', '.join(backends)}, exact torch mode")
    with _sharded_reference(s) as shared:
        val = validate(dep.spec, splits.test.spikes, splits.test.labels, model=model, rule=rule,
                       backends=backends, exact_torch=s.exact_clips > 0, device_backends=shared,
                       max_clips={"xylosim": s.xylosim_clips, "exact": s.exact_clips})  # fmt: skip
    log("[4/4] report")
    from xylodeploy.flow.pipeline_report import deployed_stage, write_report

    report_path = write_report(out, cfg, trained, dep, val, model, splits, rule, time.perf_counter() - t0)
    chip_stage = deployed_stage(val)
    return PipelineResult(out, spec_path, report_path, float(val.stages["float"].accuracy),
                          float(val.stages[chip_stage].accuracy), val.ok, dep, val,
                          time.perf_counter() - t0)  # fmt: skip


@contextlib.contextmanager
def _sharded_reference(sim: SimulateSection) -> Iterator[dict]:
    """``{"reference": ShardedBackend}`` when the section asks for workers or a scheduler, else ``{}``."""
    if sim.workers == 1 and not sim.scheduler:
        yield {}
        return
    from xylodeploy.scale.shard import ShardedBackend

    with ShardedBackend("reference", workers=sim.workers, scheduler=sim.scheduler) as backend:
        yield {"reference": backend}


def _available_backends(sim: SimulateSection, log: Callable[[str], None]) -> tuple[str, ...]:
    """The configured simulators that are installed; xylosim is an optional extra and is skipped with a note.

    Raises `ConfigError` when skipping it leaves no integer stage with clips (nothing to report as deployed).
    """
    from xylodeploy._optional import is_available

    names = tuple(sim.backends)
    if "xylosim" in names and not is_available("xylosim"):
        log("      xylosim is not installed (pip install 'xylodeploy[xylosim]'): skipping the xylosim cross-check")
        names = tuple(n for n in names if n != "xylosim")
        if "reference" not in names and sim.exact_clips == 0:
            raise ConfigError("simulate: xylosim is not installed and neither 'reference' nor exact_clips > 0 is "
                              "configured: no integer stage would run (pip install 'xylodeploy[xylosim]')")  # fmt: skip
    return names
