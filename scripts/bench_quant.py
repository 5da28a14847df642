"""Post-training quantisation: ours (`flow.compile`) vs rockpool's ``channel_quantize`` / ``global_quantize``.

Trains one SynNet on the quick-start task (or loads ``--checkpoint``), then quantises the SAME float weights
three ways and runs every spec on the same test clips with the reference backend (bit-exact chip arithmetic):

* ours: ``compile(model, chip, CompileOptions())`` (defaults: the calibrated quantiser; the readout rule and
  fine-tuning loss follow the training loss, as in ``xylodeploy pipeline``), with ``--finetune-epochs N`` also
  exact fine-tuning; ``ours_channel_acc`` is the previous default (method ``channel``, 2 headroom bits);
* rockpool: its mapper's float spec built from our extracted graph (``dash = log2(tau/dt)``), its own
  ``channel_quantize`` / ``global_quantize`` (rockpool is imported only in ``xylodeploy.interop.rockpool``),
  then what ``config_from_specification`` writes to the chip (int8 wrap, hidden biases dropped, ...).

Readout: the quick-start model is read out through its readout membrane (``output='vmem'``, class = argmax
of the mean readout Vmem, rockpool's "Vmem" output mode). Its float readout threshold is rockpool's
``2**15-1``; fed to rockpool's quantisers as is, their threshold-overflow rescaling crushes the readout
weights (reported as ``rockpool_naive_*``). The headline ``rockpool_*_acc`` keeps that threshold out of the
scaling and sets it to the chip maximum afterwards, as a careful rockpool user would.

Then the same (without fine-tuning) on the dense keyword task (``configs/dense_kws.yaml``: synthetic speakers
through the audio front-end, test speakers unseen), reported as the ``dense`` object of the JSON line.

Prints one JSON line last (accuracies in [0, 1], timings in seconds).

    python scripts/bench_quant.py [--checkpoint best.pt] [--out DIR] [--epochs N] [--chip xylo-audio2]
                                  [--finetune-epochs N] [--finetune-clips N] [--clips N]
                                  [--config configs/quickstart.yaml] [--dense-checkpoint best.pt]
                                  [--dense-epochs N] [--dense-config configs/dense_kws.yaml] [--no-dense]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from xylodeploy._optional import is_available
from xylodeploy.backends import get_backend
from xylodeploy.data.dataset import Splits
from xylodeploy.drc import check
from xylodeploy.flow.compile import CompileOptions, Deployment, compile
from xylodeploy.flow.pipeline import PipelineConfig, load_pipeline_config
from xylodeploy.ir.xylospec import XyloSpec
from xylodeploy.readout import ReadoutRule

ROOT = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def float_accuracy(model: Any, x: np.ndarray, y: np.ndarray, rule: ReadoutRule, batch: int = 64) -> float:
    """Accuracy of the float torch model with ``rule`` on the readout trace."""
    import torch

    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(torch.as_tensor(x[i : i + batch], dtype=torch.float32))
            preds.append(rule.predict(out.numpy()))
    return float(np.mean(np.concatenate(preds) == y))


def chip_run(spec: XyloSpec, x: np.ndarray, y: np.ndarray, rule: ReadoutRule) -> dict[str, Any]:
    """Accuracy of ``spec`` on the reference backend, and how often the readout Vmem sits at an int16 limit."""
    backend = get_backend("reference")
    backend.load(spec)
    t0 = time.perf_counter()
    rec = backend.run(x, record=True)
    preds = rule.predict(rule.trace_of(rec.spikes_out, rec.vmem_out))
    vout = rec.vmem_out
    saturated = float(np.mean((vout >= 32767) | (vout <= -32768))) if vout is not None else None
    return {"acc": float(np.mean(preds == y)), "sim_s": time.perf_counter() - t0,
            "readout_vmem_saturated_frac": saturated}  # fmt: skip


def zeroed_fraction(float_spec: dict[str, Any], quantized: dict[str, Any]) -> float:
    """Fraction of nonzero float weights that quantised to 0."""
    lost = total = 0
    for name in ("weights_in", "weights_rec", "weights_out"):
        f = np.asarray(float_spec[name]).reshape(np.shape(quantized[name]))
        total += int(np.sum(f != 0))
        lost += int(np.sum((f != 0) & (np.asarray(quantized[name]) == 0)))
    return lost / max(total, 1)


def ours_zeroed_fraction(dep: Deployment) -> float:
    layers = dep.quantization.layers
    return sum(r.zeroed_weights for r in layers) / max(sum(r.n_weights for r in layers), 1)


def run_rockpool(
    dep: Deployment, chip: str, x: np.ndarray, y: np.ndarray, rule: ReadoutRule, out: Path | None
) -> dict[str, Any]:
    """rockpool's two quantisers on the graph ``dep`` was compiled from; headline and (vmem) naive variants."""
    from xylodeploy.baselines.rockpool_quantizers import (
        ROCKPOOL_QUANTIZERS,
        rockpool_deployed_spec,
        rockpool_float_spec,
        rockpool_quantize,
    )

    fspec = rockpool_float_spec(dep.graph, chip)
    vmem = rule.quantity == "vmem"
    res: dict[str, Any] = {}
    variants = [("", vmem)] + ([("naive_", False)] if vmem else [])
    for prefix, vmem_readout in variants:
        for method in ROCKPOOL_QUANTIZERS:
            key = f"rockpool_{prefix}{method}"
            t0 = time.perf_counter()
            q = rockpool_quantize(fspec, method, chip=chip, vmem_readout=vmem_readout)
            spec, defects = rockpool_deployed_spec(q, fspec, chip)
            res[f"{key}_quantize_s"] = time.perf_counter() - t0
            violations = check(spec, chip)
            defects["design_rule_violations"] = [str(v) for v in violations[:5]] + (
                [f"... {len(violations)} in all"] if len(violations) > 5 else []
            )
            defects["zeroed_weight_frac"] = round(zeroed_fraction(fspec, q), 4)
            defects["max_abs_weight_out"] = int(np.max(np.abs(spec.weights_out)))
            res[f"{key}_defects"] = defects
            if violations:  # samna's validation would refuse it: nothing runs on the chip
                res[f"{key}_acc"] = None
                log(f"{key}: {len(violations)} design-rule violation(s), not deployable: {violations[0]}")
                continue
            r = chip_run(spec, x, y, rule)
            res[f"{key}_acc"], res[f"{key}_sim_s"] = r["acc"], r["sim_s"]
            defects["readout_vmem_saturated_frac"] = r["readout_vmem_saturated_frac"]
            if out is not None:
                spec.save(out / f"{key}.xylo")
            log(f"{key}: acc {r['acc']:.3f}  defects {defects}")
    return res


