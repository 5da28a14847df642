"""``xylodeploy power SPEC``: measure power on a board, or (default) print a labelled cycle-model estimate."""

from __future__ import annotations

from pathlib import Path

import click

from xylodeploy.cli import deploy_cmd
from xylodeploy.cli._inputs import FiniteFloat, check_output, load_checked_spec, no_check_option
from xylodeploy.errors import ConfigError
from xylodeploy.io.rasters import load_raster_npz
from xylodeploy.power.estimate import Estimate, estimate_from_activity
from xylodeploy.power.measure import PowerReport, measure_power, save_json, save_report


def _estimate_lines(e: Estimate) -> list[str]:
    lines = [e.label, f"chip {e.chip}, dt {e.dt * 1e3:g} ms, chip clock {e.clock_hz / 1e6:g} MHz"]
    if e.cycles_mean is not None:
        lines.append(f"activity on the reference simulator: input {e.p_in:.3f}, hidden {e.p_hid:.3f} (fraction active)")
        lines.append(f"estimated cycles/step: mean {e.cycles_mean:,.0f}, busiest step {e.cycles_peak_step:,.0f}")
        lines.append(
            f"estimated minimum clock for real time: {e.min_clock_hz_peak / 1e6:.3g} MHz "
            f"(margin x{e.margin_peak:.2f} vs {e.clock_hz / 1e6:g} MHz)"
        )
    else:
        lines.append("no --data: worst case only")
    lines.append(
        f"estimated worst case: {e.cycles_worst:,.0f} cycles/step -> {e.min_clock_hz_worst / 1e6:.3g} MHz "
        f"(margin x{e.margin_worst:.2f})"
    )
    return lines


def _measure_lines(r: PowerReport) -> list[str]:
    lines = [f"{r.label}: {r.chip} board {r.board}, clock {r.clock_hz / 1e6:g} MHz, dt {r.dt * 1e3:g} ms, {r.mode}"]
    for rail in r.idle:
        a, i = r.active[rail], r.idle[rail]
        lines.append(
            f"{rail}: idle {i.mean_w * 1e6:.2f} µW (n={i.n}), active {a.mean_w * 1e6:.2f} µW (n={a.n}), "
            f"dynamic {r.dynamic_w[rail] * 1e6:.2f} µW"
        )
    lines.append(
        f"{r.n_inferences} inferences, latency {r.latency_s * 1e3:.2f} ms, energy/inference "
        f"{r.energy_per_inference_j * 1e6:.3f} µJ (dynamic {r.dynamic_energy_per_inference_j * 1e6:.3f} µJ)"
    )
    return lines


@click.command("power")
@click.argument("spec_path", metavar="SPEC")
@click.option("--data", "data_path", metavar="DATA.npz", help="Clips ('spikes' (N,T,C)) that set the activity.")
@click.option("--device", type=click.Choice(["estimate", "board"]), default="estimate", show_default=True)
@click.option("--out", "out_dir", metavar="DIR", help="Write power.json (+ power.png on a board) / estimate.json.")
@click.option("--realtime", is_flag=True, help="Board: measure in real-time mode instead of accelerated time.")
@click.option("--idle-s", type=FiniteFloat(0.01, 3600), default=2.0, show_default=True,
              help="Board: seconds of idle sampling.")  # fmt: skip
@click.option("--active-s", type=FiniteFloat(0.01, 3600), default=2.0, show_default=True,
              help="Board: minimum seconds of active sampling.")  # fmt: skip
@no_check_option
def command(
    spec_path: str, data_path: str | None, device: str, out_dir: str | None, realtime: bool, idle_s: float,
    active_s: float, no_check: bool,
) -> None:  # fmt: skip
    """Board power per rail (idle, active, dynamic, energy/inference) or, without a board, an ESTIMATE."""
    if out_dir:
        check_output(out_dir, [spec_path, data_path], option="--out", folder=True)
    spec = load_checked_spec(spec_path, no_check and device != "board")
    spikes = load_raster_npz(data_path, spec.n_inputs, spec.n_outputs)[0] if data_path else None
    if device == "estimate":
        from xylodeploy.power.energy import energy_lines, estimate_energy

        est = estimate_from_activity(spec, spikes)
        energy = estimate_energy(est, spikes.shape[1] if spikes is not None else round(1.0 / spec.dt))
        for line in _estimate_lines(est) + energy_lines(energy):
            click.echo(line)
        if out_dir:
            doc = {**est.to_dict(), "energy": energy.to_dict()}
            click.echo(f"wrote {save_json(doc, Path(out_dir) / 'estimate.json')}")
        return
    if spikes is None:
        raise ConfigError("--device board needs --data DATA.npz (the clips to run while measuring)")
    board = deploy_cmd.open_board(spec.chip)
    try:
        board.load(spec)
        report = measure_power(board, spikes, idle_s=idle_s, active_s=active_s, realtime=realtime)
    finally:
        board.close()
    for line in _measure_lines(report):
        click.echo(line)
    if out_dir:
        paths = save_report(report, out_dir)
        click.echo(f"wrote {paths[0]} and {paths[1]}")
