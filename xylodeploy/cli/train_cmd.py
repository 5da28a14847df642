"""`xylodeploy train CONFIG.yaml`: train a model from a run config."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("train")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Output folder for checkpoints (default: runs/<config name>).",
)  # fmt: skip
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override train.epochs.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt with its optimizer state.")
@click.option("--force", is_flag=True, help="Start afresh even if OUT already holds a run (overwrites it).")
@click.option("--seed", type=int, default=None, help="Override the run seed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or per-epoch lines.")
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Data-parallel processes on this machine (runs torchrun; same global batch, same result).",
)
def command(
    config: Path,
    out_dir: Path | None,
    epochs: int | None,
    resume: bool,
    force: bool,
    seed: int | None,
    quiet: bool,
    nproc: int,
) -> None:
    """Train the model described by CONFIG (YAML) and write best.pt / last.pt checkpoints.

    Data-parallel: ``--nproc N``, or ``torchrun --nproc-per-node N -m xylodeploy train CONFIG`` (also across
    machines with torchrun's --nnodes / --rdzv-endpoint); rank 0 writes the checkpoints."""
    if nproc > 1:
        raise SystemExit(_launch(nproc, config, out_dir, epochs, resume, force, seed, quiet))
    from pydantic import ValidationError

    from xylodeploy.cli._inputs import writable_dir
    from xylodeploy.flow.pipeline import load_pipeline_config
    from xylodeploy.io.files import keep_earlier
    from xylodeploy.train.config import config_error
    from xylodeploy.train.loop import BEST, LAST, RUN_CONFIG_HEADER, run_config_path, train

    cfg = load_pipeline_config(config)  # a pipeline config is a run config plus sections train ignores
    try:  # validate_assignment: an override is checked like the file's own keys
        if epochs is not None:
            cfg.train.epochs = epochs
        if seed is not None:
            cfg.seed = seed
    except ValidationError as exc:
        raise config_error(exc, f"{config} (with command-line overrides)", type(cfg)) from None
    if quiet:
        cfg.train.progress = False
    from xylodeploy.train.distributed import is_main_process

    echo = click.echo if is_main_process() else (lambda *a, **k: None)
    out = out_dir or Path("runs") / config.stem
    writable_dir(out, "--out")
    echo(f"training {cfg.model.name} on {cfg.data.kind} data -> {out}" + (" (resuming)" if resume else ""))
    ours = run_config_path(out).name == "config.yaml" and RUN_CONFIG_HEADER  # the user's own config is never moved
    names = (BEST, LAST, "metrics.json", *(("config.yaml",) if ours else ())) if force and not resume else ()
    with keep_earlier(out, names):  # a failed run leaves an earlier run's files as they were
        result = train(cfg, out, resume=resume, overwrite=force, log=None if not quiet else (lambda s: None))
    echo(
        f"done in {result.seconds:.1f}s, {result.epochs_run} epochs"
        + (" (early stop)" if result.stopped_early else "")
        + f": best val acc {result.best_val_acc:.1%} (epoch {result.best_epoch + 1}), "
        f"test acc {result.test_acc:.1%}"
    )
    echo(f"checkpoint: {result.checkpoint}")


def _launch(nproc: int, config: Path, out_dir: Path | None, epochs: int | None, resume: bool, force: bool,
            seed: int | None, quiet: bool) -> int:  # fmt: skip
    """Run this command again under torchrun on ``nproc`` local processes; return its exit code."""
    import subprocess

    from xylodeploy.train.distributed import launch_command

    args = ["train", str(config)]
    for flag, value in (("--out", out_dir), ("--epochs", epochs), ("--seed", seed)):
        if value is not None:
            args += [flag, str(value)]
    args += [flag for flag, on in (("--resume", resume), ("--force", force), ("--quiet", quiet)) if on]
    click.echo(f"launching {nproc} data-parallel processes (torchrun)")
    return subprocess.run(launch_command(nproc, args), check=False).returncode