def get_model(args: argparse.Namespace, cfg: PipelineConfig, splits: Splits, work: Path) -> tuple[Any, float | None]:
    from xylodeploy.train.checkpoint import load_model
    from xylodeploy.train.loop import train

    if args.checkpoint:
        model, _ = load_model(args.checkpoint)
        return model.eval(), None
    t0 = time.perf_counter()
    trained = train(cfg, work / "train", data=splits, overwrite=True, log=log)
    model, _ = load_model(trained.checkpoint)
    return model.eval(), time.perf_counter() - t0


def compile_ours(
    model: Any,
    chip: str,
    rule: ReadoutRule,
    cfg: PipelineConfig,
    splits: Splits,
    epochs: int,
    finetune_clips: int | None = None,
    method: str = "calibrated",
) -> tuple[Deployment, float]:
    opts = CompileOptions(method=method, finetune_epochs=epochs, finetune_loss=rule.loss_name,
                          readout_pooling=rule.pooling, seed=cfg.seed)  # fmt: skip
    clips = cfg.quantize.finetune_clips if finetune_clips is None else finetune_clips
    n_ft = len(splits.train) if clips is None else min(clips, len(splits.train))
    ft_data = ((splits.train.spikes[:n_ft], splits.train.labels[:n_ft]), (splits.val.spikes, splits.val.labels))
    t0 = time.perf_counter()
    dep = compile(model, chip, opts, calibration=splits.train.spikes[:256], finetune_data=ft_data if epochs else None)
    return dep, time.perf_counter() - t0


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    ap.add_argument("--checkpoint", default=None, help="trained checkpoint (best.pt); default: train one")
    ap.add_argument("--out", default=None, help="keep the training run and the specs here (default: temp folder)")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default: the config's)")
    ap.add_argument("--chip", default=None, help="default: the config's quantize.chip")
    ap.add_argument("--finetune-epochs", type=int, default=0, help="also run ours with exact fine-tuning")
    ap.add_argument("--finetune-clips", type=int, default=None, help="default: the config's quantize.finetune_clips")
    ap.add_argument("--clips", type=int, default=None, help="test clips (default: the whole test split)")
    ap.add_argument("--dense-config", default=str(ROOT / "configs" / "dense_kws.yaml"), help="the dense task")
    ap.add_argument("--dense-checkpoint", default=None, help="trained dense checkpoint; default: train one")
    ap.add_argument("--dense-epochs", type=int, default=None, help="dense training epochs (default: the config's)")
    ap.add_argument("--no-dense", action="store_true", help="skip the dense task")
    return ap.parse_args()


