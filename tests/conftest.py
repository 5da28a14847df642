"""Shared fixtures: the samna stand-in (tests/fakesamna) for the board-driver tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # makes `import fakesamna` work from every test dir


@pytest.fixture
def fake_samna():
    """Factory: ``fake_samna(["xylo-imu"])`` -> a samna-like module with those boards attached."""
    from fakesamna import make_samna

    return make_samna
