"""`compile(model, chip, options) -> Deployment`: a trained torch network becomes a chip spec.

One linear function, one line per stage (docs/architecture.md)::

    graph  = extract(model)                                  # torch -> NetworkGraph (float IR)
    tq     = quantize_time_constants(graph, chip)            # tau -> nearest bit-shift dash
    qgraph = quantize_weights(tq, method=..., ...)           # int8 weights, shifts, thresholds, biases
                                                             # (calibrated: candidates vs the float model)
    spec   = map_to_spec(qgraph)                             # XyloSpec + every design rule
    spec   = finetune_exact(spec, data)                      # optional: training in the chip's arithmetic

Each stage is recorded (name, settings, seconds) in ``Deployment.stages`` and in
``spec.provenance["stages"]``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from xylodeploy import __version__
from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.drc import assert_valid
from xylodeploy.errors import ConfigError, QuantizationError
from xylodeploy.ir.graph import NetworkGraph
from xylodeploy.ir.xylospec import XyloSpec
from xylodeploy.mapping import map_to_spec
from xylodeploy.quantize import QuantizationReport, QuantizedGraph, quantize_time_constants, quantize_weights
from xylodeploy.readout import ReadoutRule


@dataclass(frozen=True)
class CompileOptions:
    """Settings of `compile` (all stages). ``finetune_epochs = 0`` skips exact fine-tuning."""

    method: Literal["calibrated", "global", "channel"] = "calibrated"  # calibrated needs calibration clips
    headroom_bits: int = 2  # global / channel only
    clip_percentile: float = 100.0
    vmem_percentile: float = 99.9  # of calibration |readout vmem|, for output='vmem' models
    calibration_percentile: float = 99.99  # of calibration states, for the calibrated method
    finetune_epochs: int = 0
    finetune_lr: float = 0.1
    finetune_loss: Literal["ce_max", "ce_mean", "ce_count"] | None = None  # None: the readout rule's loss
    finetune_batch_size: int = 32
    finetune_max_minutes: float | None = None  # wall-time budget of fine-tuning (None: unlimited)
    readout_pooling: Literal["max", "mean", "count"] | None = None  # None: mean for vmem (ce_mean), count for spikes
    progress: bool = True  # progress bar during fine-tuning
    seed: int = 0


@dataclass(frozen=True)
class Stage:
    """One stage that ran: its name, its settings and its wall time."""

    name: str
    settings: dict[str, Any]
    seconds: float


@dataclass(frozen=True)
class Deployment:
    """Everything `compile` produced: the spec, the IRs on the way, the reports, the stages."""

    spec: XyloSpec
    chip: ChipSpec
    graph: NetworkGraph
    qgraph: QuantizedGraph
    quantization: QuantizationReport
    stages: tuple[Stage, ...]
    finetune: Any = None  # FinetuneReport when fine-tuning ran
    readout_mode: str = "spikes"
    extra: dict[str, Any] = field(default_factory=dict)


class _Stages:
    """Runs stages and records them."""

    def __init__(self) -> None:
        self.done: list[Stage] = []

    def __call__(self, name: str, settings: dict[str, Any], fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args, **kw)
        self.done.append(Stage(name, settings, time.perf_counter() - t0))
        return out


def readout_scale(qgraph: QuantizedGraph, readout: str) -> float:
    """Chip state LSB per float state unit of the ``readout`` population (mean over its neurons)."""
    scale = qgraph.population(readout).scale
    return float(np.mean(scale)) if scale is not None else 1.0


def readout_vmem_range(model: Any, calibration: Any, percentile: float) -> float:
    """The ``percentile`` of ``|readout vmem|`` of the float ``model`` over calibration clips."""
    import torch

    x = torch.as_tensor(np.asarray(calibration), dtype=torch.float32)
    if x.ndim != 3 or len(x) == 0:
        raise ConfigError(f"calibration data: expected (N, T, C) clips, got shape {tuple(x.shape)}")
    if x.shape[2] != getattr(model, "n_channels", x.shape[2]):
        raise ConfigError(f"calibration data: {x.shape[2]} channels, the model has {model.n_channels}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            vmem = model.record(x).readout.vmem.abs().flatten().numpy()
    finally:
        model.train(was_training)
    value = float(np.percentile(vmem, percentile)) if vmem.size else 0.0
    return value if value > 0 else 1.0


def compile(  # noqa: A001 - the pipeline stage is called compile
    model: Any,
    chip: str | ChipSpec,
    options: CompileOptions | None = None,
    *,
    calibration: Any = None,
    finetune_data: tuple[Any, Any] | None = None,
    source: dict[str, Any] | None = None,
) -> Deployment:
    """Compile a trained model for ``chip``: extract -> quantize τ -> quantize weights -> map -> check.

    Args:
        model: a trained `SynNet` or supported ``nn.Sequential`` (see `xylodeploy.extract`).
        chip: chip name or `ChipSpec`.
        options: `CompileOptions`.
        calibration: (N, T, C) clips; needed for models read out through their membrane (``output='vmem'``)
            to choose the readout scale, and by the ``calibrated`` method (without clips it falls back
            to ``channel`` with a `CalibrationWarning`).
        finetune_data: ``(train, val)`` data for exact fine-tuning (each an ``(x, y)`` pair or batches);
            required when ``options.finetune_epochs > 0``.
        source: provenance of the model (e.g. checkpoint path and sha256), stored in the spec.
    """
    from xylodeploy.extract import extract

    opts, chip_spec, run = options or CompileOptions(), get_chip(chip), _Stages()
    mode = getattr(model, "output", "spikes")
    rule = ReadoutRule(mode, opts.readout_pooling or ("mean" if mode == "vmem" else "count"))
    vrange = None
    if mode == "vmem":
        if calibration is None:
            raise QuantizationError("a model with output='vmem' needs calibration clips to scale its readout")
        vrange = run("calibrate", {"percentile": opts.vmem_percentile}, readout_vmem_range, model, calibration,
                     opts.vmem_percentile)  # fmt: skip
    graph = run("extract", {"model": type(model).__name__}, extract, model)
    tq = run("quantize_time_constants", {"chip": chip_spec.name}, quantize_time_constants, graph, chip_spec)
    qgraph = _quantize_weights(run, model, tq, chip_spec, opts, rule, calibration, vrange)
    spec = run("map", {"chip": chip_spec.name}, map_to_spec, qgraph, chip_spec)
    ft = None
    if opts.finetune_epochs > 0:
        scale = readout_scale(qgraph, graph.readout) if mode == "vmem" else None
        settings = _ft_settings(opts, rule)
        spec, ft = run("finetune_exact", settings, _finetune, spec, finetune_data, settings, mode, scale, opts.progress)
    run("check", {}, assert_valid, spec)
    spec = spec.replace(provenance=_provenance(spec, run.done, source, rule))
    return Deployment(spec, chip_spec, graph, qgraph, qgraph.report, tuple(run.done), ft, mode)


class CalibrationWarning(UserWarning):
    """The calibrated quantiser could not run (no calibration clips); another method was used."""


def _quantize_weights(run: _Stages, model: Any, tq: Any, chip: ChipSpec, opts: CompileOptions, rule: ReadoutRule,
                      calibration: Any, vrange: float | None) -> QuantizedGraph:  # fmt: skip
    """The weight stage: the calibrated search, or one `quantize_weights` call for global / channel."""
    method = opts.method
    if method == "calibrated" and calibration is None:
        warnings.warn("no calibration clips: the calibrated quantiser falls back to method 'channel'",
                      CalibrationWarning, stacklevel=3)  # fmt: skip
        method = "channel"
    if method == "calibrated":
        from xylodeploy.flow.calibrate import calibrated_quantize

        settings = {"method": method, "percentile": opts.calibration_percentile, "readout_vmem_range": vrange}
        return run("quantize_weights", settings, calibrated_quantize, model, tq, chip, calibration, rule,
                   percentile=opts.calibration_percentile, vmem_range=vrange)  # fmt: skip
    wsettings = {"method": method, "headroom_bits": opts.headroom_bits, "clip_percentile": opts.clip_percentile,
                 "readout_vmem_range": vrange}  # fmt: skip
    return run("quantize_weights", wsettings, quantize_weights, tq, chip, **wsettings)


def _ft_settings(opts: CompileOptions, rule: ReadoutRule) -> dict[str, Any]:
    return {"epochs": opts.finetune_epochs, "lr": opts.finetune_lr, "loss": opts.finetune_loss or rule.loss_name,
            "batch_size": opts.finetune_batch_size, "seed": opts.seed,
            "max_minutes": opts.finetune_max_minutes}  # fmt: skip


def _finetune(
    spec: XyloSpec,
    data: tuple[Any, Any] | None,
    settings: dict[str, Any],
    mode: str,
    scale: float | None,
    progress: bool,
) -> tuple[XyloSpec, Any]:
    from xylodeploy.train.finetune import finetune_exact

    if data is None:
        raise ConfigError("finetune_epochs > 0 needs finetune_data=(train, val)")
    train, val = data
    return finetune_exact(spec, train, val, readout=mode, logit_scale=scale, progress=progress, **settings)


def _provenance(
    spec: XyloSpec, stages: list[Stage], source: dict[str, Any] | None, rule: ReadoutRule
) -> dict[str, Any]:
    prov = dict(spec.provenance)
    prov.update(
        xylodeploy_version=__version__,
        readout_mode=rule.quantity,
        readout_rule={"quantity": rule.quantity, "pooling": rule.pooling},
        stages=[_jsonable(asdict(s)) for s in stages],
        source=dict(source or {}),
    )
    return prov


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)