def bench_task(args: argparse.Namespace, config: str, checkpoint: str | None, epochs: int | None,
               out: Path | None, finetune_epochs: int) -> dict[str, Any]:  # fmt: skip
    """Float, ours (and ours with fine-tuning), rockpool's quantisers and ours-channel on one task."""
    from xylodeploy.train.data import load_dataset

    t_all = time.perf_counter()
    cfg = load_pipeline_config(config)
    if epochs is not None:
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": epochs})})
    chip = args.chip or cfg.quantize.chip
    t0 = time.perf_counter()
    splits = load_dataset(cfg)
    data_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="bench_quant_") as tmp:
        work = out if out else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        args_task = argparse.Namespace(checkpoint=checkpoint)
        model, train_s = get_model(args_task, cfg, splits, work)
        rule = ReadoutRule.from_training(model.output, cfg.train.loss)
        n = len(splits.test) if args.clips is None else min(args.clips, len(splits.test))
        x, y = splits.test.spikes[:n], splits.test.labels[:n]
        t0 = time.perf_counter()
        res: dict[str, Any] = {"float_acc": float_accuracy(model, x, y, rule)}
        float_s = time.perf_counter() - t0
        dep, ours_s = compile_ours(model, chip, rule, cfg, splits, 0)
        chip_run(dep.spec, x, y, rule)  # warm-up: the first run may JIT-compile the reference kernels
        ours = chip_run(dep.spec, x, y, rule)
        res["ours_acc"] = ours["acc"]
        log(f"{Path(config).name}: float {res['float_acc']:.3f}  ours {ours['acc']:.3f}")
        if dep.quantization.calibration is not None:
            log(dep.quantization.calibration.table())
        chan, _ = compile_ours(model, chip, rule, cfg, splits, 0, method="channel")
        res["ours_channel_acc"] = chip_run(chan.spec, x, y, rule)["acc"]
        rp: dict[str, Any] = {}
        if is_available("rockpool"):
            rp = run_rockpool(dep, chip, x, y, rule, out)
        accs = [rp.get(f"rockpool_{m}_acc") for m in ("channel", "global")]
        res["rockpool_acc"] = max((a for a in accs if a is not None), default=None)
        res["rockpool_channel_acc"], res["rockpool_global_acc"] = accs
        ft_s = None
        if finetune_epochs > 0:
            dep_ft, ft_s = compile_ours(model, chip, rule, cfg, splits, finetune_epochs, args.finetune_clips)
            res["ours_finetuned_acc"] = chip_run(dep_ft.spec, x, y, rule)["acc"]
            log(f"ours + {finetune_epochs} fine-tuning epoch(s): {res['ours_finetuned_acc']:.3f}")
            if out:
                dep_ft.spec.save(out / "ours_finetuned.xylo")
        if out:
            dep.spec.save(out / "ours.xylo")
    q, qc = dep.quantization, chan.quantization
    res.update(
        {k: v for k, v in rp.items() if k.endswith("_acc") and k not in res},
        chip=chip, task=Path(config).name, test_clips=n,
        readout=f"{rule.quantity}/{rule.pooling}", ours_method=q.method,
        ours_weight_shifts=[dep.spec.weight_shift_in, dep.spec.weight_shift_rec, dep.spec.weight_shift_out],
        ours_zeroed_weight_frac=round(ours_zeroed_fraction(dep), 4),
        ours_readout_vmem_saturated_frac=ours["readout_vmem_saturated_frac"],
        ours_readout_weight_smape=round(q.layer(dep.graph.readout).weight_smape, 3),
        ours_readout_weight_snr_db=round(q.layer(dep.graph.readout).weight_snr_db, 2),
        channel_readout_weight_smape=round(qc.layer(chan.graph.readout).weight_smape, 3),
        channel_readout_weight_snr_db=round(qc.layer(chan.graph.readout).weight_snr_db, 2),
        calibration=None if q.calibration is None else {
            "winner": q.calibration.winner, "reason": q.calibration.reason,
            "agreement": {c.name: round(c.agreement, 4) for c in q.calibration.candidates}},
        rockpool_readout_threshold="excluded from scaling, set to chip max" if rule.quantity == "vmem" else "as is",
        rockpool_defects={k[: -len("_defects")]: v for k, v in rp.items() if k.endswith("_defects")},
        finetune_epochs=finetune_epochs, trained=checkpoint is None,
        timings_s={k: None if v is None else round(v, 2) for k, v in {
            "data": data_s, "train": train_s, "float_eval": float_s, "ours_compile": ours_s,
            "ours_sim": ours["sim_s"], "ours_finetune_compile": ft_s,
            **{k[: -len("_s")]: v for k, v in rp.items() if k.endswith("_s")},
            "total": time.perf_counter() - t_all}.items()},
    )  # fmt: skip
    return res


def main() -> None:
    args = _parse()
    warnings.filterwarnings("ignore", category=UserWarning)  # dash/hop-delay notes of the quantisers
    out = Path(args.out) if args.out else None
    res = bench_task(args, args.config, args.checkpoint, args.epochs, out, args.finetune_epochs)
    res.update(benchmark="post_training_quantization", rockpool_version=_rockpool_version(), cpu_count=os.cpu_count())
    if not args.no_dense:
        dense_out = out / "dense" if out else None
        res["dense"] = bench_task(args, args.dense_config, args.dense_checkpoint, args.dense_epochs, dense_out, 0)
        d = res["dense"]
        log(f"dense: float {d['float_acc']:.3f}  ours {d['ours_acc']:.3f}  rockpool {d['rockpool_acc']}")
    print(json.dumps(res))


def _rockpool_version() -> str | None:
    if not is_available("rockpool"):
        return None
    from importlib.metadata import version

    return version("rockpool")


if __name__ == "__main__":
    main()
