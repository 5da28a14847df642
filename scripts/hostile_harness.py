"""Throw every case of tests/fuzz/_cases.py at the CLI and count the problems by category.

    python scripts/hostile_harness.py [--fast] [--filter SUBSTR] [--show N]

Mounts a read-only and a full 64 kB tmpfs when it runs as root (else those cases see a plain folder).
"""

from __future__ import annotations

import argparse
import collections
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: the case table lives in tests/fuzz

from tests.fuzz import (
    _cases,  # noqa: E402
    _fixtures,  # noqa: E402
)
from tests.fuzz._harness import CATEGORIES, run_case  # noqa: E402


def _mounts() -> None:
    for path, opts in ((_cases.RO_DIR, "ro,size=64k"), (_cases.FULL_DIR, "size=64k")):
        path.mkdir(exist_ok=True)
        subprocess.run(["umount", str(path)], capture_output=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True)
    filler = _cases.FULL_DIR / "filler"
    with open(filler, "wb") as fh, __import__("contextlib").suppress(OSError):
        fh.write(b"\0" * 200_000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fast", action="store_true", help="skip cases that train when they wrongly succeed")
    ap.add_argument("--filter", default="")
    ap.add_argument("--exclude", default="\0")
    ap.add_argument("--show", type=int, default=3, help="print the output of N failing cases per category")
    ap.add_argument("--timeout", type=int, default=60)
    args = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
    _mounts()
    work = Path(tempfile.mkdtemp(prefix="xylo_hostile_"))
    good = _fixtures.build(work / "good")
    cases = [c for c in _cases.all_cases(slow=not args.fast) if args.filter in c.name and args.exclude not in c.name]
    counts, shown = collections.Counter(), collections.Counter()
    t0 = time.time()
    for case in cases:
        out = run_case(case, good, work, args.timeout)
        for p in out.problems:
            counts[p] += 1
            print(f"[{p}] {case.name} (exit {out.exit_code})", flush=True)
            if shown[p] < args.show:
                shown[p] += 1
                print("    " + out.output.strip().replace("\n", "\n    ")[-1500:], flush=True)
        if not out.problems:
            counts["ok"] += 1
    print(f"\n{len(cases)} cases in {time.time() - t0:.0f} s")
    print(", ".join(f"{k}: {counts[k]}" for k in (*CATEGORIES, "ok")))


if __name__ == "__main__":
    main()
