"""Sweep core clock and dt on an attached Xylo board; one JSON line per setting (skips without a board).

python scripts/measure_power.py SPEC.xylo DATA.npz --clock-mhz 50 25 12.5 6.25 --dt-ms 1 5 --out power_sweep
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from xylodeploy.backends.samna.backend import SamnaBackend
from xylodeploy.backends.samna.boards import board_report
from xylodeploy.errors import XylodeployError
from xylodeploy.io.rasters import load_raster_npz
from xylodeploy.ir import load_spec
from xylodeploy.power.measure import measure_power, save_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("spec")
    p.add_argument("data")
    p.add_argument("--clock-mhz", type=float, nargs="+", default=[50.0, 25.0, 12.5, 6.25])
    p.add_argument("--dt-ms", type=float, nargs="+", default=[1.0])
    p.add_argument("--realtime", action="store_true", help="measure in real-time mode (else accelerated)")
    p.add_argument("--idle-s", type=float, default=2.0)
    p.add_argument("--active-s", type=float, default=3.0)
    p.add_argument("--out", default="power_sweep")
    args = p.parse_args(argv)
    try:
        spec = load_spec(args.spec)
    except XylodeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = board_report()
    if not any(r["chip"] == spec.chip for r in report.rows):
        print(f"skipped: no {spec.chip} board (samna {report.samna_state}; {report.note})")
        return 0
    spikes, _ = load_raster_npz(args.data, spec.n_inputs)
    board = SamnaBackend(chip=spec.chip)
    try:
        for mhz in args.clock_mhz:
            actual = board.set_clock(mhz * 1e6)
            for dt_ms in args.dt_ms:
                board.load(spec.replace(dt=dt_ms * 1e-3))
                rep = measure_power(board, spikes, args.idle_s, args.active_s, realtime=args.realtime)
                save_report(rep, Path(args.out) / f"clk{actual / 1e6:g}MHz_dt{dt_ms:g}ms")
                line = {k: v for k, v in rep.to_dict().items() if k != "samples"}
                print(json.dumps(line, default=lambda o: None))
    except XylodeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        board.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
