"""``xylodeploy deploy SPEC --device board|xylosim|reference``: load a spec on a device and run clips."""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from xylodeploy.backends import Recording, get_backend
from xylodeploy.chips import get_chip
from xylodeploy.cli._inputs import load_checked_spec, no_check_option
from xylodeploy.cli.simulate_cmd import summary_lines
from xylodeploy.errors import ConfigError
from xylodeploy.io.rasters import load_raster_npz
from xylodeploy.ir import XyloSpec
from xylodeploy.readout import ReadoutRule

DEVICES: tuple[str, ...] = ("board", "xylosim", "reference")


def open_board(chip: str) -> Any:
    """The first attached board of ``chip`` as a `SamnaBackend` (tests replace this function)."""
    from xylodeploy.backends.samna.backend import SamnaBackend

    return SamnaBackend(chip=chip)


def _board_line(board: Any, spec: XyloSpec) -> str:
    return (
        f"loaded on {board.board.describe()}: core clock {board.clock_hz / 1e6:g} MHz, "
        f"dt {spec.dt * 1e3:g} ms, accelerated-time mode for clips"
    )


def _stream(board: Any, spikes: np.ndarray | None) -> None:
    frames = None if spikes is None else (f for clip in spikes for f in clip)
    click.echo("real-time mode: streaming (Ctrl-C to stop)")
    total, steps = None, 0
    try:
        for out in board.stream(frames):
            total = out if total is None else total + out
            steps += 1
            if out.any():
                click.echo(f"step {steps - 1}: output spikes {out.tolist()}")
    except KeyboardInterrupt:
        click.echo("stopped")
    click.echo(f"{steps} steps streamed; output spike counts {[] if total is None else total.tolist()}")


@click.command("deploy")
@click.argument("spec_path", metavar="SPEC")
@click.option("--device", "-d", type=click.Choice(DEVICES), default="board", show_default=True)
@click.option("--data", "data_path", metavar="DATA.npz", help="Clips to run: 'spikes' (N,T,C), optional 'labels'.")
@click.option("--realtime", is_flag=True, help="Board only: stream in real-time mode until the data ends or Ctrl-C.")
@click.option("--chip-check", is_flag=True, hidden=True, help="Kept for old scripts: the check is on by default.")
@click.option(
    "--imu-interface",
    "imu_interface",
    metavar="imu_interface.json",
    default=None,
    help="Xylo IMU, --realtime: the input-interface registers the network was trained with "
    "(written by the pipeline for `kind: imu` data).",
)
@no_check_option
def command(spec_path: str, device: str, data_path: str | None, realtime: bool, chip_check: bool,
            imu_interface: str | None, no_check: bool) -> None:  # fmt: skip
    """Load SPEC onto a device, run the clips of DATA and print predictions and output spike counts.

    The spec's design rules are checked first (always for a board; --no-check skips it on a simulator)."""
    if realtime and device != "board":
        raise click.UsageError("--realtime needs --device board")
    spec = load_checked_spec(spec_path, no_check and not chip_check and device != "board")
    spikes, labels = load_raster_npz(data_path, spec.n_inputs, spec.n_outputs) if data_path else (None, None)
    rule = ReadoutRule.from_spec(spec)  # a Vmem readout needs the readout state recorded
    registers = _imu_registers(imu_interface, spec, realtime, device)
    if device == "board":
        backend = open_board(get_chip(spec.chip).name)
        backend.imu_interface = registers
        backend.load(spec)
        click.echo(_board_line(backend, spec))
        try:
            if realtime:
                _stream(backend, spikes)
                return
            rec = backend.run(spikes, record=rule.needs_state) if spikes is not None else None
        finally:
            backend.close()
    else:
        backend = get_backend(device)
        backend.load(spec)
        click.echo(f"loaded on the {device} simulator ({spec.chip}, dt {spec.dt * 1e3:g} ms)")
        rec = backend.run(spikes, record=rule.needs_state) if spikes is not None else None
    _report(rec, labels, rule)


def _imu_registers(path: str | None, spec: XyloSpec, realtime: bool, device: str) -> dict | None:
    """The ``to_samna`` registers of an ``imu_interface.json`` (checked), for real time on a Xylo IMU board."""
    if path is None:
        return None
    if spec.chip != "xylo-imu" or device != "board" or not realtime:
        raise ConfigError(f"--imu-interface {path}: only for --device board --realtime on a xylo-imu spec")
    from xylodeploy.frontends.imu_config import read_interface

    return read_interface(path).to_samna()


def _report(rec: Recording | None, labels: np.ndarray | None, rule: ReadoutRule) -> None:
    if rec is None:
        click.echo("no --data given: nothing run")
        return
    for line in summary_lines(rec, labels, rule):
        click.echo(line)
