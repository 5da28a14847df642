"""The pipeline runs without the optional xylosim and says so."""

from __future__ import annotations

import xylodeploy._optional as optional
from xylodeploy.flow.pipeline import SimulateSection, _available_backends


def test_missing_xylosim_is_skipped_with_a_note(monkeypatch) -> None:
    monkeypatch.setattr(optional, "is_available", lambda name: name != "xylosim")
    lines: list[str] = []
    assert _available_backends(SimulateSection(backends=["reference", "xylosim"]), lines.append) == ("reference",)
    assert len(lines) == 1 and "pip install 'xylodeploy[xylosim]'" in lines[0]


def test_installed_backends_are_kept(monkeypatch) -> None:
    monkeypatch.setattr(optional, "is_available", lambda name: True)
    lines: list[str] = []
    assert _available_backends(SimulateSection(backends=["reference", "xylosim"]), lines.append) == (
        "reference",
        "xylosim",
    )
    assert lines == []
