"""First contact with a Xylo board: a numbered checklist that says, per step, what samna did.

    python -m hw_tests.first_contact                     # first board found
    python -m hw_tests.first_contact --chip xylo-imu     # a chip's board (--serial to pick one)

Steps: 1 discover, 2 firmware (open + start-up), 3 apply, 4 one clip without recording, 5 one clip
with recording, 6 readout timing offset, 7 power, 8 real time (sensor input; on IMU also host
frames; then back to accelerated time). Each step prints PASS, FAIL with samna's error, or SKIP
with the reason; a step whose prerequisite failed is skipped. Without samna or a board every step
is SKIPped and the exit code is 0; any FAIL gives exit code 1. docs/samna-driver.md says what each step checks and which
driver fact (Dialect field, register, sequence) to correct when it fails.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STEPS = ("discover", "firmware", "apply", "clip without recording", "clip with recording",
         "readout timing offset", "power", "real time")  # fmt: skip
REALTIME_STEPS = 40


@dataclass
class StepResult:
    number: int
    name: str
    status: str  # "PASS" | "FAIL" | "SKIP"
    detail: str = ""

    def line(self) -> str:
        return f"[{self.number}/{len(STEPS)}] {self.name:<24} {self.status}  {self.detail}"


@dataclass
class Context:
    """What the steps share: samna, the open backend, the test network."""

    samna: Any
    chip: str | None
    serial: str | None
    realtime: bool
    board: Any = None
    spec: Any = None
    notes: dict = field(default_factory=dict)


def checklist_spec(chip: str, n_h: int = 24) -> Any:
    """A small network using every parameter (both synapses where the chip has two), seed fixed."""
    root = str(Path(__file__).resolve().parents[1])  # the repo root, for tests.support when run as a script
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.support.samna_specs import random_spec

    return random_spec(chip, seed=15, n_h=n_h)


def _reference(spec: Any, raster: np.ndarray, record: bool) -> Any:
    from xylodeploy.backends import get_backend

    ref = get_backend("reference")
    ref.load(spec)
    return ref.run(raster, record=record)


class SkipStepError(Exception):
    """A step that cannot run here (no samna, no board): not a failure."""


def step_discover(ctx: Context) -> str:
    from xylodeploy.backends.samna.boards import find_boards
    from xylodeploy.backends.samna.detect import samna_status

    if ctx.samna is None:
        status = samna_status()
        if status.state != "real":
            raise SkipStepError(f"samna is {status.state}: {status.detail}")
        from xylodeploy.backends.samna.detect import import_real_samna

        ctx.samna = import_real_samna("the first-contact checklist")
    boards = [b for b in find_boards(ctx.samna, ctx.chip) if ctx.serial in (None, b.serial)]
    if not boards:
        raise SkipStepError(f"no {ctx.chip or 'Xylo'} board attached")
    ctx.chip, ctx.serial = boards[0].chip.name, boards[0].serial
    return "; ".join(f"{b.chip.title} {b.serial}" for b in boards)


def step_firmware(ctx: Context) -> str:
    from xylodeploy.backends.samna.backend import SamnaBackend

    ctx.board = SamnaBackend(samna=ctx.samna, chip=ctx.chip, serial=ctx.serial)
    return ctx.board.board.describe() + ", core started"


def step_apply(ctx: Context) -> str:
    ctx.spec = checklist_spec(ctx.chip)
    ctx.board.load(ctx.spec)
    return f"{ctx.spec.n_inputs}-{ctx.spec.n_hidden}-{ctx.spec.n_outputs} network validated and applied"


def _clip_check(ctx: Context, record: bool) -> str:
    from xylodeploy.backends.compare import compare_recordings

    raster = np.random.default_rng(7).integers(0, 4, (2, 60, ctx.spec.n_inputs))
    t0 = time.monotonic()
    dev = ctx.board.run(raster, record=record)
    took = time.monotonic() - t0
    agreement = compare_recordings(dev, _reference(ctx.spec, raster, record), record)
    if not agreement.equal:
        raise AssertionError(f"differs from the reference simulator: {agreement.first_divergence}")
    gaps = f", {len(ctx.board.missing_steps)} readouts skipped" if ctx.board.missing_steps else ""
    return f"2 clips x 60 steps bit-exact with the reference ({took:.2f} s{gaps})"


def step_offset(ctx: Context) -> str:
    """One input event at step 5: the step at which synaptic current first appears must match."""
    raster = np.zeros((1, 20, ctx.spec.n_inputs), np.int64)
    raster[0, 5, :] = 3
    dev, ref = ctx.board.run(raster, record=True), _reference(ctx.spec, raster, True)

    def first(rec: Any) -> int:
        hit = np.flatnonzero(np.abs(rec.isyn[0]).sum(axis=1))
        return int(hit[0]) if hit.size else -1

    offset = first(dev) - first(ref)
    if offset != 0 or first(ref) < 0:
        raise AssertionError(f"board responds at step {first(dev)}, reference at {first(ref)}: offset {offset} "
                             f"(correct Dialect.start_offset for {ctx.chip})")  # fmt: skip
    return "input at step 5 seen at step 5 (offset 0)"


def step_power(ctx: Context) -> str:
    ctx.board.power_start()
    time.sleep(1.5)
    samples = ctx.board.power_read()
    ctx.board.power_stop()
    rails = sorted({r for r, _w, _t in samples})
    want = sorted(ctx.board.chip.power_rails.values())
    if rails != want:
        raise AssertionError(f"samples for rails {rails}, expected {want}")
    mean = {r: np.mean([w for rr, w, _t in samples if rr == r]) for r in rails}
    return ", ".join(f"{r} {mean[r] * 1e6:.1f} uW" for r in rails) + f" ({len(samples)} samples)"


def step_realtime(ctx: Context) -> str:
    if not ctx.realtime:
        raise SkipStepError("--skip-realtime")
    t0 = time.monotonic()
    outs = list(itertools.islice(ctx.board.stream(), REALTIME_STEPS))
    took = time.monotonic() - t0
    if len(outs) != REALTIME_STEPS:
        raise AssertionError(f"{len(outs)} of {REALTIME_STEPS} real-time steps arrived")
    detail = f"{REALTIME_STEPS} steps from the on-board sensor in {took:.2f} s (dt {ctx.spec.dt * 1e3:g} ms)"
    if ctx.board.realtime_host_input:  # IMU: host frames, all scheduled ahead of the chip's clock
        frames = np.random.default_rng(8).integers(0, 3, (REALTIME_STEPS, ctx.spec.n_inputs))
        outs = np.array(list(ctx.board.stream(list(frames), lead_steps=REALTIME_STEPS + 10)))
        ref = _reference(ctx.spec, frames[None], False).spikes_out[0]
        if outs.shape != ref.shape or not np.array_equal(outs, ref):
            raise AssertionError(f"host frames in real time differ from the reference ({outs.shape} vs {ref.shape})")
        detail += f"; {REALTIME_STEPS} host frames bit-exact"
    return detail + "; " + _clip_check(ctx, record=False).replace("2 clips", "afterwards 2 clips")


STEP_FUNCS: tuple[Callable[[Context], str], ...] = (
    step_discover, step_firmware, step_apply, lambda c: _clip_check(c, False), lambda c: _clip_check(c, True),
    step_offset, step_power, step_realtime,
)  # fmt: skip
NEEDS = {1: (), 2: (1,), 3: (2,), 4: (3,), 5: (3,), 6: (5,), 7: (2,), 8: (3,)}


def run_checklist(
    chip: str | None = None, serial: str | None = None, samna: Any = None, realtime: bool = True,
    out: Callable[[str], None] = print,
) -> list[StepResult]:  # fmt: skip
    """Run every step in order, printing one line each; returns the results."""
    ctx = Context(samna, chip, serial, realtime)
    results: list[StepResult] = []
    try:
        for i, (name, func) in enumerate(zip(STEPS, STEP_FUNCS, strict=True), start=1):
            blocked = [n for n in NEEDS[i] if results[n - 1].status != "PASS"]
            if blocked:
                res = StepResult(i, name, "SKIP", f"needs step {blocked[0]} ({STEPS[blocked[0] - 1]})")
            else:
                res = _run_step(i, name, func, ctx)
            results.append(res)
            out(res.line())
    finally:
        if ctx.board is not None:
            ctx.board.close()
    return results


def _run_step(i: int, name: str, func: Callable[[Context], str], ctx: Context) -> StepResult:
    try:
        return StepResult(i, name, "PASS", func(ctx))
    except SkipStepError as exc:
        return StepResult(i, name, "SKIP", str(exc))
    except Exception as exc:  # noqa: BLE001 - report every failure with samna's words
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return StepResult(i, name, "FAIL", f"{type(exc).__name__}: {exc} [{Path(where.filename).name}:{where.lineno}]")


def main(argv: list[str] | None = None, samna: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw_tests.first_contact", description=__doc__.split("\n")[0])
    parser.add_argument("--chip", help="xylo-audio2 | xylo-imu | xylo-audio3 (default: first board found)")
    parser.add_argument("--serial", help="the board's serial number")
    parser.add_argument("--skip-realtime", action="store_true", help="leave out step 8")
    args = parser.parse_args(argv)
    results = run_checklist(args.chip, args.serial, samna, not args.skip_realtime)
    failed = [r for r in results if r.status == "FAIL"]
    print(f"{sum(r.status == 'PASS' for r in results)} passed, {len(failed)} failed, "
          f"{sum(r.status == 'SKIP' for r in results)} skipped")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
