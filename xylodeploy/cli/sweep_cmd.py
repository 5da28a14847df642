"""``xylodeploy sweep CONFIG --space SPACE.yaml --trials N``: a multi-objective Optuna search."""

from __future__ import annotations

from pathlib import Path

import click

from xylodeploy.scale.sweep import COSTS


@click.command("sweep")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--space",
    "space",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Search space YAML: dotted config keys -> {float|int: [low, high]} or {choices: [...]}.",
)
@click.option(
    "--trials",
    type=click.IntRange(min=1, max=100_000),
    required=True,
    help="Finished trials (complete or pruned) the study should have in total.",
)
@click.option(
    "--storage",
    default=None,
    metavar="URL",
    help="Optuna storage: an RDB URL (sqlite:///s.db, postgresql://...) or a journal file path "
    "on a shared file system (default: OUT/study.journal).",
)
@click.option("--study", "study", default="xylodeploy-sweep", show_default=True, help="Study name in the storage.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=256),
    default=1,
    show_default=True,
    help="Worker processes on this machine (other machines join with the same --storage/--study).",
)
@click.option(
    "--cost",
    type=click.Choice(COSTS),
    default="synops",
    show_default=True,
    help="The chip cost minimised next to deployed accuracy.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Sweep folder: trials/, front, plot, best.xylo (default: runs/sweep-<config name>).",
)
@click.option("--resume", is_flag=True, help="Continue the study in the storage up to --trials.")
@click.option("--seed", type=int, default=None, help="Sampler seed (single worker).")
def command(config: Path, space: Path, trials: int, storage: str | None, study: str, jobs: int, cost: str,
            out_dir: Path | None, resume: bool, seed: int | None) -> None:  # fmt: skip
    """Search config values for the best deployed accuracy at the lowest chip cost (Pareto front).

    Every trial is a full pipeline run (its own folder and report), scored on the validation split by
    the reference simulator. Writes front.json / front.csv, pareto.png and best.xylo into the sweep folder.
    """
    from xylodeploy.scale.sweep import SweepSettings, run_sweep

    out = out_dir or Path("runs") / f"sweep-{config.stem}"
    settings = SweepSettings(config=config, space=space, out=out, trials=trials, storage=storage, study=study,
                             jobs=jobs, cost=cost, resume=resume, seed=seed)  # fmt: skip
    run_sweep(settings, log=click.echo)
