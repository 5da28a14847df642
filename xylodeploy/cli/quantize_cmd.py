"""``xylodeploy quantize CHECKPOINT --chip CHIP -o model.xylo``: compile a trained checkpoint."""

from __future__ import annotations

from pathlib import Path

import click

from xylodeploy.chips import DEFAULT_CHIP
from xylodeploy.cli._inputs import FiniteFloat


@click.command("quantize")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--chip", default=DEFAULT_CHIP, show_default=True, help="Target chip.")
@click.option("--method", type=click.Choice(["calibrated", "channel", "global"]), default="calibrated",
              show_default=True, help="calibrated: scales from state ranges measured on the data, best of several "
              "candidate specs on the reference simulator; channel: one scale per neuron; global: per "
              "hidden/readout group.")  # fmt: skip
@click.option("--headroom-bits", type=click.IntRange(0, 14), default=2, show_default=True,
              help="channel/global: keep thresholds below int16 >> this many bits.")  # fmt: skip
@click.option("--finetune-epochs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Epochs of fine-tuning in the chip's exact arithmetic.")  # fmt: skip
@click.option("--finetune-lr", type=FiniteFloat(min=0, max=10, min_open=True), default=0.1, show_default=True,
              help="Learning rate of the exact fine-tuning (finite, in (0, 10]).")  # fmt: skip
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Clips (.npz: spikes, labels) for calibration/fine-tuning; default: the checkpoint's dataset.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Spec file to write (.xylo).")  # fmt: skip
def command(checkpoint: Path, chip: str, method: str, headroom_bits: int, finetune_epochs: int, finetune_lr: float,
            data: Path | None, output: Path) -> None:  # fmt: skip
    """Compile CHECKPOINT for CHIP: print the quantisation report and write the spec."""
    import math

    from xylodeploy.chips import get_chip
    from xylodeploy.cli._data import checkpoint_splits, require_run_config
    from xylodeploy.cli._inputs import check_output
    from xylodeploy.errors import ConfigError
    from xylodeploy.flow.compile import CompileOptions, compile
    from xylodeploy.io.files import sha256_file
    from xylodeploy.io.rasters import load_raster_npz
    from xylodeploy.readout import ReadoutRule
    from xylodeploy.train.checkpoint import load_model

    if output.is_dir():
        raise ConfigError(f"-o {output}: is a directory; give the spec file to write (e.g. {output / 'model.xylo'})")
    check_output(output, [checkpoint, data])
    if not math.isfinite(finetune_lr):
        raise ConfigError(f"--finetune-lr {finetune_lr}: expected a finite positive number")
    chip_spec = get_chip(chip)
    model, ckpt = load_model(checkpoint)
    model.eval()
    require_run_config(ckpt)
    rule = ReadoutRule.from_training(model.output, str(ckpt.config.get("train", {}).get("loss", "ce_max")))
    if data is not None:
        x, y = load_raster_npz(data, model.n_channels, model.n_classes)
        train_xy = val_xy = (x, y) if y is not None else None
    else:
        splits = checkpoint_splits(ckpt)
        x = splits.train.spikes
        train_xy, val_xy = (splits.train.spikes, splits.train.labels), (splits.val.spikes, splits.val.labels)
    if finetune_epochs and train_xy is None:
        raise ConfigError(f"--finetune-epochs needs labelled clips: {data} has no 'labels' array")
    opts = CompileOptions(
        method=method,
        headroom_bits=headroom_bits,
        finetune_epochs=finetune_epochs,
        finetune_lr=finetune_lr,
        finetune_loss=rule.loss_name,
        readout_pooling=rule.pooling,
    )
    dep = compile(model, chip_spec, opts, calibration=x[:256], finetune_data=(train_xy, val_xy),
                  source={"checkpoint": str(checkpoint), "sha256": sha256_file(checkpoint)})  # fmt: skip
    from xylodeploy.train.distributed import is_main_process

    if not is_main_process():  # under torchrun the ranks share the fine-tuning; rank 0 reports and writes
        return
    click.echo(dep.quantization.table())
    if dep.finetune is not None:
        ft = dep.finetune
        click.echo(f"exact fine-tuning: validation accuracy {100 * ft.initial_val_accuracy:.2f} % -> "
                   f"{100 * ft.best_val_accuracy:.2f} % (best epoch {ft.best_epoch})")  # fmt: skip
    dep.spec.save(output)
    click.echo(f"wrote {output} ({chip_spec.title}: {dep.spec.n_hidden} hidden, {dep.spec.n_outputs} readout)")
