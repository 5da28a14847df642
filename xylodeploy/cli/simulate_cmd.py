"""``xylodeploy simulate SPEC --input RASTER.npz``: run a spec on rasters with a simulator backend."""

from __future__ import annotations

import click
import numpy as np

from xylodeploy.backends import Recording, get_backend
from xylodeploy.chips import get_chip
from xylodeploy.cli._inputs import check_output, load_checked_spec, no_check_option
from xylodeploy.drc import check
from xylodeploy.errors import ConfigError
from xylodeploy.ir import XyloSpec
from xylodeploy.rasters import load_raster_npz, save_npz
from xylodeploy.readout import ReadoutRule

SIM_BACKENDS: tuple[str, ...] = ("reference", "xylosim", "null")
MAX_LISTED_CLIPS = 20


def predict(rec: Recording, rule: ReadoutRule) -> np.ndarray:
    """Predicted class per clip by the spec's readout rule (B,).

    Ties go to the lowest index; with a spike readout, a clip with no output spike at all predicts -1
    (never correct). A Vmem readout needs the recorded ``vmem_out``.
    """
    pred = rule.predict(rule.trace_of(rec.spikes_out, rec.vmem_out))
    if rule.quantity == "spikes":
        silent = rec.spikes_out.astype(np.int64).sum(axis=(1, 2)) == 0
        pred = np.where(silent, -1, pred)
    return pred


def _run(spec: XyloSpec, spikes: np.ndarray, backend_name: str, record: bool) -> Recording:
    if backend_name not in SIM_BACKENDS:
        raise ConfigError(f"--backend: unknown simulator '{backend_name}', expected one of {', '.join(SIM_BACKENDS)}")
    backend = get_backend(backend_name)
    backend.load(spec)
    return backend.run(spikes, record=record)


def _warnings(spec: XyloSpec, spikes: np.ndarray) -> list[str]:
    out = []
    n_violations = len(check(spec))
    if n_violations:
        out.append(f"{n_violations} design-rule violation(s) on {spec.chip}: see `xylodeploy inspect`")
    cap = get_chip(spec.chip).max_input_events
    if spikes.max() > cap:
        out.append(f"input counts up to {spikes.max()} are clamped to {cap} events per channel and step by the chip")
    return out


def summary_lines(rec: Recording, labels: np.ndarray | None, rule: ReadoutRule) -> list[str]:
    """Per-clip output spike counts and prediction (by ``rule``), and the accuracy if labels are given."""
    counts = rec.spikes_out.astype(np.int64).sum(axis=1)
    pred = predict(rec, rule)
    lines = []
    for b in range(min(len(counts), MAX_LISTED_CLIPS)):
        label = f"  label {labels[b]}" if labels is not None else ""
        lines.append(f"clip {b}: output spikes {counts[b].tolist()}  prediction {pred[b]}{label}")
    if len(counts) > MAX_LISTED_CLIPS:
        lines.append(f"... {len(counts) - MAX_LISTED_CLIPS} more clips (see --output)")
    silent = int(np.count_nonzero(pred < 0))
    if silent:
        lines.append(f"{silent} clip(s) produced no output spike (prediction -1)")
    if labels is not None:
        correct = int(np.count_nonzero(pred == labels))
        lines.append(f"accuracy: {correct}/{len(labels)} = {100.0 * correct / len(labels):.2f}%")
    return lines


@click.command("simulate")
@click.argument("spec_path", metavar="SPEC")
@click.option(
    "--input",
    "-i",
    "input_path",
    metavar="RASTER.npz",
    help="Input rasters: key 'spikes' (N,T,C) or (T,C) event counts, optional 'labels' (N,).",
)
@click.option(
    "--backend",
    "-b",
    "backend_name",
    default="reference",
    show_default=True,
    help=f"Simulator: {', '.join(SIM_BACKENDS)}.",
)
@click.option("--record", is_flag=True, help="Also record every hidden and readout state.")
@click.option(
    "--output", "-o", "output_path", metavar="OUT.npz", help="Write spikes_out, prediction (and states with --record)."
)
@no_check_option
def command(
    spec_path: str, input_path: str | None, backend_name: str, record: bool, output_path: str | None, no_check: bool
) -> None:
    """Simulate SPEC (a .xylo file) on the rasters of --input and print a summary."""  # noqa: D401
    if not input_path:
        raise ConfigError("--input RASTER.npz is required")
    if output_path:
        check_output(output_path, [spec_path, input_path], option="--output")
    spec = load_checked_spec(spec_path, no_check)
    spikes, labels = load_raster_npz(input_path, n_inputs=spec.n_inputs, n_classes=spec.n_outputs)
    for line in _warnings(spec, spikes):
        click.echo(f"warning: {line}", err=True)
    rule = ReadoutRule.from_spec(spec)
    rec = _run(spec, spikes, backend_name, record or rule.needs_state)
    n_b, n_t = rec.spikes_out.shape[:2]
    click.echo(f"simulated {n_b} clip(s) x {n_t} steps on the {backend_name} backend ({spec_path}, {spec.chip})")
    click.echo(f"prediction: argmax of the readout {rule.quantity} pooled by {rule.pooling} over time")
    for line in summary_lines(rec, labels, rule):
        click.echo(line)
    if output_path:
        fields = rec.fields() if record else {"spikes_out": rec.spikes_out}
        arrays = {**fields, "prediction": predict(rec, rule)}
        if labels is not None:
            arrays["labels"] = labels
        save_npz(output_path, **arrays)
        click.echo(f"wrote {output_path} ({', '.join(arrays)})")
