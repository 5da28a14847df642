"""Optional packages stay unimported; samna is classified from files, never imported by detection."""

from __future__ import annotations

import importlib.machinery
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xylodeploy.backends.samna.detect import SamnaUnavailableError, import_real_samna, samna_status
from xylodeploy.errors import MissingDependencyError

FORBIDDEN = ("samna", "rockpool", "nir", "torch")


def _run(code: str, pythonpath: Path | None = None) -> tuple[set[str], str]:
    """Run ``code`` in a fresh interpreter; return the forbidden modules it left in sys.modules, and its stdout."""
    probe = code + textwrap.dedent(f"""
        import sys, json
        print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(FORBIDDEN)!r}))))
    """)
    env = None
    if pythonpath is not None:
        import os

        env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    *printed, last = out.stdout.strip().splitlines()
    return set(json.loads(last)), "\n".join(printed)


HELP = "from xylodeploy.cli import main\ntry:\n    main(['--help'], prog_name='x')\nexcept SystemExit:\n    pass"


@pytest.mark.parametrize(
    "code",
    [
        "import xylodeploy",
        "import xylodeploy.cli",
        "import xylodeploy.drc, xylodeploy.io.rasters, xylodeploy.backends, xylodeploy.backends.samna.detect",
        # --help lists every command (importing each command module) and must stay light
        HELP,
    ],
    ids=["package", "cli", "light-modules", "help"],
)
def test_no_optional_imports(code: str) -> None:
    loaded, printed = _run(code)
    assert loaded == set()
    if code == HELP:
        assert "inspect" in printed and "simulate" in printed and "doctor" in printed


# --- samna detection with fake packages ------------------------------------------------------

STUB_INIT = """
PYPI_SAMNA = True  # a mark to indicate it's pypi samna
open({marker!r}, "w").write("imported")
def install_real_samna():
    raise SystemExit("the stub would pip install here")
install_real_samna()
"""


def _fake_samna(root: Path, marker: Path, *, real: bool, version: str = "0.48.6", init: str = STUB_INIT) -> Path:
    pkg = root / "samna"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(init.format(marker=str(marker)))
    files = ["samna/__init__.py"]
    if real:
        ext = "samna" + importlib.machinery.EXTENSION_SUFFIXES[0]
        (pkg / ext).write_bytes(b"\x7fELF not really")
        files.append(f"samna/{ext}")
    dist = root / f"samna-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: samna\nVersion: {version}\n")
    (dist / "RECORD").write_text("".join(f"{f},,\n" for f in files) + f"samna-{version}.dist-info/RECORD,,\n")
    return root


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch):
    def put(root: Path) -> None:
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.delitem(sys.modules, "samna", raising=False)

    yield put
    sys.modules.pop("samna", None)


def test_stub_detected_without_import(tmp_path: Path, on_path) -> None:
    marker = tmp_path / "marker"
    on_path(_fake_samna(tmp_path / "site", marker, real=False))
    status = samna_status()
    assert status.state == "stub" and status.version == "0.48.6" and "PYPI_SAMNA" in status.detail
    with pytest.raises(SamnaUnavailableError) as info:
        import_real_samna()
    assert isinstance(info.value, MissingDependencyError) and "SynSense" in str(info.value)
    assert "\n" not in str(info.value)
    assert not marker.exists() and "samna" not in sys.modules


def test_pure_python_without_marker_is_not_real(tmp_path: Path, on_path) -> None:
    marker = tmp_path / "marker"
    on_path(_fake_samna(tmp_path / "site", marker, real=False, init="open({marker!r}, 'w')\n"))
    assert samna_status().state == "stub"
    assert not marker.exists()


def test_real_detected_and_imported_only_on_request(tmp_path: Path, on_path) -> None:
    marker = tmp_path / "marker"
    on_path(_fake_samna(tmp_path / "site", marker, real=True, init="open({marker!r}, 'w').write('x')\nREAL = 1\n"))
    status = samna_status()
    assert status.state == "real" and status.version == "0.48.6"
    assert not marker.exists()
    module = import_real_samna()
    assert module.REAL == 1 and marker.exists()


def test_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    monkeypatch.delitem(sys.modules, "samna", raising=False)
    status = samna_status()
    assert (status.state, status.version) == ("missing", None)
    with pytest.raises(MissingDependencyError, match="missing"):
        import_real_samna()


def test_doctor_in_subprocess_never_imports_stub(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    site = _fake_samna(tmp_path / "site", marker, real=False)
    code = (
        "from xylodeploy.cli import main\n"
        "try:\n    main(['doctor', '--json'], prog_name='xylodeploy')\nexcept SystemExit:\n    pass\n"
    )
    loaded, printed = _run(code, pythonpath=site)
    assert loaded == set()
    samna = [row for row in json.loads(printed)["packages"] if row["package"] == "samna"]
    assert samna == [
        {"package": "samna", "version": "0.48.6", "status": "stub", "note": samna[0]["note"], "required": False}
    ]
    assert not marker.exists()
