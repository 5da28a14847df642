"""``xylodeploy simulate SPEC --input RASTER.npz``: run a spec on rasters with a simulator backend."""

from __future__ import annotations

import contextlib

import click
import numpy as np

from xylodeploy.backends import Recording, get_backend
from xylodeploy.chips import get_chip
from xylodeploy.cli._inputs import check_output, load_checked_spec, no_check_option
from xylodeploy.drc import check
from xylodeploy.errors import ConfigError
from xylodeploy.io.rasters import load_raster_npz, save_npz
from xylodeploy.ir import XyloSpec
from xylodeploy.readout import ReadoutRule, silent_clips
from xylodeploy.scale.shard import DEFAULT_CHUNK, ShardedBackend, check_plan, concat_recordings
from xylodeploy.scale.stream import NpzStreamWriter

SIM_BACKENDS: tuple[str, ...] = ("reference", "exact", "xylosim", "null")
MAX_LISTED_CLIPS = 20


def predict(rec: Recording, rule: ReadoutRule) -> np.ndarray:
    """Predicted class per clip by the spec's readout rule (B,), exactly as ``validate`` predicts.

    Ties go to the lowest index, so a clip with no output spike under a spike readout predicts class 0
    (`xylodeploy.readout`). A Vmem readout needs the recorded ``vmem_out``.
    """
    return rule.predict(rule.trace_of(rec.spikes_out, rec.vmem_out))


def _run(spec: XyloSpec, spikes: np.ndarray, backend_name: str, record: bool) -> Recording:
    if backend_name not in SIM_BACKENDS:
        raise ConfigError(f"--backend: unknown simulator '{backend_name}', expected one of {', '.join(SIM_BACKENDS)}")
    backend = get_backend(backend_name)
    backend.load(spec)
    return backend.run(spikes, record=record)


def _run_sharded(
    spec: XyloSpec,
    spikes: np.ndarray,
    labels: np.ndarray | None,
    backend_name: str,
    record: bool,
    rule: ReadoutRule,
    output_path: str | None,
    sim: ShardedBackend,
) -> Recording:
    """Run shards on workers; stream every shard to ``output_path``; keep only the readout for the summary."""
    if backend_name not in SIM_BACKENDS:
        raise ConfigError(f"--backend: unknown simulator '{backend_name}', expected one of {', '.join(SIM_BACKENDS)}")
    kept: list[tuple[slice, Recording]] = []
    with sim, contextlib.ExitStack() as stack:
        writer = stack.enter_context(NpzStreamWriter(output_path, len(spikes))) if output_path else None
        sim.load(spec)
        for clips, rec in sim.iter_shards(spikes, record or rule.needs_state):
            kept.append((clips, Recording(spikes_out=rec.spikes_out, vmem_out=rec.vmem_out)))
            if writer is not None:
                fields = rec.fields() if record else {"spikes_out": rec.spikes_out}
                writer.write(clips, {**fields, "prediction": predict(rec, rule)})
                if labels is not None:
                    writer.write(clips, {"labels": labels[clips]})
    if output_path:
        click.echo(f"wrote {output_path} (streamed in {len(kept)} shards)")
    return concat_recordings([r for _, r in sorted(kept, key=lambda item: item[0].start)])


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
    silent = int(np.count_nonzero(silent_clips(rec.spikes_out)))
    if silent and rule.quantity == "spikes":
        lines.append(f"{silent} clip(s) produced no output spike (predicted class 0, the lowest index on ties)")
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
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Local worker processes that share the clips (one core each); results are identical.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Dask distributed scheduler (e.g. tcp://host:8786) whose workers run the clips.",
)
@click.option(
    "--chunk-clips",
    type=int,
    default=DEFAULT_CHUNK,
    show_default=True,
    help="Clips per shard (with --workers/--scheduler; --output is streamed to disk shard by shard).",
)
@no_check_option
def command(spec_path: str, input_path: str | None, backend_name: str, record: bool, output_path: str | None,
            workers: int, scheduler: str | None, chunk_clips: int, no_check: bool) -> None:  # fmt: skip
    """Simulate SPEC (a .xylo file) on the rasters of --input and print a summary."""  # noqa: D401
    check_plan(workers, scheduler, chunk_clips)
    if not input_path:
        raise ConfigError("--input RASTER.npz is required")
    if output_path:
        check_output(output_path, [spec_path, input_path], option="--output")
    spec = load_checked_spec(spec_path, no_check)
    spikes, labels = load_raster_npz(input_path, n_inputs=spec.n_inputs, n_classes=spec.n_outputs)
    for line in _warnings(spec, spikes):
        click.echo(f"warning: {line}", err=True)
    rule = ReadoutRule.from_spec(spec)
    if workers > 1 or scheduler:
        rec = _run_sharded(
            spec,
            spikes,
            labels,
            backend_name,
            record,
            rule,
            output_path,
            ShardedBackend(backend_name, workers=workers, scheduler=scheduler, chunk=chunk_clips),
        )
        output_path = None  # streamed already
    else:
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
