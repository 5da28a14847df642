"""``xylodeploy validate SPEC``: the same clips through every stage; agreement and first divergence."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("validate")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The float model (checkpoint) the spec was compiled from: adds the float stage.",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Clips (.npz: spikes, optional labels); default: the checkpoint's test split.",
)
@click.option("--device", type=click.Choice(["xylosim", "board"]), default="xylosim", show_default=True,
              help="The device compared with the reference simulator.")  # fmt: skip
@click.option("--max-clips", type=click.IntRange(min=1), default=None, help="Use only the first N clips.")
@click.option("--device-clips", type=click.IntRange(min=1), default=64, show_default=True,
              help="Clips run on the (slow) device.")  # fmt: skip
@click.option("--neurobench", type=click.Path(dir_okay=False, path_type=Path), default=None, expose_value=False,
              callback=lambda ctx, _p, v: ctx.meta.__setitem__("xylodeploy.neurobench", v),
              help="Also write NeuroBench-style metrics in NeuroBench's result layout to this JSON file.")  # fmt: skip
@click.option("--no-exact", is_flag=True, help="Skip the exact torch mode stage.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Local processes that share the reference simulator's clips (identical results).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Dask distributed scheduler whose workers run the reference simulator's clips.",
)
@click.option("--no-check", is_flag=True, help="Skip the design-rule check of SPEC (not with --device board).")
def command(spec_path: Path, checkpoint: Path | None, data: Path | None, device: str, max_clips: int | None,
            device_clips: int, no_exact: bool, as_json: bool, workers: int, scheduler: str | None,
            no_check: bool) -> None:  # fmt: skip
    """Run SPEC's clips through float model, exact torch mode, reference and DEVICE and compare them.

    Exits 1 when two integer stages are not bit-exact."""
    from xylodeploy.cli._data import clips
    from xylodeploy.cli._inputs import load_checked_spec
    from xylodeploy.flow.validate import validate

    spec = load_checked_spec(spec_path, no_check and device != "board")
    model = ckpt = None
    if checkpoint is not None:
        from xylodeploy.train.checkpoint import load_model

        model, ckpt = load_model(checkpoint)
        _check_model_fits(checkpoint, model, spec_path, spec)
    x, y = clips(data, spec.n_inputs, ckpt, n_classes=spec.n_outputs)
    if max_clips:
        x, y = x[:max_clips], None if y is None else y[:max_clips]
    devices = {}
    if workers > 1 or scheduler:
        from xylodeploy.scale.shard import ShardedBackend

        devices["reference"] = ShardedBackend("reference", workers=workers, scheduler=scheduler)
    if device == "board":
        from xylodeploy.backends.samna.backend import SamnaBackend

        devices["board"] = SamnaBackend(chip=spec.chip)
    report = validate(spec, x, y, model=model, backends=("reference", device), exact_torch=not no_exact,
                      max_clips={device: device_clips, "exact": device_clips}, device_backends=devices)  # fmt: skip
    nb_path = click.get_current_context().meta.get("xylodeploy.neurobench")
    metrics = _metrics(spec, x, report, nb_path) if (as_json or nb_path) else None  # with --json: key "metrics"
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "metrics": metrics}, indent=2))
    else:
        _print(report)
    raise SystemExit(0 if report.ok else 1)


def _metrics(spec, x, report, nb_path: Path | None) -> dict:  # noqa: ANN001
    """Metrics of the reference run (`xylodeploy.flow.metrics`); optionally written in NeuroBench's layout."""
    from xylodeploy.flow.metrics import metrics_from_reference

    m = metrics_from_reference(spec, x)
    st = report.stages.get("reference")
    nb = m.neurobench(None if st is None else st.accuracy)
    if nb_path is not None:
        from xylodeploy.power.measure import save_json

        save_json(nb, nb_path)
    return {**m.to_dict(), "neurobench": nb}


def _check_model_fits(checkpoint: Path, model: object, spec_path: Path, spec: object) -> None:
    """The checkpoint must be the model the spec was compiled from: same inputs and classes."""
    from xylodeploy.errors import ConfigError

    for what, ours, theirs in (("input channels", "n_channels", "n_inputs"), ("classes", "n_classes", "n_outputs")):
        a, b = getattr(model, ours, None), getattr(spec, theirs)
        if a is not None and a != b:
            raise ConfigError(f"--checkpoint {checkpoint}: model has {a} {what}, spec {spec_path} has {b}: "
                              "not the model this spec was compiled from")  # fmt: skip


def _print(report) -> None:  # noqa: ANN001
    for name, st in report.stages.items():
        acc = "" if st.accuracy is None else f"accuracy {100 * st.accuracy:.2f} %, "
        click.echo(f"{name:<10} {acc}{st.n_clips} clips, {st.seconds:.1f} s")
    for p in report.pairs:
        state = {None: "", True: ", bit-exact", False: ", NOT bit-exact"}[p.bit_exact]
        click.echo(f"{p.a} vs {p.b}: same prediction on {100 * p.prediction_agreement:.1f} % of clips{state}")
        if p.first_divergence is not None:
            click.echo(f"  {p.first_divergence}")
    if report.saturation_steps:
        click.echo(f"exact torch mode: {report.saturation_steps} neuron-step(s) flagged for per-event saturation")
    click.echo("OK: every integer stage agrees bit for bit" if report.ok else "FAILED: integer stages disagree")
