"""Every case of the hostile table (`_cases`) through the CLI in-process: one-line error, exit 1/2, no
traceback, no changed input or earlier output, nothing executed (see `_harness` for the categories)."""

from __future__ import annotations

import _cases
import pytest
from _harness import run_case

CASES = _cases.all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case: _cases.Case, good_files, special_mounts, tmp_path) -> None:  # noqa: ANN001
    if ("/read_only" in case.name or "/full_disk" in case.name) and not special_mounts:
        pytest.skip("needs root to mount a read-only / full tmpfs")
    out = run_case(case, good_files, tmp_path, timeout=120)
    assert not out.problems, f"{out.problems} (exit {out.exit_code}):\n{out.output[-3000:]}"


def test_table_covers_every_command() -> None:
    from pathlib import Path

    from _fixtures import Files

    from xylodeploy.cli import COMMANDS

    names = {c.argv(Files(Path("/nonexistent")))[0] for c in CASES}
    missing = set(COMMANDS) - names - {"doctor"}  # doctor takes no input file
    assert not missing, f"no hostile case for {sorted(missing)}"
