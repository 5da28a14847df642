"""Neither `import xylodeploy` nor `get_backend('samna')` may import a stub samna or start pip."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STUB = """
import pathlib
pathlib.Path({marker!r}).write_text("stub samna was imported")
PYPI_SAMNA = True
"""
SITECUSTOMIZE = """
import subprocess, os
_orig = subprocess.Popen.__init__
def _spy(self, args, *a, **k):
    if "pip" in str(args):
        open({marker!r}, "w").write(str(args))
    return _orig(self, args, *a, **k)
subprocess.Popen.__init__ = _spy
_system = os.system
os.system = lambda cmd: (open({marker!r}, "w").write(cmd) if "pip" in cmd else None) or _system(cmd)
"""
PROGRAM = """
import xylodeploy
from xylodeploy.backends import get_backend
from xylodeploy.errors import MissingDependencyError
try:
    get_backend("samna")
except MissingDependencyError as exc:
    print("REFUSED:", exc)
from xylodeploy.backends.samna.boards import board_report
print("REPORT:", board_report().samna_state, board_report().note)
import sys
print("LOADED:", "samna" in sys.modules)
"""


@pytest.mark.parametrize("with_stub", [True, False])
def test_no_stub_import_and_no_pip(tmp_path, with_stub):
    stub_marker, pip_marker = tmp_path / "stub_imported", tmp_path / "pip_started"
    if with_stub:
        (tmp_path / "samna").mkdir()
        (tmp_path / "samna" / "__init__.py").write_text(STUB.format(marker=str(stub_marker)))
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE.format(marker=str(pip_marker)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROGRAM)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert not stub_marker.exists()
    assert not pip_marker.exists()
    assert "LOADED: False" in out.stdout
    state = "stub" if with_stub else "missing"
    assert f"REFUSED: no usable samna ({state})" in out.stdout
    assert "install the real samna from SynSense" in out.stdout
    assert f"REPORT: {state} board discovery needs the real samna" in out.stdout
