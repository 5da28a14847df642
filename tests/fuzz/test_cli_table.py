"""Every case of the hostile table (`_cases`) through the CLI in-process: one-line error, exit 1/2, no
traceback, no changed input or earlier output, nothing executed (see `_harness` for the categories)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import _cases
from tests.fuzz._harness import run_case

CASES = _cases.all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case: _cases.Case, good_files, special_mounts, tmp_path) -> None:  # noqa: ANN001
    if ("/read_only" in case.name or "/full_disk" in case.name) and not special_mounts:
        pytest.skip("needs root to mount a read-only / full tmpfs")
    out = run_case(case, good_files, tmp_path, timeout=120)
    assert not out.problems, f"{out.problems} (exit {out.exit_code}):\n{out.output[-3000:]}"


def test_table_covers_every_command() -> None:
    from pathlib import Path

    from tests.fuzz._fixtures import Files
    from xylodeploy.cli import COMMANDS

    names = {c.argv(Files(Path("/nonexistent")))[0] for c in CASES}
    missing = set(COMMANDS) - names - {"doctor"}  # doctor takes no input file
    assert not missing, f"no hostile case for {sorted(missing)}"


COMMANDS = {**_cases.SPEC_CMDS, **{f"r-{k}": v for k, v in _cases.RASTER_CMDS.items()}, **_cases.GRAPH_CMDS,
            **{f"c-{k}": v for k, v in _cases.CKPT_CMDS.items()}}  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cmd=st.sampled_from(sorted(COMMANDS)),
    target=st.sampled_from(["spec", "raster", "graph", "ckpt", "nir"]),
    seed=st.integers(0, 2**32 - 1),
    flips=st.integers(1, 32),
    cut=st.floats(0.0, 1.0),
)
def test_random_damage_any_command(cmd, target, seed, flips, cut, good_files, tmp_path_factory) -> None:  # noqa: ANN001
    """Random bit flips / truncation of any input under any command: the file may stay valid (success is
    allowed), but never a traceback, a hang, a changed input or executed code."""
    from tests.fuzz import _mutate as m

    def prep(f) -> None:  # noqa: ANN001
        p = getattr(f, target)
        m.bitflip(p, seed, flips)
        if cut < 0.25:
            m.truncate(p, cut * 4)

    case = _cases.Case(f"random/{cmd}/{target}", COMMANDS[cmd], prep, "any")
    out = run_case(case, good_files, tmp_path_factory.mktemp("rnd"), timeout=120)
    assert not out.problems, f"{out.problems} (exit {out.exit_code}):\n{out.output[-3000:]}"
