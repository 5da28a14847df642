"""``xylodeploy pipeline CONFIG.yaml``: train -> quantize -> fine-tune -> simulate -> report."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("pipeline")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder (default: runs/<config name>).")  # fmt: skip
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override train.epochs.")
@click.option("--chip", default=None, help="Override quantize.chip (xylo-audio2, xylo-imu, xylo-audio3).")
@click.option("--finetune-epochs", type=click.IntRange(min=0), default=None, help="Override quantize.finetune_epochs.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Override train.max_minutes (wall-time budget of float training).")  # fmt: skip
@click.option("--finetune-max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Override quantize.finetune_max_minutes (wall-time budget of exact training).")  # fmt: skip
def command(config: Path, out_dir: Path | None, epochs: int | None, chip: str | None,
            finetune_epochs: int | None, max_minutes: float | None,
            finetune_max_minutes: float | None) -> None:  # fmt: skip
    """Train the network of CONFIG, compile it for its chip, fine-tune it in the chip's exact arithmetic,
    simulate it bit-exactly and write report.json + plots to the run folder."""
    from xylodeploy.flow.pipeline import PipelineConfig, load_pipeline_config, run_pipeline
    from xylodeploy.train.config import config_from_dict

    cfg = load_pipeline_config(config)
    overrides = {("train", "epochs"): epochs, ("quantize", "chip"): chip,
                 ("quantize", "finetune_epochs"): finetune_epochs, ("train", "max_minutes"): max_minutes,
                 ("quantize", "finetune_max_minutes"): finetune_max_minutes}  # fmt: skip
    if any(v is not None for v in overrides.values()):
        raw = cfg.model_dump(mode="json")
        for (section, key), value in overrides.items():
            if value is not None:
                raw[section][key] = value
        cfg = config_from_dict(raw, f"{config} (with command-line overrides)", PipelineConfig)
    out = out_dir or Path("runs") / config.stem
    result = run_pipeline(cfg, out, log=lambda s: click.echo(s, err=True))
    _print_summary(result)


def _print_summary(result) -> None:  # noqa: ANN001 - PipelineResult (lazy import)
    from rich.console import Console
    from rich.table import Table

    val = result.validation
    table = Table(title=f"xylodeploy pipeline: {result.deployment.chip.title}", title_justify="left")
    for col in ("stage", "test accuracy", "clips", "seconds"):
        table.add_column(col)
    for name, st in val.stages.items():
        acc = "-" if st.accuracy is None else f"{100 * st.accuracy:.2f} %"
        table.add_row(name, acc, str(st.n_clips), f"{st.seconds:.1f}")
    console = Console(highlight=False)
    console.print(table)
    for p in val.pairs:
        exact = "" if p.bit_exact is None else ("  bit-exact" if p.bit_exact else "  NOT bit-exact")
        div = f"  [{p.first_divergence}]" if p.first_divergence is not None and p.bit_exact is not None else ""
        console.print(f"{p.a} vs {p.b}: same prediction on {100 * p.prediction_agreement:.1f} % of clips{exact}{div}",
                      markup=False)  # fmt: skip
    console.print(f"deployed - float: {result.delta_pp:+.2f} pp   ({result.seconds:.0f} s in all)", markup=False)
    console.print(f"spec: {result.spec_path}\nreport: {result.report_path}", markup=False)
