"""Fixtures of the hostile-input suite: the good files (built once) and, as root, tiny read-only/full mounts."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest

from tests.fuzz import _cases, _fixtures


@pytest.fixture(scope="session")
def good_files(tmp_path_factory: pytest.TempPathFactory) -> _fixtures.Files:
    """The tiny config, checkpoint, spec, graph, raster, NIR and model file every case damages a copy of."""
    return _fixtures.build(tmp_path_factory.mktemp("good"))


def _mount(path: Path, opts: str) -> bool:
    path.mkdir(exist_ok=True)
    subprocess.run(["umount", str(path)], capture_output=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.fixture(scope="session")
def special_mounts() -> bool:
    """A read-only and a full 64 kB tmpfs at `_cases.RO_DIR` / `_cases.FULL_DIR` (needs root); False if not."""
    ok = _mount(_cases.RO_DIR, "ro,size=64k") and _mount(_cases.FULL_DIR, "size=64k")
    if ok:
        with open(_cases.FULL_DIR / "filler", "wb") as fh, contextlib.suppress(OSError):
            fh.write(b"\0" * 200_000)
    yield ok
    for path in (_cases.RO_DIR, _cases.FULL_DIR):
        subprocess.run(["umount", str(path)], capture_output=True)
