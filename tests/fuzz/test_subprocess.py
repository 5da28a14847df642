"""A few hostile cases through a real ``xylodeploy`` process: what the user sees on the terminal
(one ``error:`` line on stderr, exit code 2, no traceback) and no payload executed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz import _mutate as m

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", "import sys; from xylodeploy.cli import main; sys.exit(main())", *argv]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _bomb(p: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    p.write_text("\n".join(lines) + "\ntrain: {lr: *a8}\n")


CASES = {
    "pickle_payload": (lambda f: m.evil_torch_file(f.root / "evil.pt", f.root / "MARKER"),
                       lambda f: ["import", str(f.root / "evil.pt"), "--from", "snntorch", "-o", str(f.root / "g")]),
    "alias_bomb": (lambda f: _bomb(f.config), lambda f: ["train", str(f.config), "--out", str(f.root / "run")]),
    "npz_320GB_header": (lambda f: m.set_member(f.spec, "weights_in", m.npy_header_only("<f8", (10**10, 4))),
                         lambda f: ["inspect", str(f.spec)]),
    "output_is_input": (None, lambda f: ["export", str(f.spec), "--to", "onnx", "-o", str(f.spec)]),
    "py_syntax_error": (lambda f: f.modelpy.write_text("def net(:\n"),
                        lambda f: ["import", f"{f.modelpy}:net", "--from", "snntorch", "-o", str(f.root / "g.npz")]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_real_process(name: str, good_files, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.fuzz._fixtures import copy_to
    from tests.fuzz._harness import snapshot

    f = copy_to(good_files, tmp_path / "case")
    prep, argv = CASES[name]
    if prep is not None:
        prep(f)
    before = snapshot(f.root)
    res = _run(argv(f), f.root)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert not (f.root / "MARKER").exists()
    assert snapshot(f.root) == before
